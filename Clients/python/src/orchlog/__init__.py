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
    "DEFAULT_RETRY",
    "NO_RETRY",
    "Aborted",
    "AlreadyExists",
    "AppendResult",
    "Cancelled",
    "Client",
    "DataLoss",
    "DeadlineExceeded",
    "FailedPrecondition",
    "Health",
    "Internal",
    "InvalidArgument",
    "LogEntry",
    "LogStream",
    "NotFound",
    "OrchLogError",
    "OutOfRange",
    "PermissionDenied",
    "ResourceExhausted",
    "RetryPolicy",
    "StatusCode",
    "TransportError",
    "TreeNode",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unknown",
    "__version__",
    "error_from_code",
    "uuid7",
]
