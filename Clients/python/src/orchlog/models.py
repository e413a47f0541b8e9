"""The values the client returns: frozen dataclasses, never protobuf objects."""

from __future__ import annotations

import json
import operator
import uuid
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Union

from ._proto import orchlog_pb2 as pb

__all__ = ["AppendResult", "Health", "LogEntry", "TreeNode"]

#: What the client accepts for an entry id: text (any case) or a :class:`uuid.UUID`.
IdArg = Union[str, uuid.UUID]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1

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

    def _checked(self, prefix: str = "") -> LogEntry:
        """This entry ready to send: ids as text, ``elaboration`` as JSON text.

        Returns ``self`` when nothing needs converting. ``seq`` (output only) is not checked.
        A ``content`` of None is let through: the server refuses it with INVALID_ARGUMENT.

        Args:
            prefix: prepended to the field names in error messages, e.g. ``"entries[2]."``.

        Raises:
            TypeError: a field of the wrong type (text fields must be ``str``, ids ``str`` or
                :class:`uuid.UUID`, ``sibling_order`` an ``int``), or an ``elaboration`` that
                ``json.dumps`` cannot encode.
            ValueError: ``sibling_order`` outside int64, text that is not valid Unicode (lone
                surrogates), or an ``elaboration`` holding NaN or infinity (not JSON).
        """
        checked = LogEntry(
            content=_arg_text(self.content, prefix + "content"),  # type: ignore[arg-type]
            orchestration_session_log_id=_arg_id(
                self.orchestration_session_log_id, prefix + "orchestration_session_log_id"
            ),
            category=_arg_text(self.category, prefix + "category"),
            parent_exec_id=_arg_id(self.parent_exec_id, prefix + "parent_exec_id"),
            sibling_order=(
                None
                if self.sibling_order is None
                else _arg_int(self.sibling_order, prefix + "sibling_order", INT64_MIN, INT64_MAX)
            ),
            elaboration=_json_text(self.elaboration, prefix + "elaboration"),
            seq=self.seq,
        )
        if all(getattr(checked, name) is getattr(self, name) for name in _ENTRY_FIELDS):
            return self
        return checked

    @classmethod
    def _coerce(cls, value: Union[LogEntry, Mapping[str, Any]], name: str = "entry") -> LogEntry:
        """Accept a LogEntry or a dict with LogEntry's field names (``id`` also works).

        The result is checked with :meth:`_checked`; ``name`` (e.g. ``"entries[2]"``) starts
        the error messages.
        """
        if isinstance(value, LogEntry):
            return value._checked(f"{name}.")
        if not isinstance(value, Mapping):
            raise TypeError(f"{name}: expected LogEntry or a mapping, got {type(value).__name__}")
        fields = dict(value)
        if "id" in fields:
            if "orchestration_session_log_id" in fields:
                raise TypeError(
                    f"{name}: give either 'id' or 'orchestration_session_log_id', not both"
                )
            fields["orchestration_session_log_id"] = fields.pop("id")
        unknown = set(fields) - set(_ENTRY_FIELDS)
        if unknown:
            raise TypeError(f"{name}: unknown LogEntry field(s): {', '.join(sorted(unknown))}")
        return cls(**{"content": None, **fields})._checked(f"{name}.")


def _arg_text(value: object, name: str) -> Optional[str]:
    """``value`` if it is None or a ``str`` that can be sent as UTF-8.

    Raises:
        TypeError: any other type (``bytes`` included), naming ``name``.
        ValueError: a ``str`` with lone surrogates, which UTF-8 cannot encode.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{name} is not valid Unicode text ({exc.reason} at index {exc.start})"
        ) from None
    return value


def _arg_id(value: object, name: str) -> Optional[str]:
    """An entry id as text: a ``str`` as is (the server checks its form), a UUID as text.

    Raises:
        TypeError: neither None, ``str`` nor :class:`uuid.UUID`, naming ``name``.
    """
    if isinstance(value, uuid.UUID):
        return str(value)
    if value is None or isinstance(value, str):
        return _arg_text(value, name)
    raise TypeError(f"{name} must be a str or uuid.UUID, got {type(value).__name__}")


def _arg_int(value: object, name: str, low: int, high: int, note: str = "") -> int:
    """``value`` as an ``int`` in ``low..high`` (``bool`` is refused).

    Raises:
        TypeError: not an integer, naming ``name``.
        ValueError: outside ``low..high``; ``note`` is appended to the message.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got bool")
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__}") from None
    if number < low:
        raise ValueError(f"{name} must be >= {low}{note}, got {number}")
    if number > high:
        raise ValueError(f"{name} must be <= {high}{note}, got {number}")
    return number


def _arg_bool(value: object, name: str) -> bool:
    """``value`` if it is a ``bool``.

    Raises:
        TypeError: any other type, naming ``name``.
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def _json_text(value: Any, name: str = "elaboration") -> Optional[str]:
    """Elaboration as text: ``str`` is sent as is; other values are JSON-encoded once.

    Encoding is strict JSON (``allow_nan=False``), so what the server would refuse as invalid
    JSON fails here, before anything is sent.

    Raises:
        TypeError: ``json.dumps`` cannot encode the value (a set, bytes, ...), naming ``name``.
        ValueError: it holds NaN or infinity, or a circular reference; or the text is not valid
            Unicode.
    """
    if value is None or isinstance(value, str):
        return _arg_text(value, name)
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except TypeError as exc:
        raise TypeError(f"{name} is not JSON-serialisable: {exc}") from exc
    except ValueError as exc:  # NaN or infinity (not JSON), a circular reference
        hint = " (NaN and infinity have no JSON form)" if "float" in str(exc) else ""
        raise ValueError(f"{name} cannot be encoded as JSON: {exc}{hint}") from exc
    return _arg_text(text, name)


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
