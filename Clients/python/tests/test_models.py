"""The dataclasses and their protobuf conversion, without a server."""

from __future__ import annotations

import dataclasses

import pytest

from orchlog import LogEntry
from orchlog._proto import orchlog_pb2 as pb


def test_absent_and_default_values_stay_apart() -> None:
    entry = LogEntry(content="", category="", sibling_order=0, elaboration="null")
    m = entry._to_pb()
    assert m.HasField("content") and m.HasField("category") and m.HasField("sibling_order")
    assert not m.HasField("parent_exec_id") and not m.HasField("orchestration_session_log_id")
    assert not m.HasField("seq")
    back = LogEntry._from_pb(pb.LogEntry.FromString(m.SerializeToString()))
    assert back == entry
    assert LogEntry._from_pb(pb.LogEntry(content="x")).category is None


def test_seq_is_never_sent() -> None:
    assert not LogEntry(content="x", seq=5)._to_pb().HasField("seq")


def test_coerce_dicts() -> None:
    entry = LogEntry._coerce({"id": "abc", "content": "x", "elaboration": {"k": [1]}})
    assert entry.orchestration_session_log_id == "abc" and entry.id == "abc"
    assert entry.elaboration == '{"k":[1]}'
    assert LogEntry._coerce(entry) is entry
    missing = LogEntry._coerce({"category": "c"})
    assert missing.content is None  # sent without content; the server refuses it
    with pytest.raises(TypeError):
        LogEntry._coerce({"content": "x", "bogus": 1})
    with pytest.raises(TypeError):
        LogEntry._coerce({"content": "x", "id": "a", "orchestration_session_log_id": "b"})
    with pytest.raises(TypeError):
        LogEntry._coerce(["content"])  # type: ignore[arg-type]


def test_id_property_and_frozen() -> None:
    with pytest.raises(ValueError):
        _ = LogEntry(content="no id").id
    entry = LogEntry(content="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.category = "c"  # type: ignore[misc]
