"""Status codes and the exceptions raised by the orchlog client.

Every error raised by the client is an :class:`OrchLogError`. It carries a :class:`StatusCode`
(gRPC's numbers and names, ``docs/PROTOCOL.md`` section 8) and the server's message. Each code has
its own subclass, so callers can ``except NotFound:``; :func:`error_from_code` maps a code to its
class. Transport failures (connection refused, reset or lost, ``goaway``) raise
:class:`TransportError`, which is both an :class:`Unavailable` and a builtin
:class:`ConnectionError`.
"""

from __future__ import annotations

import builtins
import enum
from typing import Dict, Mapping, Optional, Type

__all__ = [
    "Aborted",
    "AlreadyExists",
    "Cancelled",
    "DataLoss",
    "DeadlineExceeded",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "OrchLogError",
    "OutOfRange",
    "PermissionDenied",
    "ResourceExhausted",
    "StatusCode",
    "TransportError",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unknown",
    "error_from_code",
]


class StatusCode(enum.IntEnum):
    """gRPC status codes, as carried by ``CallEnd.code`` and ``GoAway.code``."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class OrchLogError(Exception):
    """Base class of every error raised by the orchlog client.

    Attributes:
        code: the status code of the failure.
        message: the server's (or the client's) human-readable message.
        details: the ``details`` of the server's ``CallEnd`` (empty for local failures), e.g.
            ``{"retryable": "true"}`` on RESOURCE_EXHAUSTED for too many concurrent calls.
    """

    #: The code that instances of this class carry by default.
    default_code: StatusCode = StatusCode.UNKNOWN

    def __init__(
        self,
        message: str = "",
        code: Optional[StatusCode] = None,
        *,
        details: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.code: StatusCode = self.default_code if code is None else StatusCode(code)
        self.message: str = message
        self.details: Dict[str, str] = dict(details or {})
        super().__init__(message)

    @property
    def server_says_retryable(self) -> bool:
        """True when the server marked the failure retryable (``details["retryable"] == "true"``;
        today only RESOURCE_EXHAUSTED for too many concurrent calls, which was never processed)."""
        return self.details.get("retryable") == "true"

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}" if self.message else self.code.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code.name}, message={self.message!r})"


class Cancelled(OrchLogError):
    """CANCELLED: the call was cancelled (by this client)."""

    default_code = StatusCode.CANCELLED


class Unknown(OrchLogError):
    """UNKNOWN: a status code this client does not know, or an unknown failure."""

    default_code = StatusCode.UNKNOWN


class InvalidArgument(OrchLogError):
    """INVALID_ARGUMENT: a request field is invalid; the message starts with its path."""

    default_code = StatusCode.INVALID_ARGUMENT


class DeadlineExceeded(OrchLogError):
    """DEADLINE_EXCEEDED: the call's deadline passed before it completed."""

    default_code = StatusCode.DEADLINE_EXCEEDED


class NotFound(OrchLogError):
    """NOT_FOUND: the entry (id, root or parent) does not exist."""

    default_code = StatusCode.NOT_FOUND


class AlreadyExists(OrchLogError):
    """ALREADY_EXISTS: an entry with this id exists with different fields."""

    default_code = StatusCode.ALREADY_EXISTS


class PermissionDenied(OrchLogError):
    """PERMISSION_DENIED (not sent by orchlogd 0.1)."""

    default_code = StatusCode.PERMISSION_DENIED


class ResourceExhausted(OrchLogError):
    """RESOURCE_EXHAUSTED: too many calls or connections, or a message over the frame limit."""

    default_code = StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(OrchLogError):
    """FAILED_PRECONDITION: e.g. an append whose parent does not exist."""

    default_code = StatusCode.FAILED_PRECONDITION


class Aborted(OrchLogError):
    """ABORTED (not sent by orchlogd 0.1)."""

    default_code = StatusCode.ABORTED


class OutOfRange(OrchLogError):
    """OUT_OF_RANGE: a sibling_order could not be assigned."""

    default_code = StatusCode.OUT_OF_RANGE


class Unimplemented(OrchLogError):
    """UNIMPLEMENTED: the server does not know the method."""

    default_code = StatusCode.UNIMPLEMENTED


class Internal(OrchLogError):
    """INTERNAL: an unexpected server failure (e.g. database corruption)."""

    default_code = StatusCode.INTERNAL


class Unavailable(OrchLogError):
    """UNAVAILABLE: storage unavailable or server draining; retried by the default policy."""

    default_code = StatusCode.UNAVAILABLE


class DataLoss(OrchLogError):
    """DATA_LOSS (not sent by orchlogd 0.1)."""

    default_code = StatusCode.DATA_LOSS


class Unauthenticated(OrchLogError):
    """UNAUTHENTICATED: the server requires an auth token (``--auth-token-file``) and the
    client's ``auth_token`` was missing or wrong. The default policy does not retry it."""

    default_code = StatusCode.UNAUTHENTICATED


class TransportError(Unavailable, builtins.ConnectionError):
    """The connection could not be made, broke, or was closed by a ``goaway``.

    Its code is UNAVAILABLE, so it is retried like UNAVAILABLE. It is also a builtin
    :class:`ConnectionError`. ``goaway_code`` holds the code of the server's ``goaway`` when one
    ended the connection, else None. ``processed`` is False when the server certainly never saw
    the call (above the goaway's ``last_call_id``, or a draining connection), else None
    (unknown). An append that failed with this error may have committed; retrying it with the
    same id is safe.
    """

    def __init__(
        self,
        message: str = "",
        code: Optional[StatusCode] = None,
        *,
        goaway_code: Optional[StatusCode] = None,
        processed: Optional[bool] = None,
    ) -> None:
        # ConnectionError is an OSError; initialise through OrchLogError so that args stay
        # (message,) and errno stays None.
        OrchLogError.__init__(self, message, code)
        self.goaway_code: Optional[StatusCode] = goaway_code
        self.processed: Optional[bool] = processed

    def __str__(self) -> str:
        return OrchLogError.__str__(self)


_CLASSES: Dict[StatusCode, Type[OrchLogError]] = {
    StatusCode.CANCELLED: Cancelled,
    StatusCode.UNKNOWN: Unknown,
    StatusCode.INVALID_ARGUMENT: InvalidArgument,
    StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    StatusCode.NOT_FOUND: NotFound,
    StatusCode.ALREADY_EXISTS: AlreadyExists,
    StatusCode.PERMISSION_DENIED: PermissionDenied,
    StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    StatusCode.ABORTED: Aborted,
    StatusCode.OUT_OF_RANGE: OutOfRange,
    StatusCode.UNIMPLEMENTED: Unimplemented,
    StatusCode.INTERNAL: Internal,
    StatusCode.UNAVAILABLE: Unavailable,
    StatusCode.DATA_LOSS: DataLoss,
    StatusCode.UNAUTHENTICATED: Unauthenticated,
}


def error_from_code(
    code: int, message: str = "", details: Optional[Mapping[str, str]] = None
) -> OrchLogError:
    """Build the exception for a non-OK status ``code``.

    Args:
        code: a gRPC status code number. Numbers unknown to this client map to :class:`Unknown`
            (with code UNKNOWN); OK also maps to :class:`Unknown`, as it is not an error.
        message: the status message.
        details: the ``CallEnd.details``, kept in :attr:`OrchLogError.details`.

    Returns:
        An instance of the subclass registered for ``code``.
    """
    try:
        status = StatusCode(code)
    except ValueError:
        text = f"status code {code}: {message}" if message else f"status code {code}"
        return Unknown(text, details=details)
    cls = _CLASSES.get(status, Unknown)
    return cls(message, status if cls is not Unknown else StatusCode.UNKNOWN, details=details)
