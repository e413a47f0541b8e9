"""Framing and id generation, without a server."""

from __future__ import annotations

import time
import uuid

import pytest

from orchlog import InvalidArgument, ResourceExhausted, uuid7
from orchlog._proto import orchlog_pb2 as pb
from orchlog._wire import FrameDecoder, encode_frame

HELLO = bytes.fromhex("0000000712050801120178")  # PROTOCOL.md section 11
HELLO_EXPLICIT = bytes.fromhex("000000090800120508011201" + "78")
HELLO_ACK = bytes.fromhex("0000001e08001a1a0801120e6f7263686c6f67642f302e312e301880808002208008")
END_OK = bytes.fromhex("00000006080142020800")
PONG = bytes.fromhex("0000000808005204" + "0a026162")


def test_encode_matches_worked_example() -> None:
    frame = pb.Frame()
    frame.hello.protocol_version = 1
    frame.hello.client_name = "x"
    assert encode_frame(frame, 4 << 20) == HELLO
    frame.call_id = 0
    assert encode_frame(frame, 4 << 20) == HELLO_EXPLICIT


def test_encode_refuses_oversized_frame() -> None:
    frame = pb.Frame(call_id=1)
    frame.start.request = b"x" * 100
    with pytest.raises(ResourceExhausted):
        encode_frame(frame, 64)


STREAM = HELLO_ACK + END_OK + PONG


def _kinds(frames: list) -> list:
    return [f.WhichOneof("kind") for f in frames]


def test_decoder_all_at_once() -> None:
    frames = FrameDecoder().feed(STREAM)
    assert _kinds(frames) == ["hello_ack", "end", "pong"]
    ack = frames[0].hello_ack
    assert (ack.server_name, ack.max_frame_bytes, ack.max_concurrent_calls) == (
        "orchlogd/0.1.0",
        4194304,
        1024,
    )
    assert frames[1].call_id == 1 and frames[1].end.HasField("code")
    assert frames[2].pong.payload == b"ab"


def test_decoder_byte_by_byte() -> None:
    decoder = FrameDecoder()
    frames = []
    for i in range(len(STREAM)):
        frames += decoder.feed(STREAM[i : i + 1])
    assert _kinds(frames) == ["hello_ack", "end", "pong"]


def test_decoder_frame_by_frame() -> None:
    decoder = FrameDecoder()
    assert _kinds(decoder.feed(HELLO_ACK)) == ["hello_ack"]
    assert _kinds(decoder.feed(END_OK)) == ["end"]
    assert _kinds(decoder.feed(PONG)) == ["pong"]
    assert decoder.feed(b"") == []


def test_decoder_rejects_zero_length() -> None:
    with pytest.raises(InvalidArgument):
        FrameDecoder().feed(b"\x00\x00\x00\x00")


def test_decoder_rejects_oversized_length_from_prefix_alone() -> None:
    with pytest.raises(ResourceExhausted):
        FrameDecoder(max_frame_bytes=1024).feed(b"\x00\x00\x04\x01")


def test_decoder_rejects_garbage() -> None:
    with pytest.raises(InvalidArgument):
        FrameDecoder().feed(b"\x00\x00\x00\x02\xff\xff")


def test_uuid7_layout_and_order() -> None:
    before = time.time_ns() // 1_000_000
    ids = [uuid7() for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)  # increasing within one process
    for text in ids[:50]:
        assert len(text) == 36 and text == text.lower()
        u = uuid.UUID(text)
        assert u.version == 7
        assert u.variant == uuid.RFC_4122
        assert before <= u.int >> 80 <= after + 1
