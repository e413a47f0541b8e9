"""The asyncio client against a live orchlogd."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any, List

import pytest

import orchlog
import orchlog.aio
from orchlog._proto import orchlog_pb2 as pb

from .conftest import TEST_RETRY, OrchlogServer
from .test_resilience import FakeServer, _health_reply, _send


def test_aio_append_get_tree_and_errors(server: OrchlogServer) -> None:
    async def main() -> None:
        async with orchlog.aio.Client("127.0.0.1", server.port, retry=TEST_RETRY) as c:
            assert (await c.health()).serving
            root = (await c.append_log(content="root")).entry
            results = await c.append_logs(
                [
                    {"content": "a", "parent_exec_id": root.id},
                    {"content": "b", "parent_exec_id": root.id},
                ]
            )
            assert [r.created for r in results] == [True, True]
            assert await c.get_log(root.id) == root
            nodes = [(n.entry.content, n.depth) async for n in c.get_tree(root.id)]
            assert nodes == [("root", 0), ("a", 1), ("b", 1)]
            assert [e.content async for e in c.stream_children(root.id)] == ["a", "b"]
            with pytest.raises(orchlog.NotFound):
                await c.get_log(orchlog.uuid7())

    asyncio.run(main())


def test_aio_follow_and_cancel(server: OrchlogServer) -> None:
    async def main() -> None:
        async with orchlog.aio.Client("127.0.0.1", server.port, retry=TEST_RETRY) as c:
            root = (await c.append_log(content="root")).entry
            received: List[str] = []

            async def follow() -> None:
                async with c.stream_children(root.id, follow=True) as stream:
                    async for entry in stream:
                        received.append(entry.content)
                        if len(received) == 3:
                            return

            task = asyncio.create_task(follow())
            for i in range(3):
                await c.append_log(content=f"c{i}", parent_exec_id=root.id)
            await asyncio.wait_for(task, 10)
            assert received == ["c0", "c1", "c2"]

            # Cancelling a task blocked on the next entry closes its stream.
            stream = c.stream_children(root.id, after_seq=10**6, follow=True)
            blocked = asyncio.create_task(stream.__anext__())
            await asyncio.sleep(0.2)
            blocked.cancel()
            with pytest.raises(asyncio.CancelledError):
                await blocked
            assert stream._stream.closed
            assert (await c.health()).serving

    asyncio.run(main())


def test_aio_cancelled_unary_call_is_cancelled_on_the_server() -> None:
    """Cancelling the task awaiting a unary call (Task.cancel, or wait_for's timeout) sends
    `cancel` for its id, drops it from the connection's table and raises CancelledError; the
    call is not retried (even with CANCELLED retryable) and the connection stays usable."""
    cancelled: List[int] = []

    def script(conn: socket.socket, read_frame: Any) -> None:
        for method in ("GetLog", "AppendLog"):
            start = read_frame()  # never answered
            assert start.start.method == f"/orchlog.v1.OrchestrationLog/{method}"
            cancel = read_frame()
            assert cancel.WhichOneof("kind") == "cancel" and cancel.call_id == start.call_id
            cancelled.append(cancel.call_id)
            end = pb.Frame(call_id=start.call_id)  # what orchlogd answers; ignored by then
            end.end.code = pb.CANCELLED
            end.end.message = "cancelled by the client"
            _send(conn, end)
        start = read_frame()  # the next call, not a retry of a cancelled one
        assert start.start.method == "/orchlog.v1.OrchestrationLog/Health"
        _health_reply(conn, start.call_id)
        time.sleep(0.2)

    retry = orchlog.RetryPolicy(
        max_attempts=5,
        initial_backoff=0.01,
        max_backoff=0.01,
        retryable_codes=frozenset({orchlog.StatusCode.UNAVAILABLE, orchlog.StatusCode.CANCELLED}),
    )
    fake = FakeServer(script)

    async def open_calls(c: orchlog.aio.Client) -> int:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            conn = c.sync._conn
            if conn is not None and conn._calls:
                return len(conn._calls)
            await asyncio.sleep(0.01)
        return 0

    async def main() -> None:
        async with orchlog.aio.Client("127.0.0.1", fake.port, retry=retry, timeout=30.0) as c:
            task = asyncio.create_task(c.get_log(orchlog.uuid7()))
            assert await open_calls(c) == 1
            conn = c.sync._conn
            assert conn is not None
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert conn._calls == {}

            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(c.append_log(content="x"), 0.5)
            assert conn._calls == {}

            assert (await c.health()).version == "fake"
            assert c.sync._conn is conn and not conn.closed
            assert c.sync._scopes == set()

    asyncio.run(main())
    fake.close()
    assert fake.error is None
    assert cancelled == [1, 2]
