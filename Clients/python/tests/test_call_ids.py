"""Call ids never wrap around: after id 2^32 - 1 new calls go to a new connection, while the
calls still open on the old one finish there (PROTOCOL.md section 4)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any, Dict, Iterator, List, Tuple

import pytest

import orchlog
import orchlog.aio
from orchlog._connection import Connection

from .conftest import OrchlogServer
from .test_resilience import FakeServer, _health_reply

MAX_CALL_ID = 2**32 - 1  # the largest uint32 call id


class Spy:
    """Records the call id of every call started, per connection, and every handshake."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.starts: List[Tuple[Connection, int]] = []
        self.hellos = 0

    def ids(self) -> Dict[int, List[int]]:
        """The call ids started on each connection (keyed by its index), in order."""
        conns: List[Connection] = []
        result: Dict[int, List[int]] = {}
        for conn, call_id in self.starts:
            if conn not in conns:
                conns.append(conn)
            result.setdefault(conns.index(conn), []).append(call_id)
        return result


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spy]:
    spy = Spy()
    start_call = Connection.start_call
    handshake = Connection._handshake

    def spying_start_call(self: Connection, *args: Any, **kwargs: Any) -> Any:
        call = start_call(self, *args, **kwargs)
        with spy.lock:
            spy.starts.append((self, call.call_id))
        return call

    def spying_handshake(self: Connection, *args: Any, **kwargs: Any) -> Any:
        with spy.lock:
            spy.hellos += 1
        return handshake(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "start_call", spying_start_call)
    monkeypatch.setattr(Connection, "_handshake", spying_handshake)
    yield spy


def _wait_closed(conn: Connection, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not conn.closed and time.monotonic() < deadline:
        time.sleep(0.01)
    return conn.closed


def test_last_call_id_moves_new_calls_to_a_new_connection() -> None:
    """Three calls use the last ids, the next three go to a second connection (a second hello)
    starting at 1; the first connection is closed once its last call has ended."""
    seen: List[List[int]] = []

    def answer_until_eof(conn: socket.socket, read_frame: Any) -> None:
        ids: List[int] = []
        seen.append(ids)
        while True:
            try:
                frame = read_frame()
            except (EOFError, ConnectionResetError):
                return  # the client closed this connection
            if frame.WhichOneof("kind") == "start":
                ids.append(frame.call_id)
                _health_reply(conn, frame.call_id)

    # The fake accepts its second connection only after the first one has ended, so the
    # client's second handshake completes only if it closed the first connection itself.
    fake = FakeServer(answer_until_eof, answer_until_eof)
    with orchlog.Client("127.0.0.1", fake.port, retry=None, timeout=5.0) as c:
        c.connect()
        first = c._conn
        assert first is not None
        first._next_call_id = MAX_CALL_ID - 2
        for _ in range(6):
            assert c.health().version == "fake"
        assert c._conn is not first
        assert _wait_closed(first) and first._calls == {}
    fake.close()
    assert fake.error is None
    assert seen == [[MAX_CALL_ID - 2, MAX_CALL_ID - 1, MAX_CALL_ID], [1, 2, 3]]


def test_stream_keeps_running_on_the_old_connection_across_the_last_call_id(
    server: OrchlogServer, spy: Spy
) -> None:
    """A follow stream holding call id 1 stays open while the ids run out: the calls after
    2^32 - 1 go to a new connection instead of reusing id 1, and the old connection is closed
    when the stream ends."""
    with orchlog.Client("127.0.0.1", server.port, retry=None) as writer:
        root = writer.append_log(content="root").entry
    with orchlog.Client("127.0.0.1", server.port, retry=None) as c:
        stream = c.stream_children(follow=True)  # the first call: id 1
        assert next(stream).content == "root"
        old = c._conn
        call = stream._state.call
        assert old is not None and call is not None and call.call_id == 1
        old._next_call_id = MAX_CALL_ID - 1
        for i in range(5):
            entry = c.append_log(content=f"r{i}").entry
            assert next(stream) == entry  # the same call keeps streaming
            assert stream._state.call is call
        assert c._conn is not old and c.get_log(root.id) == root
        assert not old.closed and list(old._calls) == [1]  # only the stream is left there
        stream.close()
        assert _wait_closed(old)
        assert c.health().entry_count == 6
    ids = spy.ids()
    assert ids[0] == [1]  # the writer's
    assert ids[1] == [1, MAX_CALL_ID - 1, MAX_CALL_ID]  # c's first connection
    assert ids[2] == [1, 2, 3, 4, 5]
    assert spy.hellos == 3  # the writer, c's first connection and its second one
    for call_ids in ids.values():
        assert 0 not in call_ids and len(set(call_ids)) == len(call_ids)


def test_aio_concurrent_calls_across_the_last_call_id(server: OrchlogServer, spy: Spy) -> None:
    """Concurrent asyncio calls racing for the last ids all succeed: whichever finds the ids
    used up moves to the new connection."""

    async def main() -> None:
        async with orchlog.aio.Client("127.0.0.1", server.port, retry=None) as c:
            await c.connect()
            first = c.sync._conn
            assert first is not None
            first._next_call_id = MAX_CALL_ID - 3
            results = await asyncio.gather(*(c.append_log(content=f"a{i}") for i in range(12)))
            assert all(r.created for r in results)
            assert (await c.health()).entry_count == 12
            assert await c.get_log(results[0].entry.id) == results[0].entry
            assert c.sync._conn is not first
            assert await asyncio.get_running_loop().run_in_executor(None, _wait_closed, first)

    asyncio.run(main())
    ids = spy.ids()
    assert sorted(ids) == [0, 1] and spy.hellos == 2
    assert sorted(ids[0]) == list(range(MAX_CALL_ID - 3, MAX_CALL_ID + 1))
    assert sorted(ids[1]) == list(range(1, 11))  # the other 8 appends, health, get_log
    for call_ids in ids.values():
        assert 0 not in call_ids and len(set(call_ids)) == len(call_ids)
