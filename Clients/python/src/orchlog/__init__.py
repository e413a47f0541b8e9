"""Python client of orchlog, the orchestration session log server (protocol v1).

Example::

    import orchlog

    with orchlog.Client("127.0.0.1", 7700) as client:
        root = client.append_log(content="run", category="session").entry
        client.append_log(content="step 1", parent_exec_id=root.id)
        for node in client.get_tree(root.id):
            print("  " * node.depth + node.entry.content)
"""

from ._wire import uuid7
from .client import DEFAULT_RETRY, Client, LogStream
from .errors import (
    Aborted,
    AlreadyExists,
    Cancelled,
    DataLoss,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    OrchLogError,
    OutOfRange,
    PermissionDenied,
    ResourceExhausted,
    StatusCode,
    TransportError,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    Unknown,
    error_from_code,
)
from .models import AppendResult, Health, LogEntry, TreeNode
from .retry import NO_RETRY, RetryPolicy

__version__ = "0.1.0"

__all__ = [
    "Client",
    "LogStream",
    "LogEntry",
    "TreeNode",
    "AppendResult",
    "Health",
    "RetryPolicy",
    "DEFAULT_RETRY",
    "NO_RETRY",
    "uuid7",
    "StatusCode",
    "OrchLogError",
    "Cancelled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
    "TransportError",
    "error_from_code",
    "__version__",
]
