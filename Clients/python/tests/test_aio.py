"""The asyncio client against a live orchlogd."""

from __future__ import annotations

import asyncio
from typing import List

import pytest

import orchlog
import orchlog.aio

from .conftest import TEST_RETRY, OrchlogServer


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
