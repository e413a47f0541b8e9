"""asyncio variant of :class:`orchlog.Client`: the same methods, as coroutines.

It drives the blocking client from a private thread pool, so it shares its connection handling,
retries and flow control. Each unary call in flight, and each stream waiting for its next entry,
occupies one worker thread (``max_workers``). Cancelling the task that awaits a call cancels the
call on the server and stops its retries; the task sees :class:`asyncio.CancelledError`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
from typing import Any, Callable, Generic, Iterable, List, Mapping, Optional, TypeVar, Union

from . import client as _sync
from ._connection import CancelScope
from .models import AppendResult, Health, IdArg, LogEntry, TreeNode
from .retry import RetryPolicy

__all__ = ["AsyncLogStream", "Client"]

T = TypeVar("T")
_DONE = object()


class AsyncLogStream(Generic[T]):
    """An async iterator over a server stream; ``aclose()`` or leaving ``async with`` cancels it.

    A task cancelled while awaiting the next entry closes the stream.
    """

    def __init__(self, stream: _sync.LogStream[T], client: Client) -> None:
        self._stream = stream
        self._client = client

    def __aiter__(self) -> AsyncLogStream[T]:
        return self

    async def __anext__(self) -> T:
        try:
            item = await self._client._run(next, self._stream, _DONE)
        except asyncio.CancelledError:
            self._stream.close()  # wakes the worker thread
            raise
        if item is _DONE:
            raise StopAsyncIteration
        return item  # type: ignore[no-any-return]

    @property
    def last_seq(self) -> Optional[int]:
        """The ``seq`` of the last entry yielded (StreamChildren)."""
        return self._stream.last_seq

    async def aclose(self) -> None:
        """Stop the stream and cancel its call."""
        self._stream.close()

    async def __aenter__(self) -> AsyncLogStream[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._stream.close()


class Client:
    """asyncio client; see :class:`orchlog.Client` for the arguments and methods.

    Args:
        max_workers: threads of the private pool (calls in flight plus streams waiting).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 7700,
        *,
        timeout: Optional[float] = 10.0,
        retry: Optional[RetryPolicy] = _sync.DEFAULT_RETRY,
        connect_timeout: Optional[float] = None,
        client_name: str = "orchlog-python-aio",
        auth_token: Optional[str] = None,
        stream_window: int = 128,
        max_workers: int = 32,
    ) -> None:
        self.sync = _sync.Client(
            host,
            port,
            timeout=timeout,
            retry=retry,
            connect_timeout=connect_timeout,
            client_name=client_name,
            auth_token=auth_token,
            stream_window=stream_window,
        )
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="orchlog-aio"
        )

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a unary call of the blocking client; cancelling the awaiting task cancels it.

        The worker thread cannot be interrupted, so a cancellation goes through a
        :class:`CancelScope` that the blocking client finds in the context it runs in: it sends
        ``cancel`` for the call in flight, drops it from the connection's table, wakes the
        worker and stops the retries. The CancelledError itself is re-raised.
        """
        scope = CancelScope()
        context = contextvars.copy_context()  # like asyncio.to_thread; private to this call
        context.run(_sync._cancel_scope.set, scope)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(
            self._pool, functools.partial(context.run, fn, *args, **kwargs)
        )
        try:
            return await future
        except asyncio.CancelledError:
            scope.cancel()
            raise

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the connection now (with retries)."""
        await self._call(self.sync.connect)

    async def close(self) -> None:
        """Close the connection; calls and streams still running fail with Cancelled."""
        self.sync.close()
        self._pool.shutdown(wait=False)

    async def append_log(
        self,
        content: str,
        *,
        orchestration_session_log_id: Optional[IdArg] = None,
        category: Optional[str] = None,
        parent_exec_id: Optional[IdArg] = None,
        sibling_order: Optional[int] = None,
        elaboration: Union[str, Mapping[str, Any], List[Any], None] = None,
    ) -> AppendResult:
        """See :meth:`orchlog.Client.append_log` (the same checks, TypeError and ValueError)."""
        return await self._call(
            self.sync.append_log,
            content,
            orchestration_session_log_id=orchestration_session_log_id,
            category=category,
            parent_exec_id=parent_exec_id,
            sibling_order=sibling_order,
            elaboration=elaboration,
        )

    async def append_logs(
        self, entries: Iterable[Union[LogEntry, Mapping[str, Any]]]
    ) -> List[AppendResult]:
        """See :meth:`orchlog.Client.append_logs` (the same checks, TypeError and ValueError)."""
        if not isinstance(entries, (str, bytes, Mapping, LogEntry)):  # refused by append_logs
            entries = list(entries)  # iterated here, not in a worker thread
        return await self._call(self.sync.append_logs, entries)

    async def get_log(self, orchestration_session_log_id: IdArg) -> LogEntry:
        """See :meth:`orchlog.Client.get_log`."""
        return await self._call(self.sync.get_log, orchestration_session_log_id)

    async def health(self) -> Health:
        """See :meth:`orchlog.Client.health`."""
        return await self._call(self.sync.health)

    def stream_children(
        self,
        parent: Optional[IdArg] = None,
        after_seq: int = 0,
        follow: bool = False,
        limit: int = 0,
    ) -> AsyncLogStream[LogEntry]:
        """See :meth:`orchlog.Client.stream_children`; returns an async iterator.

        Raises:
            TypeError, ValueError: invalid arguments, raised by this call (not by iterating).
        """
        return AsyncLogStream(self.sync.stream_children(parent, after_seq, follow, limit), self)

    def get_tree(self, root: IdArg, max_depth: int = 0) -> AsyncLogStream[TreeNode]:
        """See :meth:`orchlog.Client.get_tree`; returns an async iterator.

        Raises:
            TypeError, ValueError: invalid arguments, raised by this call (not by iterating).
        """
        return AsyncLogStream(self.sync.get_tree(root, max_depth), self)
