"""The client against a live orchlogd: RPCs, NULLs, errors, streams, flow control."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import socket
import threading
import time
from pathlib import Path
from typing import List

import pytest

import orchlog
from orchlog import LogEntry, TreeNode, uuid7

from .conftest import TEST_RETRY, OrchlogServer

MISSING = "0190f3c2-7b1a-7c3e-9a4b-2d5e6f708192"


def test_health(client: orchlog.Client) -> None:
    health = client.health()
    assert health.serving and health.status == "SERVING"
    assert health.version == "0.1.0"
    assert health.entry_count == 0
    client.append_log(content="x")
    assert client.health().entry_count == 1


def test_append_and_get(client: orchlog.Client) -> None:
    result = client.append_log(content="hello", category="step")
    assert result.created is True
    entry = result.entry
    assert isinstance(entry, LogEntry)
    assert entry.content == "hello" and entry.category == "step"
    assert entry.parent_exec_id is None and entry.elaboration is None
    assert entry.sibling_order == 1 and entry.seq == 1
    assert entry.id is not None and len(entry.id) == 36
    assert client.get_log(entry.id) == entry
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.content = "changed"  # type: ignore[misc]  # frozen


def test_client_generates_uuid7_ids(client: orchlog.Client) -> None:
    import uuid

    entry = client.append_log(content="x").entry
    assert entry.id is not None and uuid.UUID(entry.id).version == 7


def test_same_id_twice_is_idempotent(client: orchlog.Client) -> None:
    entry_id = uuid7()
    first = client.append_log(content="once", orchestration_session_log_id=entry_id)
    again = client.append_log(content="once", orchestration_session_log_id=entry_id)
    assert first.created and not again.created
    assert again.entry == first.entry
    assert client.health().entry_count == 1


def test_upper_case_id_is_normalised(client: orchlog.Client) -> None:
    entry_id = uuid7()
    entry = client.append_log(content="x", orchestration_session_log_id=entry_id.upper()).entry
    assert entry.id == entry_id
    assert client.get_log(entry_id.upper()).id == entry_id


def test_null_versus_set_fields_round_trip(client: orchlog.Client) -> None:
    root = client.append_log(content="root").entry
    nulls = client.append_log(content="", parent_exec_id=root.id).entry
    assert (nulls.category, nulls.elaboration) == (None, None)
    assert nulls.content == ""
    assert nulls.sibling_order == 1  # assigned
    empty = client.append_log(
        content="",
        parent_exec_id=root.id,
        category="",
        sibling_order=0,
        elaboration='{"k": [1, 2]}',
    ).entry
    assert empty.category == "" and empty.sibling_order == 0
    assert empty.elaboration == '{"k": [1, 2]}'
    negative = client.append_log(content="n", parent_exec_id=root.id, sibling_order=-5).entry
    assert negative.sibling_order == -5
    for stored in (nulls, empty, negative):
        assert client.get_log(stored.id) == stored  # type: ignore[arg-type]
    dumped = client.append_log(content="j", elaboration={"a": [1, None]}).entry
    assert dumped.elaboration == '{"a":[1,null]}'


def test_append_logs_batch_with_parent_earlier(client: orchlog.Client) -> None:
    parent_id = uuid7()
    results = client.append_logs(
        [
            {"orchestration_session_log_id": parent_id, "content": "parent", "category": "c"},
            LogEntry(content="child 1", parent_exec_id=parent_id),
            {"content": "child 2", "parent_exec_id": parent_id, "elaboration": {"x": 1}},
        ]
    )
    assert [r.created for r in results] == [True, True, True]
    assert [r.entry.content for r in results] == ["parent", "child 1", "child 2"]
    assert results[0].entry.id == parent_id
    assert [r.entry.sibling_order for r in results[1:]] == [1, 2]
    assert results[2].entry.elaboration == '{"x":1}'
    assert [r.entry.seq for r in results] == [1, 2, 3]
    assert client.append_logs([]) == []


def test_append_logs_retry_of_whole_batch_is_idempotent(client: orchlog.Client) -> None:
    batch = [LogEntry(content=f"e{i}", orchestration_session_log_id=uuid7()) for i in range(3)]
    assert all(r.created for r in client.append_logs(batch))
    again = client.append_logs(batch)
    assert not any(r.created for r in again)


def test_append_logs_is_all_or_nothing(client: orchlog.Client) -> None:
    with pytest.raises(orchlog.FailedPrecondition) as info:
        client.append_logs([{"content": "ok"}, {"content": "orphan", "parent_exec_id": MISSING}])
    assert info.value.message.startswith("entries[1].parent_exec_id")
    assert client.health().entry_count == 0


def test_append_logs_rejects_unknown_fields(client: orchlog.Client) -> None:
    with pytest.raises(TypeError):
        client.append_logs([{"content": "x", "colour": "red"}])


def test_error_malformed_id(client: orchlog.Client) -> None:
    with pytest.raises(orchlog.InvalidArgument) as info:
        client.append_log(content="x", orchestration_session_log_id="not-a-uuid")
    assert info.value.code == orchlog.StatusCode.INVALID_ARGUMENT
    assert info.value.message.startswith("entry.orchestration_session_log_id")
    with pytest.raises(orchlog.InvalidArgument):
        client.get_log("{" + MISSING + "}")
    with pytest.raises(orchlog.InvalidArgument):
        client.append_log(content="x", parent_exec_id="nope")


def test_error_missing_parent(client: orchlog.Client) -> None:
    with pytest.raises(orchlog.FailedPrecondition) as info:
        client.append_log(content="x", parent_exec_id=MISSING)
    assert info.value.message.startswith("entry.parent_exec_id")


def test_error_already_exists(client: orchlog.Client) -> None:
    entry_id = uuid7()
    client.append_log(content="one", orchestration_session_log_id=entry_id)
    with pytest.raises(orchlog.AlreadyExists) as info:
        client.append_log(content="two", orchestration_session_log_id=entry_id)
    assert info.value.code == orchlog.StatusCode.ALREADY_EXISTS


def test_error_not_found(client: orchlog.Client) -> None:
    with pytest.raises(orchlog.NotFound):
        client.get_log(MISSING)
    with pytest.raises(orchlog.NotFound):
        list(client.get_tree(MISSING))
    with pytest.raises(orchlog.NotFound):
        list(client.stream_children(MISSING))


def test_error_missing_content(client: orchlog.Client) -> None:
    with pytest.raises(orchlog.InvalidArgument) as info:
        client.append_log(content=None)  # type: ignore[arg-type]
    assert info.value.message.startswith("entry.content")
    with pytest.raises(orchlog.InvalidArgument) as info:
        client.append_logs([{"category": "no content"}])
    assert info.value.message.startswith("entries[0].content")


def test_error_invalid_json(client: orchlog.Client) -> None:
    with pytest.raises(orchlog.InvalidArgument) as info:
        client.append_log(content="x", elaboration="{not json")
    assert info.value.message.startswith("entry.elaboration")


def test_errors_are_not_retried(server: OrchlogServer) -> None:
    calls: List[int] = []
    policy = orchlog.RetryPolicy(max_attempts=5)
    with orchlog.Client("127.0.0.1", server.port, retry=policy) as c:
        original = c._connection

        def counting(deadline):  # type: ignore[no-untyped-def]
            calls.append(1)
            return original(deadline)

        c._connection = counting  # type: ignore[method-assign]
        with pytest.raises(orchlog.NotFound):
            c.get_log(MISSING)
    assert len(calls) == 1


def test_oversized_request_fails_locally_and_keeps_connection(client: orchlog.Client) -> None:
    client.health()
    conn = client._conn
    assert conn is not None
    with pytest.raises(orchlog.ResourceExhausted):
        client.append_log(content="x" * (conn.max_frame_bytes + 1))
    assert client._conn is conn and conn.usable
    assert client.health().serving


def test_stream_children_backlog(client: orchlog.Client) -> None:
    root = client.append_log(content="root").entry
    other = client.append_log(content="other root").entry
    for i in range(5):
        client.append_log(content=f"c{i}", parent_exec_id=root.id)
    client.append_log(content="grandchild", parent_exec_id=other.id)
    children = list(client.stream_children(root.id))
    assert [c.content for c in children] == [f"c{i}" for i in range(5)]
    seqs = [c.seq for c in children]
    assert seqs == sorted(seqs)
    assert [c.content for c in client.stream_children()] == ["root", "other root"]
    after = list(client.stream_children(root.id, after_seq=seqs[1]))
    assert [c.content for c in after] == ["c2", "c3", "c4"]
    assert [c.content for c in client.stream_children(root.id, limit=2)] == ["c0", "c1"]
    with client.stream_children(root.id) as stream:
        next(stream)
        next(stream)
        assert stream.last_seq == seqs[1]


def test_stream_children_many_with_small_window(server: OrchlogServer) -> None:
    with orchlog.Client("127.0.0.1", server.port, stream_window=4) as c:
        root = c.append_log(content="root").entry
        c.append_logs([{"content": str(i), "parent_exec_id": root.id} for i in range(600)])
        got = [e.content for e in c.stream_children(root.id)]
        assert got == [str(i) for i in range(600)]


def test_slow_consumer_is_bounded_by_credit(server: OrchlogServer) -> None:
    window = 8
    with orchlog.Client("127.0.0.1", server.port, stream_window=window) as c:
        root = c.append_log(content="root").entry
        c.append_logs([{"content": str(i), "parent_exec_id": root.id} for i in range(500)])
        with c.stream_children(root.id, follow=True) as stream:
            assert next(stream).content == "0"
            time.sleep(0.5)  # the server would send all 500 without flow control
            call = stream._state.call
            assert call is not None
            assert call._events.qsize() <= window
            assert [next(stream).content for _ in range(100)] == [str(i) for i in range(1, 101)]
            time.sleep(0.3)
            assert call._events.qsize() <= window


def test_large_appends_while_replies_and_streams_fill_the_connection(
    server: OrchlogServer,
) -> None:
    """PROTOCOL.md section 5: above 256 KiB of unwritten output the server stops reading a
    connection until it drains, so a client must read while it writes. Here the server's output
    to the client (24 replies of 1 MiB to small GetLog requests, a children stream and a tree
    with an unbounded window, the appends' own 1 MiB replies) grows far past that while the
    writer thread is still sending 1 MiB appends that the server has not read yet. They all
    complete only because the reader thread goes on reading meanwhile."""
    count, size, gets, appends = 300, 8192, 24, 6
    names = [f"child {i:05d} " for i in range(count)]
    big = "b" * (1 << 20)
    with orchlog.Client("127.0.0.1", server.port, retry=TEST_RETRY) as seeder:
        parent = seeder.append_log(content="flood parent").entry.id
        target = seeder.append_log(content="large appends").entry.id
        stored = seeder.append_log(content=big, parent_exec_id=target).entry
        seeder.append_logs(
            [{"content": name.ljust(size, "f"), "parent_exec_id": parent} for name in names]
        )
    # The client is closed before the pool waits for its threads: a stream still waiting (a
    # client that stopped reading) then ends with Cancelled instead of hanging the test.
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2 + gets + appends)
    client = orchlog.Client(
        "127.0.0.1", server.port, timeout=15.0, retry=None, stream_window=2**32 - 1
    )
    with pool, client as c:
        c.connect()
        conn = c._conn
        assert conn is not None
        # Socket buffers that the kernel does not grow (on loopback it takes megabytes each way):
        # the appends cannot all be handed to the kernel at once, nor the replies parked in it.
        # Set before any traffic: a receive buffer shrunk below a window already advertised
        # makes the kernel drop data.
        conn._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
        conn._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 262144)
        children = c.stream_children(parent)
        tree = c.get_tree(parent)
        firsts = [pool.submit(next, children), pool.submit(next, tree)]  # each starts its call
        replies = [pool.submit(c.get_log, stored.id) for _ in range(gets)]
        results = [
            pool.submit(c.append_log, content=big, parent_exec_id=target) for _ in range(appends)
        ]
        assert all(f.result().created and f.result().entry.content == big for f in results)
        assert len({f.result().entry.id for f in results}) == appends
        assert all(f.result() == stored for f in replies)
        got = [firsts[0].result(timeout=5), *children]
        assert [e.content[:12] for e in got] == names
        assert all(len(e.content) == size for e in got)
        assert [e.seq for e in got] == sorted(e.seq for e in got)  # type: ignore[type-var]
        nodes = [firsts[1].result(timeout=5), *tree]
        assert (nodes[0].entry.content, nodes[0].depth) == ("flood parent", 0)
        assert [(n.entry.content[:12], n.depth) for n in nodes[1:]] == [(n, 1) for n in names]
        assert c._conn is conn and not conn.closed  # one connection throughout


def _collect(stream: orchlog.LogStream[LogEntry], out: List[LogEntry], count: int) -> None:
    for entry in stream:
        out.append(entry)
        if len(out) >= count:
            break


def test_follow_receives_children_from_another_client(
    client: orchlog.Client, server: OrchlogServer
) -> None:
    root = client.append_log(content="root").entry
    client.append_log(content="early", parent_exec_id=root.id)
    received: List[LogEntry] = []
    stream = client.stream_children(root.id, follow=True)
    consumer = threading.Thread(target=_collect, args=(stream, received, 21))
    consumer.start()
    with orchlog.Client("127.0.0.1", server.port) as writer:
        for i in range(20):
            writer.append_log(content=f"late {i}", parent_exec_id=root.id)
    consumer.join(timeout=10)
    assert not consumer.is_alive()
    stream.close()
    assert [e.content for e in received] == ["early"] + [f"late {i}" for i in range(20)]
    assert [e.seq for e in received] == sorted(e.seq for e in received)  # type: ignore[type-var]


def test_closing_follow_iterator_cancels_the_call(client: orchlog.Client) -> None:
    root = client.append_log(content="root").entry
    client.append_log(content="child", parent_exec_id=root.id)
    with client.stream_children(root.id, follow=True) as stream:
        assert next(stream).content == "child"
        call = stream._state.call
        assert call is not None
        conn = client._conn
        assert conn is not None and call.call_id in conn._calls
    assert stream.closed
    assert call.call_id not in conn._calls  # cancelled, frames of it are dropped
    with pytest.raises(StopIteration):
        next(stream)
    # The connection is still fine and the server stopped the call.
    client.append_log(content="after", parent_exec_id=root.id)
    assert client.health().serving


def test_closing_follow_iterator_from_another_thread(client: orchlog.Client) -> None:
    root = client.append_log(content="root").entry
    stream = client.stream_children(root.id, follow=True)
    received: List[LogEntry] = []
    consumer = threading.Thread(target=_collect, args=(stream, received, 10**9))
    consumer.start()
    time.sleep(0.3)
    stream.close()
    consumer.join(timeout=5)
    assert not consumer.is_alive() and received == []


def test_get_tree_order_and_depths(client: orchlog.Client) -> None:
    root = client.append_log(content="root").entry
    b = client.append_log(content="b", parent_exec_id=root.id, sibling_order=2).entry
    a = client.append_log(content="a", parent_exec_id=root.id, sibling_order=1).entry
    client.append_log(content="b1", parent_exec_id=b.id)
    a1 = client.append_log(content="a1", parent_exec_id=a.id).entry
    client.append_log(content="a1x", parent_exec_id=a1.id)
    client.append_log(content="c", parent_exec_id=root.id)  # assigned 3
    client.append_log(content="unrelated")
    nodes = list(client.get_tree(root.id))
    assert all(isinstance(n, TreeNode) for n in nodes)
    assert [(n.entry.content, n.depth) for n in nodes] == [
        ("root", 0),
        ("a", 1),
        ("a1", 2),
        ("a1x", 3),
        ("b", 1),
        ("b1", 2),
        ("c", 1),
    ]
    shallow = [(n.entry.content, n.depth) for n in client.get_tree(root.id, max_depth=1)]
    assert shallow == [("root", 0), ("a", 1), ("b", 1), ("c", 1)]
    subtree = [n.entry.content for n in client.get_tree(a.id)]  # type: ignore[arg-type]
    assert subtree == ["a", "a1", "a1x"]


def test_concurrent_calls_share_one_connection(client: orchlog.Client) -> None:
    root = client.append_log(content="root").entry
    conn = client._conn
    errors: List[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                r = client.append_log(content=f"{n}-{i}", parent_exec_id=root.id)
                assert client.get_log(r.entry.id).content == f"{n}-{i}"  # type: ignore[arg-type]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    with client.stream_children(root.id, follow=True) as stream:
        for t in threads:
            t.start()
        got = [next(stream).content for _ in range(160)]
        for t in threads:
            t.join()
    assert errors == []
    assert client._conn is conn
    assert sorted(got) == sorted(f"{n}-{i}" for n in range(8) for i in range(20))


def test_closed_client_raises(server: OrchlogServer) -> None:
    c = orchlog.Client("127.0.0.1", server.port, retry=TEST_RETRY)
    c.health()
    c.close()
    assert c.closed
    with pytest.raises(orchlog.Cancelled):
        c.health()


def test_connection_refused_is_transport_error(server: OrchlogServer) -> None:
    port = server.port
    server.kill()
    policy = orchlog.RetryPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.01)
    c = orchlog.Client("127.0.0.1", port, retry=policy, timeout=5)
    with c, pytest.raises(orchlog.TransportError) as info:
        c.health()
    assert isinstance(info.value, ConnectionError)


def test_closed_streams_free_their_server_slots(orchlogd_binary: str, tmp_path: Path) -> None:
    """With --max-concurrent-calls 2, only cancelled calls let more streams start."""
    server = OrchlogServer(orchlogd_binary, tmp_path, ["--max-concurrent-calls", "2"])
    server.start()
    try:
        with orchlog.Client("127.0.0.1", server.port, retry=None) as c:
            root = c.append_log(content="root").entry
            c.append_log(content="child", parent_exec_id=root.id)
            for _ in range(6):
                with c.stream_children(root.id, follow=True) as stream:
                    assert next(stream).content == "child"
            with (
                c.stream_children(root.id, follow=True) as one,
                c.stream_children(root.id, follow=True) as two,
            ):
                next(one)
                next(two)
                with pytest.raises(orchlog.ResourceExhausted):
                    c.health()  # a third call is over the limit while both are open
            assert c.health().serving
    finally:
        server.stop()


def test_auth_token(orchlogd_binary: str, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("py-s3cret\n")
    srv = OrchlogServer(orchlogd_binary, tmp_path, ["--auth-token-file", str(token_file)])
    srv.start()
    try:
        with orchlog.Client("127.0.0.1", srv.port, timeout=10.0, auth_token="py-s3cret") as good:
            assert good.health().serving
        for token in (None, "wrong"):
            with orchlog.Client("127.0.0.1", srv.port, timeout=10.0, auth_token=token) as bad:
                started = time.monotonic()
                with pytest.raises(orchlog.Unauthenticated):
                    bad.health()
                assert time.monotonic() - started < 5  # refused, not retried until the deadline
    finally:
        srv.stop()
