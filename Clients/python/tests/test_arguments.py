"""Arguments are checked at the API boundary, before any network call.

The offline clients below fail the test if they ever try to connect, so each error must come
from the client itself: TypeError for a wrong type, ValueError for a value no request can carry,
both naming the argument (or the batch field, ``entries[i].name``).
"""

from __future__ import annotations

import asyncio
import math
import uuid
from typing import Any, Dict, Iterator, Optional

import pytest

import orchlog
import orchlog.aio
from orchlog import LogEntry, uuid7

from .conftest import OrchlogServer


def _no_network(deadline: Optional[float]) -> Any:
    raise AssertionError("the client tried to connect: the argument was not checked locally")


@pytest.fixture
def offline() -> Iterator[orchlog.Client]:
    with orchlog.Client("127.0.0.1", 9, retry=None) as c:
        c._connection = _no_network  # type: ignore[method-assign]
        yield c


def _offline_aio() -> orchlog.aio.Client:
    c = orchlog.aio.Client("127.0.0.1", 9, retry=None)
    c.sync._connection = _no_network  # type: ignore[method-assign]
    return c


# -- stream_children(limit=...) and the other stream bounds -----------------------------------


@pytest.mark.parametrize("limit", [-1, -(2**40)])
def test_negative_limit_is_refused(offline: orchlog.Client, limit: int) -> None:
    with pytest.raises(ValueError, match=r"^limit must be >= 0 \(0 means no limit\)"):
        offline.stream_children(limit=limit)  # raised by the call, not by iterating


def test_stream_bounds_are_checked_when_called(offline: orchlog.Client) -> None:
    with pytest.raises(ValueError, match=r"^limit must be <= 4294967295"):
        offline.stream_children(limit=2**32)
    with pytest.raises(ValueError, match=r"^after_seq must be >= 0"):
        offline.stream_children(after_seq=-1)
    with pytest.raises(ValueError, match=r"^after_seq must be <= "):
        offline.stream_children(after_seq=2**64)
    with pytest.raises(ValueError, match=r"^max_depth must be >= 0 \(0 means unbounded\)"):
        offline.get_tree(uuid7(), max_depth=-1)
    with pytest.raises(ValueError, match=r"^max_depth must be <= 4294967295"):
        offline.get_tree(uuid7(), max_depth=2**32)


def test_limit_zero_means_no_limit(client: orchlog.Client) -> None:
    root = client.append_log(content="root").entry
    client.append_logs([{"content": str(i), "parent_exec_id": root.id} for i in range(5)])
    assert len(list(client.stream_children(root.id, limit=0))) == 5
    assert [e.content for e in client.stream_children(root.id, limit=2)] == ["0", "1"]


# -- elaboration: strict JSON ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [{"a": float("nan")}, [math.inf], {"nested": {"x": -math.inf}}, float("nan")]
)
def test_nan_and_infinity_in_elaboration_fail_locally(offline: orchlog.Client, value: Any) -> None:
    with pytest.raises(ValueError, match=r"^elaboration cannot be encoded as JSON") as info:
        offline.append_log(content="x", elaboration=value)
    assert "NaN and infinity" in str(info.value)


def test_nan_in_a_batch_names_the_entry(offline: orchlog.Client) -> None:
    with pytest.raises(ValueError, match=r"^entries\[1\]\.elaboration cannot be encoded as JSON"):
        offline.append_logs([{"content": "ok"}, {"content": "x", "elaboration": {"v": math.nan}}])
    with pytest.raises(ValueError, match=r"^entries\[0\]\.elaboration"):
        offline.append_logs([LogEntry(content="x", elaboration=[math.inf])])  # type: ignore[arg-type]


def test_unserialisable_elaboration_is_a_type_error_naming_it(offline: orchlog.Client) -> None:
    with pytest.raises(TypeError, match=r"^elaboration is not JSON-serialisable"):
        offline.append_log(content="x", elaboration={1, 2})  # type: ignore[arg-type]


def test_finite_elaboration_is_sent_as_compact_json(client: orchlog.Client) -> None:
    entry = client.append_log(content="x", elaboration={"a": 1.5, "b": [None, True]}).entry
    assert entry.elaboration == '{"a":1.5,"b":[null,true]}'


# -- argument types ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"content": 5}, "^content must be a str, got int$"),
        ({"content": b"abc"}, "^content must be a str, got bytes$"),
        ({"content": "x", "category": 1}, "^category must be a str, got int$"),
        (
            {"content": "x", "orchestration_session_log_id": 7},
            "^orchestration_session_log_id must be a str or uuid.UUID, got int$",
        ),
        ({"content": "x", "parent_exec_id": b"id"}, "^parent_exec_id must be a str or uuid"),
        ({"content": "x", "sibling_order": 1.5}, "^sibling_order must be an int, got float$"),
        ({"content": "x", "sibling_order": "1"}, "^sibling_order must be an int, got str$"),
        ({"content": "x", "sibling_order": True}, "^sibling_order must be an int, got bool$"),
    ],
)
def test_append_log_argument_types(
    offline: orchlog.Client, kwargs: Dict[str, Any], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        offline.append_log(**kwargs)


def test_append_log_argument_values(offline: orchlog.Client) -> None:
    for order in (2**63, -(2**63) - 1):
        with pytest.raises(ValueError, match=r"^sibling_order must be "):
            offline.append_log(content="x", sibling_order=order)
    with pytest.raises(ValueError, match=r"^content is not valid Unicode text"):
        offline.append_log(content="a\udcffb")


def test_append_logs_argument_types(offline: orchlog.Client) -> None:
    with pytest.raises(TypeError, match=r"^entries\[1\]\.content must be a str, got int$"):
        offline.append_logs([{"content": "ok"}, {"content": 5}])
    with pytest.raises(TypeError, match=r"^entries\[0\]\.sibling_order must be an int"):
        offline.append_logs([LogEntry(content="x", sibling_order=2.0)])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^entries\[0\]: expected LogEntry or a mapping"):
        offline.append_logs(["x"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"^entries must be an iterable"):
        offline.append_logs({"content": "x"})  # type: ignore[dict-item]


def test_read_argument_types(offline: orchlog.Client) -> None:
    with pytest.raises(TypeError, match=r"^orchestration_session_log_id must be a str or uuid"):
        offline.get_log(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^root must be a str or uuid.UUID, got int$"):
        offline.get_tree(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^max_depth must be an int, got str$"):
        offline.get_tree(uuid7(), max_depth="2")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^parent must be a str or uuid.UUID, got int$"):
        offline.stream_children(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^after_seq must be an int, got float$"):
        offline.stream_children(after_seq=1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^follow must be a bool, got str$"):
        offline.stream_children(follow="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^limit must be an int, got NoneType$"):
        offline.stream_children(limit=None)  # type: ignore[arg-type]


def test_uuid_objects_are_accepted_as_ids(client: orchlog.Client) -> None:
    root_id = uuid.UUID(uuid7())
    root = client.append_log(content="root", orchestration_session_log_id=root_id).entry
    assert root.id == str(root_id)
    child = client.append_log(content="child", parent_exec_id=root_id).entry
    assert child.parent_exec_id == str(root_id)
    batch = client.append_logs(
        [{"id": uuid.UUID(uuid7()), "content": "b", "parent_exec_id": root_id}]
    )
    assert batch[0].entry.parent_exec_id == str(root_id)
    assert client.get_log(root_id) == root
    assert [e.content for e in client.stream_children(root_id)] == ["child", "b"]
    assert [n.entry.content for n in client.get_tree(root_id)] == ["root", "child", "b"]


# -- the asyncio client ----------------------------------------------------------------------------


def test_aio_checks_arguments_before_any_network_call() -> None:
    async def main() -> None:
        async with _offline_aio() as c:
            with pytest.raises(ValueError, match=r"^limit must be >= 0"):
                c.stream_children(limit=-1)
            with pytest.raises(ValueError, match=r"^max_depth must be >= 0"):
                c.get_tree(uuid7(), max_depth=-1)
            with pytest.raises(ValueError, match=r"^elaboration cannot be encoded as JSON"):
                await c.append_log(content="x", elaboration={"a": float("nan")})
            with pytest.raises(ValueError, match=r"^entries\[0\]\.elaboration"):
                await c.append_logs([{"content": "x", "elaboration": [math.inf]}])
            with pytest.raises(TypeError, match=r"^content must be a str, got int$"):
                await c.append_log(content=5)  # type: ignore[arg-type]
            with pytest.raises(TypeError, match=r"^entries must be an iterable"):
                await c.append_logs({"content": "x"})  # type: ignore[dict-item]
            with pytest.raises(TypeError, match=r"^orchestration_session_log_id must be"):
                await c.get_log(5)  # type: ignore[arg-type]

    asyncio.run(main())


def test_aio_accepts_uuid_objects_and_limit_zero(server: OrchlogServer) -> None:
    async def main() -> None:
        async with orchlog.aio.Client("127.0.0.1", server.port) as c:
            root_id = uuid.UUID(uuid7())
            await c.append_log(content="root", orchestration_session_log_id=root_id)
            await c.append_log(content="child", parent_exec_id=root_id)
            assert (await c.get_log(root_id)).content == "root"
            async with c.stream_children(root_id, limit=0) as children:
                assert [e.content async for e in children] == ["child"]

    asyncio.run(main())
