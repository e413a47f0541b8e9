"""Framing (sans-IO) and client-side ids. Not API."""

from __future__ import annotations

import os
import struct
import threading
import time
import uuid
from typing import List

from ._proto import orchlog_pb2 as pb
from .errors import InvalidArgument, ResourceExhausted

DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024
PROTOCOL_VERSION = 1
METHOD_PREFIX = "/orchlog.v1.OrchestrationLog/"

_LEN = struct.Struct(">I")


def encode_frame(frame: pb.Frame, max_frame_bytes: int) -> bytes:
    """Serialize ``frame`` with its u32 big-endian length prefix.

    Raises:
        ResourceExhausted: the payload exceeds ``max_frame_bytes`` (the server would drop the
            whole connection for it, so the call fails locally instead).
    """
    payload: bytes = frame.SerializeToString()
    if len(payload) > max_frame_bytes:
        raise ResourceExhausted(
            f"request frame of {len(payload)} bytes exceeds max_frame_bytes {max_frame_bytes}"
        )
    return _LEN.pack(len(payload)) + payload


class FrameDecoder:
    """Accumulates bytes and yields whole frames.

    An invalid length (0 or over the limit) is rejected as soon as the 4 prefix bytes are there.
    """

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()
        self._pos = 0

    def feed(self, data: bytes) -> List[pb.Frame]:
        """Append ``data`` and return every frame now complete, in order.

        Raises:
            InvalidArgument: zero length or an undecodable frame.
            ResourceExhausted: a length over :attr:`max_frame_bytes`.
        """
        self._buf += data
        frames: List[pb.Frame] = []
        while True:
            available = len(self._buf) - self._pos
            if available < 4:
                break
            (length,) = _LEN.unpack_from(self._buf, self._pos)
            if length == 0:
                raise InvalidArgument("received a frame of length 0")
            if length > self.max_frame_bytes:
                raise ResourceExhausted(
                    f"received a frame of {length} bytes, over max_frame_bytes "
                    f"{self.max_frame_bytes}"
                )
            if available < 4 + length:
                break
            start = self._pos + 4
            frame = pb.Frame()
            try:
                frame.ParseFromString(bytes(self._buf[start : start + length]))
            except Exception as exc:  # google.protobuf.message.DecodeError and friends
                raise InvalidArgument(f"received an undecodable frame: {exc}") from exc
            frames.append(frame)
            self._pos = start + length
        # Compact once at least half of the buffer has been consumed.
        if self._pos and self._pos * 2 >= len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
        return frames


_uuid_lock = threading.Lock()
_last_ms = 0
_last_counter = 0


def uuid7() -> str:
    """A new UUIDv7 (RFC 9562) as lower-case text.

    48-bit Unix milliseconds, version 7, a 12-bit counter (``rand_a``) that starts at a random
    value each millisecond and increases within it, variant ``10``, 62 random bits.
    """
    global _last_ms, _last_counter
    rand = int.from_bytes(os.urandom(10), "big")
    with _uuid_lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            counter = _last_counter + 1
            ms = _last_ms
            if counter > 0xFFF:  # counter overflow: borrow the next millisecond
                ms += 1
                counter = (rand >> 64) & 0x7FF
        else:
            counter = (rand >> 64) & 0x7FF  # leave headroom to increase within the ms
        _last_ms, _last_counter = ms, counter
    value = (
        (ms & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | counter << 64
        | 0b10 << 62
        | (rand & ((1 << 62) - 1))
    )
    return str(uuid.UUID(int=value))
