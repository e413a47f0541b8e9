"""Retries, reconnects, resumption, goaway, ping: server restarts, a lossy proxy, a fake server."""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

import orchlog
from orchlog import LogEntry, uuid7
from orchlog._proto import orchlog_pb2 as pb
from orchlog._wire import FrameDecoder, encode_frame

from .conftest import TEST_RETRY, OrchlogServer


def test_append_retries_across_kill9_restart(
    client: orchlog.Client, server: OrchlogServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Appends keep succeeding while the server is killed and restarted; no duplicates."""
    caplog.set_level(logging.INFO, logger="orchlog")
    root = client.append_log(content="root").entry
    results: List[orchlog.AppendResult] = []
    errors: List[BaseException] = []
    stop = threading.Event()

    def append_loop() -> None:
        try:
            i = 0
            while not stop.is_set() or i < 50:
                results.append(client.append_log(content=f"n{i}", parent_exec_id=root.id))
                i += 1
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=append_loop)
    worker.start()
    time.sleep(0.3)
    server.kill()
    time.sleep(0.3)
    server.restart()
    time.sleep(0.3)
    stop.set()
    worker.join(timeout=30)
    assert not worker.is_alive() and errors == []
    contents = [r.entry.content for r in results]
    assert contents == [f"n{i}" for i in range(len(results))]
    stored = list(client.stream_children(root.id))
    assert [e.content for e in stored] == contents  # every append stored exactly once
    assert len({e.id for e in stored}) == len(stored)
    assert client.health().entry_count == len(results) + 1
    assert any("retrying" in r.getMessage() for r in caplog.records)  # the outage was seen


def test_follow_resumes_across_kill9_restart(client: orchlog.Client, server: OrchlogServer) -> None:
    root = client.append_log(content="root").entry
    for i in range(3):
        client.append_log(content=f"before {i}", parent_exec_id=root.id)
    received: List[LogEntry] = []
    stream = client.stream_children(root.id, follow=True)

    def consume() -> None:
        for entry in stream:
            received.append(entry)
            if len(received) == 9:
                return

    consumer = threading.Thread(target=consume)
    consumer.start()
    deadline = time.monotonic() + 10
    while len(received) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    server.kill()
    time.sleep(0.2)
    server.restart()
    with orchlog.Client("127.0.0.1", server.port, retry=TEST_RETRY) as writer:
        for i in range(3):
            writer.append_log(content=f"after {i}", parent_exec_id=root.id)
        server.kill()  # a second outage, while the consumer waits
        server.restart()
        for i in range(3, 6):
            writer.append_log(content=f"after {i}", parent_exec_id=root.id)
    consumer.join(timeout=20)
    assert not consumer.is_alive()
    stream.close()
    expected = [f"before {i}" for i in range(3)] + [f"after {i}" for i in range(6)]
    assert [e.content for e in received] == expected
    assert [e.seq for e in received] == list(range(2, 11))


def test_follow_resumes_after_drain(orchlogd_binary: str, tmp_path: Path) -> None:
    """SIGTERM: the follow stream ends with UNAVAILABLE; the client resumes on the restarted
    server."""
    server = OrchlogServer(orchlogd_binary, tmp_path)
    server.start()
    try:
        with orchlog.Client("127.0.0.1", server.port, retry=TEST_RETRY) as c:
            root = c.append_log(content="root").entry
            c.append_log(content="a", parent_exec_id=root.id)
            with c.stream_children(root.id, follow=True) as stream:
                assert next(stream).content == "a"
                assert server.terminate() == 0
                server.restart()
                with orchlog.Client("127.0.0.1", server.port, retry=TEST_RETRY) as writer:
                    writer.append_log(content="b", parent_exec_id=root.id)
                entry = next(stream)
                assert (entry.content, entry.seq) == ("b", 3)
            assert c.health().serving  # the client reconnected after the goaway
    finally:
        server.stop()


def test_idle_goaway_reconnects_transparently(orchlogd_binary: str, tmp_path: Path) -> None:
    server = OrchlogServer(orchlogd_binary, tmp_path, ["--idle-timeout-ms", "200"])
    server.start()
    try:
        with orchlog.Client("127.0.0.1", server.port, retry=TEST_RETRY) as c:
            c.health()
            first = c._conn
            assert first is not None
            deadline = time.monotonic() + 10
            while not first.closed and time.monotonic() < deadline:
                time.sleep(0.05)
            assert first.closed  # goaway OK and close after the idle timeout
            assert c.health().serving
            assert c._conn is not first
    finally:
        server.stop()


def test_no_retry_policy_raises_transport_error(server: OrchlogServer) -> None:
    with orchlog.Client("127.0.0.1", server.port, retry=None) as c:
        c.health()
        server.kill()
        with pytest.raises(orchlog.TransportError):
            c.health()


# -- a proxy that drops the connection instead of forwarding the first AppendLog answer -------


class LossyProxy:
    """Forwards 127.0.0.1 TCP to the server; the first connection is cut right before the
    server's first ``message`` frame reaches the client (the reply of a committed append)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.dropped = threading.Event()
        self._threads: List[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            lossy = self.connections == 1
            for args in ((downstream, upstream, False), (upstream, downstream, lossy)):
                t = threading.Thread(target=self._pump, args=(*args, downstream, upstream))
                t.daemon = True
                t.start()

    def _pump(
        self,
        src: socket.socket,
        dst: socket.socket,
        lossy: bool,
        a: socket.socket,
        b: socket.socket,
    ) -> None:
        decoder = FrameDecoder()
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if lossy:
                    # Re-frame so that the cut happens exactly at the first `message`.
                    for frame in decoder.feed(data):
                        if frame.WhichOneof("kind") == "message":
                            self.dropped.set()
                            raise ConnectionAbortedError
                        dst.sendall(encode_frame(frame, 1 << 30))
                else:
                    dst.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def lossy_proxy(server: OrchlogServer) -> Iterator[LossyProxy]:
    proxy = LossyProxy(server.port)
    yield proxy
    proxy.close()


def test_retry_after_lost_reply_returns_created_false(
    lossy_proxy: LossyProxy, server: OrchlogServer
) -> None:
    with orchlog.Client("127.0.0.1", lossy_proxy.port, retry=TEST_RETRY) as c:
        result = c.append_log(content="exactly once", category="x")
        assert lossy_proxy.dropped.is_set() and lossy_proxy.connections == 2
        assert result.created is False  # the first attempt had committed
        assert result.entry.content == "exactly once" and result.entry.sibling_order == 1
    with orchlog.Client("127.0.0.1", server.port) as direct:
        assert direct.health().entry_count == 1
        assert direct.get_log(result.entry.id) == result.entry  # type: ignore[arg-type]


def test_batch_retry_after_lost_reply(lossy_proxy: LossyProxy, server: OrchlogServer) -> None:
    parent = uuid7()
    with orchlog.Client("127.0.0.1", lossy_proxy.port, retry=TEST_RETRY) as c:
        results = c.append_logs(
            [{"id": parent, "content": "p"}, {"content": "c", "parent_exec_id": parent}]
        )
        assert lossy_proxy.dropped.is_set()
        assert [r.created for r in results] == [False, False]
        assert c.health().entry_count == 2


# -- a scripted fake server: ping, goaway ------------------------------------------------------


class FakeServer:
    """Accepts one connection per script, answers hello (unless ``answer_hello`` is False, for
    handshake tests), then runs ``script(conn, read_frame)``."""

    def __init__(  # type: ignore[no-untyped-def]
        self, *scripts, answer_hello: bool = True
    ) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.scripts = scripts
        self.answer_hello = answer_hello
        self.error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run_all, daemon=True)
        self.thread.start()

    def _run_all(self) -> None:
        for script in self.scripts:
            self._run(script)

    def _run(self, script) -> None:  # type: ignore[no-untyped-def]
        try:
            conn, _ = self.listener.accept()
            conn.settimeout(5)
            decoder = FrameDecoder()
            pending: List[pb.Frame] = []

            def read_frame() -> pb.Frame:
                while not pending:
                    data = conn.recv(65536)
                    if not data:
                        raise EOFError
                    pending.extend(decoder.feed(data))
                return pending.pop(0)

            with conn:
                if self.answer_hello:
                    hello = read_frame()
                    assert hello.WhichOneof("kind") == "hello" and hello.hello.protocol_version == 1
                    ack = pb.Frame(call_id=0)
                    ack.hello_ack.protocol_version = 1
                    ack.hello_ack.server_name = "fake"
                    ack.hello_ack.max_frame_bytes = 1 << 20
                    ack.hello_ack.max_concurrent_calls = 10
                    conn.sendall(encode_frame(ack, 1 << 20))
                script(conn, read_frame)
        except BaseException as exc:
            self.error = exc

    def close(self) -> None:
        self.listener.close()
        self.thread.join(timeout=10)


def _send(conn: socket.socket, frame: pb.Frame) -> None:
    conn.sendall(encode_frame(frame, 1 << 20))


def test_client_answers_ping() -> None:
    seen: List[bytes] = []

    def script(conn, read_frame):  # type: ignore[no-untyped-def]
        start = read_frame()
        assert start.start.method == "/orchlog.v1.OrchestrationLog/Health"
        ping = pb.Frame(call_id=0)
        ping.ping.payload = b"ab"
        _send(conn, ping)
        pong = read_frame()
        assert pong.WhichOneof("kind") == "pong" and pong.call_id == 0
        seen.append(pong.pong.payload)
        _health_reply(conn, start.call_id, entry_count=7)
        time.sleep(0.2)

    fake = FakeServer(script)
    with orchlog.Client("127.0.0.1", fake.port, retry=None) as c:
        health = c.health()
    fake.close()
    assert fake.error is None
    assert seen == [b"ab"]
    assert (health.version, health.entry_count) == ("fake", 7)


def _goaway_script(code: int, last_call_id: int):  # type: ignore[no-untyped-def]
    def script(conn, read_frame):  # type: ignore[no-untyped-def]
        read_frame()  # the start, left unanswered
        goaway = pb.Frame(call_id=0)
        goaway.goaway.code = code
        goaway.goaway.message = "test"
        goaway.goaway.last_call_id = last_call_id
        _send(conn, goaway)
        conn.shutdown(socket.SHUT_WR)
        time.sleep(0.2)

    return script


def _not_found_script(conn, read_frame):  # type: ignore[no-untyped-def]
    start = read_frame()
    end = pb.Frame(call_id=start.call_id)
    end.end.code = pb.NOT_FOUND
    end.end.message = "second connection"
    _send(conn, end)
    time.sleep(0.2)


def test_goaway_unprocessed_call_is_retried_transparently_once() -> None:
    """Calls above last_call_id never ran: retried at once on a new connection, even with
    retries disabled; a second such failure is raised."""
    fake = FakeServer(_goaway_script(pb.INVALID_ARGUMENT, 0), _not_found_script)
    c = orchlog.Client("127.0.0.1", fake.port, retry=None)
    with c, pytest.raises(orchlog.NotFound) as found:
        c.get_log(uuid7())
    fake.close()
    assert fake.error is None
    assert found.value.message == "second connection"

    fake = FakeServer(_goaway_script(pb.OK, 0), _goaway_script(pb.OK, 0))
    c = orchlog.Client("127.0.0.1", fake.port, retry=None)
    with c, pytest.raises(orchlog.TransportError) as info:
        c.get_log(uuid7())
    fake.close()
    assert fake.error is None
    assert info.value.goaway_code == orchlog.StatusCode.OK
    assert info.value.processed is False
    assert "not processed" in info.value.message


def test_goaway_processed_call_is_not_transparent() -> None:
    """A call at or below last_call_id may have run: only the retry policy may repeat it."""
    fake = FakeServer(_goaway_script(pb.OK, 1))
    c = orchlog.Client("127.0.0.1", fake.port, retry=None)
    with c, pytest.raises(orchlog.TransportError) as info:
        c.get_log(uuid7())
    fake.close()
    assert fake.error is None
    assert info.value.processed is None


def test_local_deadline_when_server_never_answers() -> None:
    def script(conn, read_frame):  # type: ignore[no-untyped-def]
        start = read_frame()
        assert start.start.timeout_ms > 0
        cancel = read_frame()  # the client gives up and cancels
        assert cancel.WhichOneof("kind") == "cancel" and cancel.call_id == start.call_id

    fake = FakeServer(script)
    with orchlog.Client("127.0.0.1", fake.port, retry=None, timeout=0.3) as c:
        with pytest.raises(orchlog.DeadlineExceeded):
            c.health()
        time.sleep(0.2)
    fake.close()
    assert fake.error is None


# -- protocol violations and edge cases of a misbehaving server -------------------------------


def _health_reply(conn: socket.socket, call_id: int, entry_count: int = 1) -> None:
    reply = pb.Frame(call_id=call_id)
    reply.message.payload = pb.HealthResponse(
        status="SERVING", version="fake", entry_count=entry_count
    ).SerializeToString()
    _send(conn, reply)
    end = pb.Frame(call_id=call_id)
    end.end.code = pb.OK
    _send(conn, end)


@pytest.mark.parametrize(
    "options", [{"connect_timeout": 0.5}, {"connect_timeout": 5.0, "timeout": 0.5}]
)
def test_handshake_has_one_deadline_that_other_frames_do_not_extend(
    options: Dict[str, float],
) -> None:
    """A server that keeps sending pings but never hello_ack: the handshake fails once
    connect_timeout (or the shorter call deadline) has passed, not one recv timeout later."""

    def handler(conn, read_frame):  # type: ignore[no-untyped-def]
        read_frame()  # hello
        stop = time.monotonic() + 3.0
        try:
            while time.monotonic() < stop:
                ping = pb.Frame(call_id=0)
                ping.ping.payload = b"keep"
                _send(conn, ping)
                time.sleep(0.1)
        except OSError:
            pass  # the client gave up

    server = FakeServer(handler, answer_hello=False)
    started = time.monotonic()
    with orchlog.Client("127.0.0.1", server.port, retry=None, **options) as c:
        with pytest.raises(orchlog.TransportError) as info:
            c.health()
    elapsed = time.monotonic() - started
    server.close()
    assert "no hello_ack in time" in info.value.message
    assert elapsed < 2.0


@pytest.mark.parametrize("limit", [0, 65535, 268435457])
def test_hello_ack_max_frame_bytes_outside_range_is_a_protocol_error(limit: int) -> None:
    def handler(conn, read_frame):  # type: ignore[no-untyped-def]
        read_frame()  # hello
        ack = pb.Frame(call_id=0)
        ack.hello_ack.protocol_version = 1
        ack.hello_ack.server_name = "fake"
        ack.hello_ack.max_frame_bytes = limit
        ack.hello_ack.max_concurrent_calls = 10
        _send(conn, ack)
        try:
            start = read_frame()  # only reached when the client accepted the ack
        except (EOFError, OSError):
            return
        _health_reply(conn, start.call_id)
        time.sleep(0.2)

    server = FakeServer(handler, answer_hello=False)
    with orchlog.Client("127.0.0.1", server.port, retry=None) as c:
        with pytest.raises(orchlog.TransportError) as info:
            c.health()
    server.close()
    assert "max_frame_bytes" in info.value.message and "protocol error" in info.value.message


def test_stream_messages_beyond_credit_cost_the_connection() -> None:
    """Credit 4, the server sends 6 at once: 4 reach the consumer, then a library error; the
    connection is closed (the queue never holds more than the window)."""

    def script(conn, read_frame):  # type: ignore[no-untyped-def]
        start = read_frame()
        assert start.start.initial_credit == 4
        data = b""
        for seq in range(1, 7):
            m = pb.Frame(call_id=start.call_id)
            m.message.payload = pb.LogEntry(
                orchestration_session_log_id=uuid7(), content=f"e{seq}", seq=seq
            ).SerializeToString()
            data += encode_frame(m, 1 << 20)
        end = pb.Frame(call_id=start.call_id)
        end.end.code = pb.OK
        conn.sendall(data + encode_frame(end, 1 << 20))
        time.sleep(0.5)

    fake = FakeServer(script)
    with orchlog.Client("127.0.0.1", fake.port, retry=None, stream_window=4) as c:
        stream = c.stream_children()
        got = [next(stream).content]
        call = stream._state.call
        assert call is not None
        # Let the reader take in every frame before consuming more grants more credit.
        deadline = time.monotonic() + 5
        while call._events.qsize() < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        assert call._events.qsize() == 4  # e2, e3, e4 and the error: bounded by the window
        with pytest.raises(orchlog.OrchLogError) as info:
            for entry in stream:
                got.append(entry.content)
        conn = c._conn
        assert conn is not None and conn.closed
    fake.close()
    assert got == ["e1", "e2", "e3", "e4"]
    assert type(info.value) is orchlog.Internal and "credit" in info.value.message


def test_second_message_on_unary_call_costs_the_connection() -> None:
    def script(conn, read_frame):  # type: ignore[no-untyped-def]
        start = read_frame()
        for _ in range(2):
            reply = pb.Frame(call_id=start.call_id)
            reply.message.payload = pb.HealthResponse(status="SERVING").SerializeToString()
            _send(conn, reply)
        end = pb.Frame(call_id=start.call_id)
        end.end.code = pb.OK
        _send(conn, end)
        time.sleep(0.3)

    fake = FakeServer(script)
    with orchlog.Client("127.0.0.1", fake.port, retry=None) as c:
        with pytest.raises(orchlog.Internal) as info:
            c.health()
        conn = c._conn
        assert conn is not None and conn.closed
    fake.close()
    assert "unary" in info.value.message


def _end_resource_exhausted(conn: socket.socket, call_id: int, retryable: bool) -> None:
    end = pb.Frame(call_id=call_id)
    end.end.code = pb.RESOURCE_EXHAUSTED
    end.end.message = "too many concurrent calls"
    if retryable:
        end.end.details["retryable"] = "true"
    _send(conn, end)


def test_retryable_resource_exhausted_is_retried_by_default_policy() -> None:
    def script(conn, read_frame):  # type: ignore[no-untyped-def]
        start = read_frame()
        _end_resource_exhausted(conn, start.call_id, retryable=True)
        again = read_frame()  # the retry, on the same connection
        _health_reply(conn, again.call_id)
        time.sleep(0.2)

    fake = FakeServer(script)
    with orchlog.Client("127.0.0.1", fake.port) as c:  # the default retry policy
        assert c.health().version == "fake"
    fake.close()
    assert fake.error is None


def test_resource_exhausted_without_retryable_detail_is_final() -> None:
    def script(conn, read_frame):  # type: ignore[no-untyped-def]
        start = read_frame()
        _end_resource_exhausted(conn, start.call_id, retryable=False)
        start = read_frame()  # a second call, with retries disabled
        _end_resource_exhausted(conn, start.call_id, retryable=True)
        time.sleep(0.3)

    fake = FakeServer(script)
    with orchlog.Client("127.0.0.1", fake.port) as c:
        with pytest.raises(orchlog.ResourceExhausted) as info:
            c.health()
        assert info.value.details == {} and not info.value.server_says_retryable
        c.retry = orchlog.NO_RETRY
        with pytest.raises(orchlog.ResourceExhausted) as info:
            c.health()
        assert info.value.details == {"retryable": "true"} and info.value.server_says_retryable
    fake.close()
    assert fake.error is None


def test_undecodable_responses_raise_library_errors() -> None:
    """A payload that is no valid message, and strings with invalid UTF-8 (also nested in a
    stream's TreeNode), raise orchlog.Internal, never a protobuf error or bytes fields."""
    payloads = [
        b"\xff\xff\xff",  # GetLog: not a LogEntry
        b"\x22\x02\xff\xfe",  # GetLog: LogEntry.content with invalid UTF-8
        b"\x0a\x02\xff\xfe",  # Health: status with invalid UTF-8
        b"\x0a\x04\x22\x02\xff\xfe",  # GetTree: TreeNode.entry.content with invalid UTF-8
    ]

    def script(conn, read_frame):  # type: ignore[no-untyped-def]
        for payload in payloads:
            start = read_frame()
            m = pb.Frame(call_id=start.call_id)
            m.message.payload = payload
            _send(conn, m)
            end = pb.Frame(call_id=start.call_id)
            end.end.code = pb.OK
            _send(conn, end)
        time.sleep(0.3)

    fake = FakeServer(script)
    with orchlog.Client("127.0.0.1", fake.port, retry=None) as c:
        for call in (
            lambda: c.get_log(uuid7()),
            lambda: c.get_log(uuid7()),
            c.health,
            lambda: list(c.get_tree(uuid7())),
        ):
            with pytest.raises(orchlog.OrchLogError) as info:
                call()
            assert type(info.value) is orchlog.Internal
    fake.close()
    assert fake.error is None


def test_end_with_unknown_status_code_is_unknown_not_ok() -> None:
    def script(conn, read_frame):  # type: ignore[no-untyped-def]
        start = read_frame()
        reply = pb.Frame(call_id=start.call_id)
        reply.message.payload = pb.HealthResponse(status="SERVING").SerializeToString()
        _send(conn, reply)
        # end { code: 99, message: "odd" }: 99 is no StatusCode, so it is hand-encoded.
        end = b"\x08\x63\x12\x03odd"
        raw = b"\x08" + bytes([start.call_id]) + b"\x42" + bytes([len(end)]) + end
        conn.sendall(len(raw).to_bytes(4, "big") + raw)
        time.sleep(0.3)

    fake = FakeServer(script)
    with orchlog.Client("127.0.0.1", fake.port, retry=None) as c:
        with pytest.raises(orchlog.Unknown) as info:
            c.health()
    fake.close()
    assert fake.error is None
    assert info.value.code == orchlog.StatusCode.UNKNOWN and "99" in info.value.message


def test_pong_to_largest_ping_leaves_call_id_out() -> None:
    """A ping without call_id of exactly max_frame_bytes: the pong with an explicit call_id 0
    would be 2 bytes over the limit, so it goes without one (PROTOCOL.md section 2)."""
    limit = 1 << 20  # what FakeServer announces
    size = limit - 8
    while True:
        ping = pb.Frame()
        ping.ping.payload = b"p" * size
        if ping.ByteSize() >= limit:
            break
        size += 1
    assert ping.ByteSize() == limit
    pongs: List[pb.Frame] = []

    def script(conn, read_frame):  # type: ignore[no-untyped-def]
        start = read_frame()
        _send(conn, ping)
        small = pb.Frame(call_id=0)
        small.ping.payload = b"s"
        _send(conn, small)
        pongs.append(read_frame())
        pongs.append(read_frame())
        _health_reply(conn, start.call_id)
        time.sleep(0.2)

    fake = FakeServer(script)
    with orchlog.Client("127.0.0.1", fake.port, retry=None) as c:
        assert c.health().serving
    fake.close()
    assert fake.error is None
    big, small_pong = pongs
    assert big.WhichOneof("kind") == "pong" and big.pong.payload == ping.ping.payload
    assert not big.HasField("call_id") and big.ByteSize() <= limit
    assert small_pong.HasField("call_id") and small_pong.call_id == 0  # explicit otherwise


def _stream_script(payload: bytes):  # type: ignore[no-untyped-def]
    def script(conn, read_frame):  # type: ignore[no-untyped-def]
        start = read_frame()
        m = pb.Frame(call_id=start.call_id)
        m.message.payload = payload
        _send(conn, m)
        end = pb.Frame(call_id=start.call_id)
        end.end.code = pb.OK
        _send(conn, end)
        time.sleep(0.2)

    return script


def test_unprocessed_streams_are_retried_transparently_once() -> None:
    """A stream above a goaway's last_call_id is retried at once, even with retries disabled,
    like a unary call (README: retries)."""
    entry = pb.LogEntry(orchestration_session_log_id=uuid7(), content="child", seq=5)
    node = pb.TreeNode(entry=entry, depth=0)
    fake = FakeServer(
        _goaway_script(pb.OK, 0),
        _stream_script(entry.SerializeToString()),
        _goaway_script(pb.OK, 0),
        _stream_script(node.SerializeToString()),
    )
    with orchlog.Client("127.0.0.1", fake.port, retry=None) as c:
        assert [e.content for e in c.stream_children()] == ["child"]
    with orchlog.Client("127.0.0.1", fake.port, retry=None) as c:  # the fake's third connection
        assert [n.entry.content for n in c.get_tree(uuid7())] == ["child"]
    fake.close()
    assert fake.error is None
