"""The values the client returns: frozen dataclasses, never protobuf objects."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Union

from ._proto import orchlog_pb2 as pb

__all__ = ["AppendResult", "Health", "LogEntry", "TreeNode"]

_ENTRY_FIELDS = (
    "orchestration_session_log_id",
    "category",
    "parent_exec_id",
    "content",
    "sibling_order",
    "elaboration",
    "seq",
)


@dataclass(frozen=True)
class LogEntry:
    """One row of ``orchestration_session_log``. ``None`` is SQL NULL.

    Entries returned by the server always have ``orchestration_session_log_id``, ``content`` and
    ``seq`` set. When you build one to append, leave ``seq`` unset (the server ignores it) and
    ``orchestration_session_log_id`` unset to have the client generate a UUIDv7.

    Attributes:
        content: the text (required by the server).
        orchestration_session_log_id: the entry's UUID, lower case in responses.
        category: free text, or None.
        parent_exec_id: the parent's UUID, or None for a root.
        sibling_order: the order among siblings; assigned by the server when None on append.
        elaboration: JSON text, or None.
        seq: the row's arrival order (SQLite rowid); output only.
    """

    content: str
    orchestration_session_log_id: Optional[str] = None
    category: Optional[str] = None
    parent_exec_id: Optional[str] = None
    sibling_order: Optional[int] = None
    elaboration: Optional[str] = None
    seq: Optional[int] = None

    @property
    def id(self) -> str:
        """:attr:`orchestration_session_log_id`, always set in entries the server returned.

        Raises:
            ValueError: the id is None (an entry built locally without one).
        """
        if self.orchestration_session_log_id is None:
            raise ValueError("this LogEntry has no orchestration_session_log_id")
        return self.orchestration_session_log_id

    @classmethod
    def _from_pb(cls, m: pb.LogEntry) -> LogEntry:
        def opt(name: str) -> Any:
            return getattr(m, name) if m.HasField(name) else None

        return cls(
            content=m.content,
            orchestration_session_log_id=opt("orchestration_session_log_id"),
            category=opt("category"),
            parent_exec_id=opt("parent_exec_id"),
            sibling_order=opt("sibling_order"),
            elaboration=opt("elaboration"),
            seq=opt("seq"),
        )

    def _to_pb(self) -> pb.LogEntry:
        m = pb.LogEntry()
        for name in _ENTRY_FIELDS[:-1]:  # seq is output only
            value = getattr(self, name)
            if value is not None:
                setattr(m, name, value)
        return m

    @classmethod
    def _coerce(cls, value: Union[LogEntry, Mapping[str, Any]]) -> LogEntry:
        """Accept a LogEntry or a dict with LogEntry's field names (``id`` also works)."""
        if isinstance(value, LogEntry):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(f"expected LogEntry or a mapping, got {type(value).__name__}")
        fields = dict(value)
        if "id" in fields:
            if "orchestration_session_log_id" in fields:
                raise TypeError("give either 'id' or 'orchestration_session_log_id', not both")
            fields["orchestration_session_log_id"] = fields.pop("id")
        unknown = set(fields) - set(_ENTRY_FIELDS)
        if unknown:
            raise TypeError(f"unknown LogEntry field(s): {', '.join(sorted(unknown))}")
        if "elaboration" in fields:
            fields["elaboration"] = _json_text(fields["elaboration"])
        return cls(**{"content": None, **fields})


def _json_text(value: Any) -> Optional[str]:
    """Elaboration as text: ``str`` is sent as is; other values are JSON-encoded once."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class TreeNode:
    """One node of :meth:`orchlog.Client.get_tree`: the entry and its depth (root = 0)."""

    entry: LogEntry
    depth: int

    @classmethod
    def _from_pb(cls, m: pb.TreeNode) -> TreeNode:
        return cls(entry=LogEntry._from_pb(m.entry), depth=m.depth)


@dataclass(frozen=True)
class AppendResult:
    """The outcome of one append.

    Attributes:
        entry: the stored entry, with its id, assigned ``sibling_order`` and ``seq``.
        created: True if this call inserted the row; False if the id already existed with the
            same fields (an idempotent retry).
    """

    entry: LogEntry
    created: bool

    @classmethod
    def _from_pb(cls, m: pb.AppendLogResponse) -> AppendResult:
        return cls(entry=LogEntry._from_pb(m.entry), created=m.created)


@dataclass(frozen=True)
class Health:
    """The server's health answer.

    Attributes:
        status: ``"SERVING"`` when serving.
        version: the server version, e.g. ``"0.1.0"``.
        entry_count: the number of rows in the table.
    """

    status: str
    version: str
    entry_count: int

    @property
    def serving(self) -> bool:
        """True only when :attr:`status` is ``"SERVING"``."""
        return self.status == "SERVING"
