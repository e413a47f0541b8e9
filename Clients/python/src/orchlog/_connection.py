"""One multiplexed connection to orchlogd: handshake, reader and writer threads, calls. Not API.

The reader thread reads the socket continuously (PROTOCOL.md section 5 requires it) and routes
each frame to its call by ``call_id``; it answers pings and handles ``goaway``. Writes go through
a queue drained by the writer thread, so the reader never blocks on a write. Each call has its
own queue of events; streaming calls bound it with request-n credit (see ``client.py``).
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from typing import Any, Dict, List, Optional, Tuple, Union

from ._proto import orchlog_pb2 as pb
from ._wire import (
    DEFAULT_MAX_FRAME_BYTES,
    METHOD_PREFIX,
    PROTOCOL_VERSION,
    FrameDecoder,
    encode_frame,
)
from .errors import (
    Cancelled,
    DeadlineExceeded,
    Internal,
    OrchLogError,
    StatusCode,
    TransportError,
    error_from_code,
)

log = logging.getLogger("orchlog")

# Local grace added to a deadline: the server enforces timeout_ms itself, and its
# DEADLINE_EXCEEDED end is preferred over a local timeout.
_DEADLINE_GRACE = 0.5
_RECV_BYTES = 256 * 1024

# The range of max_frame_bytes a server can announce (PROTOCOL.md section 12).
MIN_MAX_FRAME_BYTES = 65536
MAX_MAX_FRAME_BYTES = 268435456

# The largest call id (uint32). Ids never wrap around (PROTOCOL.md section 4).
MAX_CALL_ID = 0xFFFF_FFFF

_Event = Union[
    Tuple[str, bytes], Tuple[str, int, str, Dict[str, str]], Tuple[str, OrchLogError]
]


def _text(value: Any) -> str:
    """A string field of a server frame as text: proto2 strings with invalid UTF-8 can come
    back as bytes (upb, cpp), which are decoded with replacement characters."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _enum_code(message: Any, has: bool, value: int, field_number: int = 1) -> Optional[int]:
    """The number in enum field ``field_number`` of ``message``, known to the schema or not.

    A proto2 enum value that the schema does not know is kept as an unknown field and the field
    reads as absent (its default, 0 = OK), so it is recovered from the re-serialized message.
    None when the field is absent.
    """
    if has:
        return int(value)
    data: bytes = message.SerializeToString()
    found: Optional[int] = None
    pos = 0

    def varint() -> int:
        nonlocal pos
        result = shift = 0
        while True:
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    try:
        while pos < len(data):
            key = varint()
            number, wire_type = key >> 3, key & 7
            if wire_type == 0:
                v = varint()
                if number == field_number:
                    found = v & 0xFFFF_FFFF_FFFF_FFFF
                    if found >= 1 << 63:
                        found -= 1 << 64  # int32 enums are sent sign-extended
            elif wire_type == 1:
                pos += 8
            elif wire_type == 2:
                length = varint()  # not `pos += varint()`: that adds to the old pos
                pos += length
            elif wire_type == 5:
                pos += 4
            else:
                break
    except IndexError:
        pass
    return found


class Call:
    """The client side of one call: an event queue filled by the reader thread."""

    def __init__(
        self,
        conn: Connection,
        call_id: int,
        method: str,
        allowance: Optional[int] = None,
        unary: bool = False,
    ) -> None:
        self.conn = conn
        self.call_id = call_id
        self.method = method
        self.ended = False  # the consumer has seen the end (or an error)
        self._events: queue.SimpleQueue[_Event] = queue.SimpleQueue()
        # Messages the server may still send (credit granted, or 1 for a unary call); None is
        # unlimited. Guarded by the connection's lock. More is a protocol violation.
        self.allowance = allowance
        self.unary = unary

    # Called by the connection (reader thread or failing thread).
    def _deliver(self, event: _Event) -> None:
        self._events.put(event)

    def next_message(self, deadline: Optional[float] = None) -> Optional[bytes]:
        """The next message payload, or None once the call ended OK.

        Raises:
            OrchLogError: the call ended with an error status, or the connection failed.
            DeadlineExceeded: ``deadline`` (time.monotonic()) passed, plus a small grace.
        """
        if self.ended:
            return None
        timeout = None
        if deadline is not None:
            timeout = max(0.0, deadline + _DEADLINE_GRACE - time.monotonic())
        try:
            event = self._events.get(timeout=timeout)
        except queue.Empty:
            raise DeadlineExceeded(f"{self.method}: no answer before the deadline") from None
        kind = event[0]
        if kind == "closed":
            return None
        if kind == "message":
            return event[1]  # type: ignore[return-value]
        self.ended = True
        if kind == "end":
            code, message, details = event[1], event[2], event[3]  # type: ignore[misc]
            if code == StatusCode.OK:
                return None
            raise error_from_code(code, message, details)  # type: ignore[arg-type]
        raise event[1]  # type: ignore[misc]

    def credit(self, n: int) -> None:
        """Allow the server ``n`` more messages (streaming calls)."""
        if not self.ended:
            self.conn._send_credit(self, n)

    def cancel(self, error: Optional[OrchLogError] = None) -> None:
        """Cancel the call if it is still open; later frames of the call are dropped.

        Thread-safe: a consumer blocked in :meth:`next_message` wakes up and gets None, or
        ``error`` raised when one is given.
        """
        if not self.ended:
            self.ended = True
            self.conn._send_cancel(self)
            self._events.put(("closed", b"") if error is None else ("error", error))


class CancelScope:
    """Cancels the call that one operation (a unary call and its retries) is running, from
    another thread: the asyncio client cancels it when its awaiting task is cancelled.

    Once cancelled, the current call is cancelled on the wire and fails with
    :class:`Cancelled`, and no further attempt is made.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._call: Optional[Call] = None
        self.cancelled = threading.Event()  # also wakes a backoff sleep

    def attach(self, call: Call) -> None:
        """Make ``call`` the scope's current call (cancelled at once if the scope is)."""
        with self._lock:
            self._call = call
            cancelled = self.cancelled.is_set()
        if cancelled:
            self._cancel_call(call)

    def cancel(self) -> None:
        """Cancel the current call, if any, and every later attempt. Idempotent."""
        with self._lock:
            self.cancelled.set()
            call = self._call
        if call is not None:
            self._cancel_call(call)

    @staticmethod
    def _cancel_call(call: Call) -> None:
        call.cancel(Cancelled(f"{call.method}: cancelled by the caller"))


class Connection:
    """A connected, handshaken connection. Use :meth:`open` to create one."""

    def __init__(self, sock: socket.socket, host: str, port: int) -> None:
        self._sock = sock
        self.address = f"{host}:{port}"
        # Reentrant: a LogStream finalised by the garbage collector while this thread holds the
        # lock cancels its call, which takes the lock again.
        self._lock = threading.RLock()
        self._calls: Dict[int, Call] = {}
        self._next_call_id = 1  # tests set it close to MAX_CALL_ID
        self._ids_used_up = False  # MAX_CALL_ID was assigned: no new calls here
        self._failed: Optional[str] = None  # why the connection is unusable
        self._draining = False
        self._out: queue.SimpleQueue[Optional[bytes]] = queue.SimpleQueue()
        self._decoder = FrameDecoder(DEFAULT_MAX_FRAME_BYTES)
        self._pending: List[pb.Frame] = []
        self.max_frame_bytes = DEFAULT_MAX_FRAME_BYTES
        self.max_concurrent_calls = 0
        self.server_name = ""
        self._reader: Optional[threading.Thread] = None
        self._writer: Optional[threading.Thread] = None

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        host: str,
        port: int,
        timeout: Optional[float],
        client_name: str,
        auth_token: Optional[str] = None,
    ) -> Connection:
        """Connect, send hello, wait for hello_ack and start the reader and writer threads.

        ``timeout`` is one deadline for all of it (connecting, sending hello, waiting for
        hello_ack), however many bytes arrive meanwhile; None waits without limit.

        Raises:
            TransportError: the connection failed, the handshake did not complete in time or
                broke the protocol, or the server refused it with a goaway UNAVAILABLE (draining).
            OrchLogError: another goaway in place of hello_ack (e.g. ResourceExhausted).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise TransportError(f"cannot connect to {host}:{port}: {exc}") from exc
        conn = cls(sock, host, port)
        try:
            conn._handshake(client_name, auth_token, deadline)
        except BaseException:
            sock.close()
            raise
        conn._start_threads()
        return conn

    def _handshake(
        self, client_name: str, auth_token: Optional[str], deadline: Optional[float] = None
    ) -> None:
        sock = self._sock

        def arm() -> None:
            """Set the socket timeout to what is left of the handshake's deadline."""
            if deadline is None:
                sock.settimeout(None)
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("handshake deadline passed")
            sock.settimeout(remaining)

        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # TCP keepalive like the server's (first probe after 60 s idle, 6 probes 10 s apart), so
        # a quiet follow stream notices a server host that vanished without FIN or RST.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 6)):
            option = getattr(socket, name, None)
            if option is not None:
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, option, value)
                except OSError:
                    pass
        hello = pb.Frame(call_id=0)
        hello.hello.protocol_version = PROTOCOL_VERSION
        hello.hello.client_name = client_name
        if auth_token is not None:
            hello.hello.auth_token = auth_token
        try:
            arm()
            sock.sendall(encode_frame(hello, DEFAULT_MAX_FRAME_BYTES))
            while True:
                arm()  # frames other than hello_ack do not extend the deadline
                data = sock.recv(_RECV_BYTES)
                if not data:
                    raise TransportError(f"{self.address}: connection closed during handshake")
                frames = self._decoder.feed(data)
                for i, frame in enumerate(frames):
                    kind = frame.WhichOneof("kind")
                    if kind == "hello_ack":
                        ack = frame.hello_ack
                        self.server_name = _text(ack.server_name)
                        if ack.HasField("max_frame_bytes"):
                            limit = ack.max_frame_bytes
                            if not MIN_MAX_FRAME_BYTES <= limit <= MAX_MAX_FRAME_BYTES:
                                raise TransportError(
                                    f"{self.address}: protocol error: hello_ack.max_frame_bytes "
                                    f"{limit} is outside {MIN_MAX_FRAME_BYTES}..."
                                    f"{MAX_MAX_FRAME_BYTES}"
                                )
                            self.max_frame_bytes = limit
                            self._decoder.max_frame_bytes = max(DEFAULT_MAX_FRAME_BYTES, limit)
                        self.max_concurrent_calls = ack.max_concurrent_calls
                        self._pending = frames[i + 1 :]
                        sock.settimeout(None)
                        return
                    if kind == "goaway":
                        goaway = frame.goaway
                        number = _enum_code(goaway, goaway.HasField("code"), goaway.code) or 0
                        text = _text(goaway.message)
                        message = f"{self.address} refused the connection: {text}"
                        if number == StatusCode.UNAVAILABLE:
                            raise TransportError(message, goaway_code=StatusCode.UNAVAILABLE)
                        raise error_from_code(number, message)
                    # Nothing else is expected before hello_ack; ignore it.
        except OrchLogError:  # before OSError: a TransportError is also a ConnectionError
            raise
        except socket.timeout as exc:
            raise TransportError(f"{self.address}: no hello_ack in time") from exc
        except OSError as exc:
            raise TransportError(f"{self.address}: handshake failed: {exc}") from exc

    def _start_threads(self) -> None:
        self._reader = threading.Thread(
            target=self._read_loop, name=f"orchlog-reader-{self.address}", daemon=True
        )
        self._writer = threading.Thread(
            target=self._write_loop, name=f"orchlog-writer-{self.address}", daemon=True
        )
        self._reader.start()
        self._writer.start()

    @property
    def usable(self) -> bool:
        """True while new calls can be started on this connection: not failed, not draining,
        call ids left. The client opens a new connection otherwise."""
        return self._failed is None and not self._draining and not self._ids_used_up

    @property
    def closed(self) -> bool:
        """True once the connection has failed or been closed."""
        return self._failed is not None

    def close(self, reason: str = "the client closed the connection") -> None:
        """Close the socket; open calls fail with Cancelled."""
        self._fail(reason, cancelled=True)
        current = threading.current_thread()
        for thread in (self._reader, self._writer):
            if thread is not None and thread is not current:
                thread.join(timeout=2.0)

    def _fail(
        self,
        reason: str,
        *,
        cancelled: bool = False,
        goaway_code: Optional[StatusCode] = None,
        last_call_id: Optional[int] = None,
    ) -> None:
        """Mark the connection failed, fail every open call, shut the socket down.

        The reader thread closes the socket once both threads are done with it, so that no
        thread can use a file descriptor number that was closed and reused meanwhile.
        """
        with self._lock:
            if self._failed is not None:
                return
            self._failed = reason
            calls, self._calls = self._calls, {}
        for call in calls.values():
            err: OrchLogError
            if cancelled:
                err = Cancelled(f"{call.method}: {reason}")
            elif last_call_id is not None and call.call_id > last_call_id:
                err = TransportError(
                    f"{call.method}: {reason}; the call was not processed",
                    goaway_code=goaway_code,
                    processed=False,
                )
            else:
                err = TransportError(f"{call.method}: {reason}", goaway_code=goaway_code)
            call._deliver(("error", err))
        self._out.put(None)
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        log.debug("orchlog connection to %s closed: %s", self.address, reason)

    # -- calls -----------------------------------------------------------------------------

    def start_call(
        self,
        method: str,
        request: bytes,
        *,
        timeout_ms: int = 0,
        initial_credit: int = 0,
        unary: bool = False,
    ) -> Call:
        """Open a call: assign the next call id and queue its start frame.

        The server may send one message on a ``unary`` call, else ``initial_credit`` messages
        plus the credit granted later (unlimited at 0); more fails the connection.

        Raises:
            TransportError: the connection has failed or is draining (``processed=False``).
            ResourceExhausted: the start frame would exceed max_frame_bytes.
        """
        frame = pb.Frame()
        start = frame.start
        start.method = METHOD_PREFIX + method
        if timeout_ms:
            start.timeout_ms = timeout_ms
        if initial_credit:
            start.initial_credit = initial_credit
        start.request = request
        with self._lock:
            if self._failed is not None:
                raise TransportError(f"{method}: connection lost: {self._failed}")
            if self._draining:
                raise TransportError(
                    f"{method}: the server is draining this connection",
                    goaway_code=StatusCode.UNAVAILABLE,
                    processed=False,
                )
            if self._ids_used_up:
                # Another thread took the last id after the client picked this connection.
                raise TransportError(
                    f"{method}: this connection has used up its call ids", processed=False
                )
            call_id = self._next_call_id
            frame.call_id = call_id
            data = encode_frame(frame, self.max_frame_bytes)
            if call_id >= MAX_CALL_ID:
                # No wrap-around (PROTOCOL.md section 4): a wrapped id could collide with a
                # call still open here, e.g. a follow stream. Like a draining connection, this
                # one only finishes its calls; it is closed once the last one has ended.
                self._ids_used_up = True
            else:
                self._next_call_id = call_id + 1
            allowance = 1 if unary else (initial_credit or None)
            call = Call(self, call_id, method, allowance, unary)
            self._calls[call_id] = call
            self._out.put(data)
        return call

    def unary(
        self,
        method: str,
        request: bytes,
        deadline: Optional[float],
        scope: Optional[CancelScope] = None,
    ) -> bytes:
        """Run a unary call and return the response payload.

        Raises:
            OrchLogError: the call's status, a transport failure or a local deadline.
            Cancelled: ``scope`` was cancelled (the call is cancelled on the wire).
        """
        timeout_ms = 0
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceeded(f"{method}: deadline exceeded before the call started")
            timeout_ms = max(1, min(0xFFFF_FFFF, int(remaining * 1000 + 0.999)))
        call = self.start_call(method, request, timeout_ms=timeout_ms, unary=True)
        if scope is not None:
            scope.attach(call)
        payload: Optional[bytes] = None
        try:
            while True:
                message = call.next_message(deadline)
                if message is None:
                    break
                payload = message
        except BaseException:
            call.cancel()
            raise
        if payload is None:
            raise Internal(f"{method}: the call ended OK without a response message")
        return payload

    def _send_credit(self, call: Call, n: int) -> None:
        frame = pb.Frame(call_id=call.call_id)
        frame.credit.n = n
        with self._lock:
            if self._calls.get(call.call_id) is call:
                if call.allowance is not None:
                    call.allowance += n
                self._out.put(encode_frame(frame, self.max_frame_bytes))

    def _send_cancel(self, call: Call) -> None:
        frame = pb.Frame(call_id=call.call_id)
        frame.cancel.SetInParent()
        with self._lock:
            if self._calls.get(call.call_id) is call:
                del self._calls[call.call_id]
                self._out.put(encode_frame(frame, self.max_frame_bytes))
        self._close_if_used_up()

    def _close_if_used_up(self) -> None:
        """Close a connection that has used up its call ids once its last call has ended."""
        if not self._ids_used_up:  # the common case, without the lock (set once, never cleared)
            return
        with self._lock:
            done = self._ids_used_up and not self._calls and self._failed is None
        if done:
            self._fail(f"{self.address}: call ids used up and no call left")

    def _send_control(self, frame: pb.Frame) -> None:
        with self._lock:
            if self._failed is None:
                self._out.put(encode_frame(frame, self.max_frame_bytes))

    # -- threads ---------------------------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            data = self._out.get()
            if data is None:
                return
            chunks = [data]
            # Coalesce whatever else is queued into one write.
            while True:
                try:
                    more = self._out.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._out.put(None)
                    break
                chunks.append(more)
            try:
                self._sock.sendall(b"".join(chunks))
            except OSError as exc:
                self._fail(f"write to {self.address} failed: {exc}")
                return

    def _read_loop(self) -> None:
        try:
            self._read_frames()
        finally:
            self._fail("the reader stopped")  # no-op when already failed
            if self._writer is not None:
                self._writer.join(timeout=5.0)
            self._sock.close()

    def _read_frames(self) -> None:
        try:
            for frame in self._pending:
                self._dispatch(frame)
            self._pending = []
            while self._failed is None:
                try:
                    data = self._sock.recv(_RECV_BYTES)
                except OSError as exc:
                    self._fail(f"read from {self.address} failed: {exc}")
                    return
                if not data:
                    self._fail(f"{self.address} closed the connection")
                    return
                for frame in self._decoder.feed(data):
                    self._dispatch(frame)
        except OrchLogError as exc:  # an invalid frame from the server
            self._fail(f"protocol error from {self.address}: {exc.message}")
        except Exception as exc:  # a bug; never leave callers waiting forever
            log.exception("orchlog reader for %s failed", self.address)
            self._fail(f"reader failed: {exc!r}")

    def _dispatch(self, frame: pb.Frame) -> None:
        kind = frame.WhichOneof("kind")
        if kind == "message":
            violation = False
            with self._lock:
                call = self._calls.get(frame.call_id)
                if call is not None and call.allowance is not None:
                    if call.allowance <= 0:
                        violation = True
                        del self._calls[call.call_id]
                    else:
                        call.allowance -= 1
            if call is None:
                return
            if violation:
                # The call fails after the messages already queued (at most its window), and
                # so does the connection (raised to _read_frames).
                what = (
                    "a second message on a unary call"
                    if call.unary
                    else "more messages than the credit granted"
                )
                err = Internal(f"{call.method}: protocol error from {self.address}: {what}")
                call._deliver(("error", err))
                raise err
            call._deliver(("message", frame.message.payload))
        elif kind == "end":
            with self._lock:
                call = self._calls.pop(frame.call_id, None)
            if call is not None:
                end = frame.end
                message = _text(end.message) if end.HasField("message") else ""
                # Absent code: OK (the proto2 default); a number this client does not know is
                # not OK: error_from_code maps it to UNKNOWN.
                number = _enum_code(end, end.HasField("code"), end.code)
                details = {_text(k): _text(v) for k, v in end.details.items()}
                call._deliver(("end", 0 if number is None else number, message, details))
                self._close_if_used_up()
        elif kind == "ping":
            pong = pb.Frame(call_id=0)
            pong.pong.payload = frame.ping.payload
            if pong.ByteSize() > self.max_frame_bytes:
                # The answer to a ping of the largest size: call_id 0 is left implicit so that
                # the pong fits (PROTOCOL.md section 2).
                pong.ClearField("call_id")
            self._send_control(pong)
        elif kind == "goaway":
            self._on_goaway(frame.goaway)
        # pong, hello_ack and client-only kinds are ignored.

    def _on_goaway(self, goaway: pb.GoAway) -> None:
        number = _enum_code(goaway, goaway.HasField("code"), goaway.code) or 0
        code = StatusCode(number) if number in StatusCode._value2member_map_ else None
        message = _text(goaway.message)
        if code == StatusCode.UNAVAILABLE:
            # Draining: open calls still finish; no new calls on this connection.
            log.info("orchlog server %s is draining: %s", self.address, message)
            with self._lock:
                self._draining = True
            return
        name = code.name if code is not None else str(number)
        self._fail(
            f"{self.address} sent goaway {name}: {message}",
            goaway_code=code,
            last_call_id=goaway.last_call_id,
        )
