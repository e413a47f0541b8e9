"""The blocking orchlog client."""

from __future__ import annotations

import logging
import threading
import time
from contextvars import ContextVar
from typing import (
    Any,
    Callable,
    Generator,
    Generic,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Set,
    Type,
    TypeVar,
    Union,
)

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from ._connection import Call, CancelScope, Connection
from ._proto import orchlog_pb2 as pb
from ._wire import uuid7
from .errors import Cancelled, Internal, OrchLogError, TransportError
from .models import (
    UINT32_MAX,
    UINT64_MAX,
    AppendResult,
    Health,
    IdArg,
    LogEntry,
    TreeNode,
    _arg_bool,
    _arg_id,
    _arg_int,
)
from .retry import RetryPolicy

__all__ = ["DEFAULT_RETRY", "Client", "LogStream"]

log = logging.getLogger("orchlog")

T = TypeVar("T")
M = TypeVar("M", bound=Message)

#: The policy a :class:`Client` uses unless given another one.
DEFAULT_RETRY = RetryPolicy()

# The scope that can cancel the unary call (and its retries) running in this context. The asyncio
# client sets it in the context it runs each call in, and cancels it when its task is cancelled.
_cancel_scope: ContextVar[Optional[CancelScope]] = ContextVar("orchlog_cancel_scope", default=None)


def _check_text(message: Message, path: str) -> None:
    """Raise ValueError for a string field (nested ones included) that is not valid UTF-8."""
    for field, value in message.ListFields():
        repeated = (
            field.is_repeated  # protobuf >= 5.29; `label` is gone in 7
            if hasattr(field, "is_repeated")
            else field.label == FieldDescriptor.LABEL_REPEATED
        )
        for i, item in enumerate(value if repeated else [value]):
            name = f"{path}.{field.name}[{i}]" if repeated else f"{path}.{field.name}"
            if field.type == FieldDescriptor.TYPE_STRING and not isinstance(item, str):
                raise ValueError(f"{name} is not valid UTF-8")
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                _check_text(item, name)


def _parse(cls: Type[M], payload: bytes, method: str) -> M:
    """Decode a response payload; anything undecodable is the client's own :class:`Internal`.

    proto2 string fields with invalid UTF-8 fail to decode (pure Python) or come back as bytes
    (upb, cpp): both are rejected, so no field of a returned value is ever bytes.
    """
    try:
        message = cls.FromString(payload)
        _check_text(message, cls.DESCRIPTOR.name)
    except Exception as exc:  # DecodeError, UnicodeDecodeError, ValueError
        raise Internal(
            f"{method}: the server's response is not a valid {cls.DESCRIPTOR.full_name}: {exc}"
        ) from exc
    return message


class LogStream(Generic[T]):
    """An iterator over a server stream (:meth:`Client.stream_children`, :meth:`Client.get_tree`).

    Closing it (:meth:`close`, leaving a ``with`` block, or garbage collection) cancels the
    call; :meth:`close` may be called from another thread while one is blocked in ``next()``,
    which then stops the iteration. Messages are requested with request-n credit as they are
    consumed, so a slow consumer holds at most ``stream_window`` undelivered messages in memory.
    """

    def __init__(self, generator: Generator[T, None, None], state: _StreamState) -> None:
        self._gen = generator
        self._state = state

    def __iter__(self) -> LogStream[T]:
        return self

    def __next__(self) -> T:
        return next(self._gen)

    @property
    def last_seq(self) -> Optional[int]:
        """The ``seq`` of the last entry yielded (or ``after_seq``); None for GetTree."""
        return self._state.last_seq

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._state.closed.is_set()

    def close(self) -> None:
        """Stop the stream and cancel its call. Idempotent and thread-safe."""
        state = self._state
        state.closed.set()
        call = state.call
        if call is not None:
            call.cancel()  # wakes a consumer blocked in next() of another thread
        try:
            self._gen.close()
        except ValueError:
            pass  # running in another thread, which stops on its own now

    def __enter__(self) -> LogStream[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


class _StreamState:
    """Shared between a LogStream and its generator."""

    def __init__(self, last_seq: Optional[int]) -> None:
        self.last_seq = last_seq
        self.closed = threading.Event()
        self.call: Optional[Call] = None


class _StreamCall:
    """One attempt of a streaming call, with request-n credit."""

    def __init__(self, call: Call, window: int, state: _StreamState) -> None:
        self.call = call
        self.window = window
        self.state = state
        self._unacked = 0

    def __enter__(self) -> _StreamCall:
        self.state.call = self.call
        if self.state.closed.is_set():
            self.call.cancel()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.state.call = None
        self.call.cancel()  # no-op once the call has ended

    def __iter__(self) -> Iterator[bytes]:
        while True:
            payload = self.call.next_message()
            if payload is None:
                return
            # Re-grant credit in batches of half the window as messages leave the queue, so
            # at most `window` messages are ever queued for this call.
            self._unacked += 1
            if self._unacked >= max(1, self.window // 2):
                self.call.credit(self._unacked)
                self._unacked = 0
            yield payload


def _unprocessed(error: OrchLogError) -> bool:
    """True when the server certainly never saw the call (PROTOCOL.md section 3.4)."""
    return isinstance(error, TransportError) and error.processed is False


class Client:
    """A client of one orchlogd server over one multiplexed connection.

    The connection is opened on first use (or by :meth:`connect`) and reopened after it is lost.
    Methods may be called from several threads at once; their calls share the connection.
    Use it as a context manager, or call :meth:`close`::

        with orchlog.Client("127.0.0.1", 7700) as client:
            root = client.append_log(content="build", category="step").entry

    Args:
        host: the server's host name or address.
        port: the server's port.
        timeout: the deadline in seconds of each unary call, covering all its attempts and
            reconnects (sent to the server as ``timeout_ms``); None for no deadline. Streams have
            no deadline.
        retry: the retry policy; None disables retries.
        connect_timeout: seconds allowed to connect and complete the handshake (default:
            ``timeout``, or 10 s when ``timeout`` is None).
        client_name: sent in ``hello`` (informational).
        auth_token: sent in ``hello``; required when the server runs with ``--auth-token-file``
            (a wrong or missing one raises :class:`Unauthenticated`).
        stream_window: request-n credit of a stream: messages the server may send ahead of the
            consumer (>= 1).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 7700,
        *,
        timeout: Optional[float] = 10.0,
        retry: Optional[RetryPolicy] = DEFAULT_RETRY,
        connect_timeout: Optional[float] = None,
        client_name: str = "orchlog-python",
        auth_token: Optional[str] = None,
        stream_window: int = 128,
    ) -> None:
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be > 0 or None, got {timeout}")
        if stream_window < 1:
            raise ValueError(f"stream_window must be >= 1, got {stream_window}")
        self.host = host
        self.port = port
        self.timeout = timeout
        self.retry = retry if retry is not None else RetryPolicy(max_attempts=1)
        self.connect_timeout = connect_timeout if connect_timeout is not None else (timeout or 10.0)
        self.client_name = client_name
        self.auth_token = auth_token
        self.stream_window = stream_window
        self._lock = threading.Lock()
        self._conn: Optional[Connection] = None
        self._old: List[Connection] = []  # draining connections that still finish calls
        self._closed = False
        self._closing = threading.Event()  # interrupts backoff sleeps on close()
        self._scopes: Set[CancelScope] = set()  # of running calls, cancelled by close()

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"orchlog.Client({self.host!r}, {self.port})"

    def connect(self) -> None:
        """Open the connection now instead of on first use (with retries).

        Raises:
            OrchLogError: the connection could not be established.
        """
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        self._run(lambda conn, _deadline: None, deadline, _cancel_scope.get())

    def close(self) -> None:
        """Close the connection. Calls still running fail with :class:`Cancelled`."""
        self._closing.set()
        with self._lock:
            self._closed = True
            conns = ([self._conn] if self._conn is not None else []) + self._old
            self._conn = None
            self._old = []
            scopes, self._scopes = self._scopes, set()
        for conn in conns:
            conn.close()
        for scope in scopes:
            scope.cancel()  # wakes a backoff sleep that waits on the scope

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def _connection(self, deadline: Optional[float]) -> Connection:
        with self._lock:
            if self._closed:
                raise Cancelled("the client is closed")
            conn = self._conn
            if conn is not None and conn.usable:
                return conn
            if conn is not None and not conn.closed:
                self._old.append(conn)  # draining: let its open calls finish
            self._old = [c for c in self._old if not c.closed]
            self._conn = None
            timeout = self.connect_timeout
            if deadline is not None:
                timeout = max(0.001, min(timeout, deadline - time.monotonic()))
            # Connecting under the lock: concurrent callers wait for one new connection.
            conn = Connection.open(self.host, self.port, timeout, self.client_name, self.auth_token)
            self._conn = conn
            log.debug("orchlog connected to %s:%s (%s)", self.host, self.port, conn.server_name)
            return conn

    def _retry_delay(
        self, error: OrchLogError, attempt: int, deadline: Optional[float]
    ) -> Optional[float]:
        """Seconds to wait before the next attempt, or None to raise ``error``."""
        if self._closed or not self.retry.is_retryable(error):
            return None
        if attempt >= self.retry.max_attempts:
            return None
        delay = self.retry.backoff(attempt)
        if deadline is not None and time.monotonic() + delay >= deadline:
            return None
        log.info("orchlog attempt %d failed (%s); retrying in %.3f s", attempt, error, delay)
        return delay

    def _run(
        self,
        attempt_fn: Callable[[Connection, Optional[float]], T],
        deadline: Optional[float],
        scope: Optional[CancelScope] = None,
    ) -> T:
        if scope is not None:
            with self._lock:
                self._scopes.add(scope)
        try:
            return self._attempts(attempt_fn, deadline, scope)
        finally:
            if scope is not None:
                with self._lock:
                    self._scopes.discard(scope)

    def _attempts(
        self,
        attempt_fn: Callable[[Connection, Optional[float]], T],
        deadline: Optional[float],
        scope: Optional[CancelScope],
    ) -> T:
        attempt = 0
        transparent = 1  # a call the server never saw is retried once at once, whatever the policy
        while True:
            attempt += 1
            if scope is not None and scope.cancelled.is_set():
                raise Cancelled("the call was cancelled")  # by its caller, or by close()
            try:
                conn = self._connection(deadline)
                return attempt_fn(conn, deadline)
            except OrchLogError as error:
                if scope is not None and scope.cancelled.is_set():
                    raise  # never retry a call its caller has given up
                if _unprocessed(error) and transparent:
                    transparent -= 1
                    attempt -= 1
                    log.debug("orchlog call not processed by the server (%s); retrying", error)
                    continue
                delay = self._retry_delay(error, attempt, deadline)
                if delay is None:
                    raise
                # A scoped call sleeps on its scope, which both its caller and close() cancel.
                (self._closing if scope is None else scope.cancelled).wait(delay)

    def _unary(self, method: str, request: bytes) -> bytes:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        scope = _cancel_scope.get()
        return self._run(lambda conn, dl: conn.unary(method, request, dl, scope), deadline, scope)

    # -- RPCs ------------------------------------------------------------------------------

    def append_log(
        self,
        content: str,
        *,
        orchestration_session_log_id: Optional[IdArg] = None,
        category: Optional[str] = None,
        parent_exec_id: Optional[IdArg] = None,
        sibling_order: Optional[int] = None,
        elaboration: Union[str, Mapping[str, Any], List[Any], None] = None,
    ) -> AppendResult:
        """Append one entry (``AppendLog``). None leaves a column NULL.

        The id is generated here (UUIDv7) when not given, before the first attempt, so retries
        after a lost reply return the stored row with ``created=False`` instead of a duplicate.
        The arguments are checked before anything is sent.

        Args:
            content: the entry's text (required).
            orchestration_session_log_id: the entry's UUID (text or :class:`uuid.UUID`); None
                generates a UUIDv7.
            category: free text, or None.
            parent_exec_id: the parent's id (text or :class:`uuid.UUID`; must exist), or None
                for a root.
            sibling_order: the order among siblings (int64); None lets the server assign
                max + 1.
            elaboration: JSON text, or a JSON-serialisable value (encoded once, strictly: no
                NaN or infinity), or None.

        Returns:
            The stored entry and whether this call created it.

        Raises:
            TypeError: an argument of the wrong type (e.g. ``content`` not a ``str``), or an
                ``elaboration`` that ``json.dumps`` cannot encode; the message names it.
            ValueError: ``sibling_order`` outside int64, ``elaboration`` holding NaN or
                infinity, text with lone surrogates; the message names the argument.
            InvalidArgument: a malformed id, missing content, invalid JSON text, ...
            AlreadyExists: the id exists with different fields.
            FailedPrecondition: the parent does not exist.
            OrchLogError: any other status, after retries.
        """
        entry = LogEntry(
            content=content,
            orchestration_session_log_id=orchestration_session_log_id,  # type: ignore[arg-type]
            category=category,
            parent_exec_id=parent_exec_id,  # type: ignore[arg-type]
            sibling_order=sibling_order,
            elaboration=elaboration,  # type: ignore[arg-type]
        )._checked()
        m = entry._to_pb()
        if entry.orchestration_session_log_id is None:
            m.orchestration_session_log_id = uuid7()
        request = pb.AppendLogRequest(entry=m).SerializeToString()
        payload = self._unary("AppendLog", request)
        return AppendResult._from_pb(_parse(pb.AppendLogResponse, payload, "AppendLog"))

    def append_logs(
        self, entries: Iterable[Union[LogEntry, Mapping[str, Any]]]
    ) -> List[AppendResult]:
        """Append a batch atomically (``AppendLogs``): all entries or none.

        A parent may appear earlier in the same batch. Entries without an id get a UUIDv7
        here, so the batch can be retried safely.

        Args:
            entries: :class:`LogEntry` values or dicts with its field names (``seq`` ignored;
                ids may be :class:`uuid.UUID`, ``elaboration`` any JSON-serialisable value),
                checked as in :meth:`append_log` before anything is sent.

        Returns:
            One result per entry, in order.

        Raises:
            TypeError: ``entries`` is not an iterable of entries, an entry has an unknown field
                or a field of the wrong type (the message names it, e.g.
                ``entries[2].content``).
            ValueError: a field value the server cannot take (as in :meth:`append_log`).
            OrchLogError: the first failing entry's status (field paths are ``entries[i]...``).
        """
        if isinstance(entries, (str, bytes, Mapping, LogEntry)):
            raise TypeError(
                "entries must be an iterable of LogEntry values or mappings, "
                f"got {type(entries).__name__}"
            )
        request = pb.AppendLogsRequest()
        for i, item in enumerate(entries):
            entry = LogEntry._coerce(item, f"entries[{i}]")
            m = entry._to_pb()
            if entry.orchestration_session_log_id is None:
                m.orchestration_session_log_id = uuid7()
            request.entries.append(m)
        payload = self._unary("AppendLogs", request.SerializeToString())
        response = _parse(pb.AppendLogsResponse, payload, "AppendLogs")
        return [AppendResult._from_pb(r) for r in response.results]

    def get_log(self, orchestration_session_log_id: IdArg) -> LogEntry:
        """Read one entry (``GetLog``).

        Args:
            orchestration_session_log_id: the entry's id, text or :class:`uuid.UUID`.

        Raises:
            TypeError: the id is neither ``str`` nor :class:`uuid.UUID`.
            InvalidArgument: the id is malformed.
            NotFound: no entry has this id.
        """
        entry_id = _arg_id(orchestration_session_log_id, "orchestration_session_log_id")
        request = pb.GetLogRequest(orchestration_session_log_id=entry_id)
        payload = self._unary("GetLog", request.SerializeToString())
        return LogEntry._from_pb(_parse(pb.LogEntry, payload, "GetLog"))

    def health(self) -> Health:
        """The server's health (``Health``); a draining server is retried as UNAVAILABLE."""
        payload = self._unary("Health", b"")
        m = _parse(pb.HealthResponse, payload, "Health")
        return Health(status=m.status, version=m.version, entry_count=m.entry_count)

    def stream_children(
        self,
        parent: Optional[IdArg] = None,
        after_seq: int = 0,
        follow: bool = False,
        limit: int = 0,
    ) -> LogStream[LogEntry]:
        """Iterate a parent's children, or the roots, in ascending ``seq`` (``StreamChildren``).

        The stream resumes from the last ``seq`` it yielded after a lost connection or a
        draining server (per the retry policy), so every entry is yielded exactly once.

        Args:
            parent: the parent's id (text or :class:`uuid.UUID`); None streams the roots.
            after_seq: yield only entries with a larger seq (0..2^64 - 1).
            follow: keep the stream open and yield new children as they are committed.
            limit: stop after this many entries (0 = no limit; at most 2^32 - 1).

        Returns:
            A :class:`LogStream`; close it (or leave ``with``) to cancel the call.

        Raises:
            TypeError: an argument of the wrong type (raised by this call, before any I/O).
            ValueError: ``after_seq`` or ``limit`` negative or too large (likewise).

        Raises (while iterating):
            InvalidArgument: the parent id is malformed.
            NotFound: the parent does not exist.
        """
        parent = _arg_id(parent, "parent")
        after_seq = _arg_int(after_seq, "after_seq", 0, UINT64_MAX)
        follow = _arg_bool(follow, "follow")
        limit = _arg_int(limit, "limit", 0, UINT32_MAX, " (0 means no limit)")
        state = _StreamState(after_seq)
        return LogStream(self._children(state, parent, follow, limit), state)

    def _children(
        self, state: _StreamState, parent: Optional[str], follow: bool, limit: int
    ) -> Generator[LogEntry, None, None]:
        yielded = 0
        attempt = 0
        transparent = 1  # as in _run: a call the server never saw is retried once at once
        while not state.closed.is_set():
            request = pb.StreamChildrenRequest(after_seq=state.last_seq or 0, follow=follow)
            if parent is not None:
                request.parent_exec_id = parent
            if limit:
                if yielded >= limit:
                    return
                request.limit = limit - yielded
            attempt += 1
            started = time.monotonic()
            try:
                stream = self._open_stream("StreamChildren", request.SerializeToString(), state)
                with stream:
                    for payload in stream:
                        entry = LogEntry._from_pb(_parse(pb.LogEntry, payload, "StreamChildren"))
                        if entry.seq is not None:
                            state.last_seq = entry.seq
                        yielded += 1
                        attempt = 0
                        transparent = 1
                        yield entry
                return
            except OrchLogError as error:
                if state.closed.is_set():
                    return
                if _unprocessed(error) and transparent:
                    transparent -= 1
                    attempt -= 1
                    log.debug("orchlog stream not processed by the server (%s); retrying", error)
                    continue
                if time.monotonic() - started > self.retry.max_backoff:
                    attempt = 1  # a long-lived stream broke: start the backoff afresh
                delay = self._retry_delay(error, max(attempt, 1), None)
                if delay is None:
                    raise
                state.closed.wait(delay)

    def get_tree(self, root: IdArg, max_depth: int = 0) -> LogStream[TreeNode]:
        """Iterate the subtree of ``root`` depth-first in preorder (``GetTree``).

        The root comes first at depth 0; children follow by ``sibling_order``. The call is
        retried only before its first node (a tree walk cannot resume).

        Args:
            root: the root entry's id, text or :class:`uuid.UUID`.
            max_depth: keep depths 0..max_depth (0 = unbounded; at most 2^32 - 1).

        Raises:
            TypeError: an argument of the wrong type (raised by this call, before any I/O).
            ValueError: ``max_depth`` negative or too large (likewise).

        Raises (while iterating):
            InvalidArgument: the id is malformed.
            NotFound: the root does not exist.
        """
        root_id = _arg_id(root, "root")
        max_depth = _arg_int(max_depth, "max_depth", 0, UINT32_MAX, " (0 means unbounded)")
        request = pb.GetTreeRequest(root_id=root_id)
        if max_depth:
            request.max_depth = max_depth
        state = _StreamState(None)
        return LogStream(self._tree(request.SerializeToString(), state), state)

    def _tree(self, request: bytes, state: _StreamState) -> Generator[TreeNode, None, None]:
        attempt = 0
        yielded = False
        transparent = 1  # as in _run: a call the server never saw is retried once at once
        while not state.closed.is_set():
            attempt += 1
            try:
                with self._open_stream("GetTree", request, state) as stream:
                    for payload in stream:
                        yielded = True
                        yield TreeNode._from_pb(_parse(pb.TreeNode, payload, "GetTree"))
                return
            except OrchLogError as error:
                if state.closed.is_set():
                    return
                if not yielded and _unprocessed(error) and transparent:
                    transparent -= 1
                    attempt -= 1
                    log.debug("orchlog stream not processed by the server (%s); retrying", error)
                    continue
                delay = None if yielded else self._retry_delay(error, attempt, None)
                if delay is None:
                    raise
                state.closed.wait(delay)

    def _open_stream(self, method: str, request: bytes, state: _StreamState) -> _StreamCall:
        conn = self._connection(None)
        call = conn.start_call(method, request, initial_credit=self.stream_window)
        return _StreamCall(call, self.stream_window, state)
