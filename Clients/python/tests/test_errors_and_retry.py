"""Exceptions and the retry policy, without a server."""

from __future__ import annotations

import pytest

import orchlog
from orchlog import OrchLogError, RetryPolicy, StatusCode, error_from_code

EXPECTED = {
    StatusCode.CANCELLED: orchlog.Cancelled,
    StatusCode.UNKNOWN: orchlog.Unknown,
    StatusCode.INVALID_ARGUMENT: orchlog.InvalidArgument,
    StatusCode.DEADLINE_EXCEEDED: orchlog.DeadlineExceeded,
    StatusCode.NOT_FOUND: orchlog.NotFound,
    StatusCode.ALREADY_EXISTS: orchlog.AlreadyExists,
    StatusCode.PERMISSION_DENIED: orchlog.PermissionDenied,
    StatusCode.RESOURCE_EXHAUSTED: orchlog.ResourceExhausted,
    StatusCode.FAILED_PRECONDITION: orchlog.FailedPrecondition,
    StatusCode.ABORTED: orchlog.Aborted,
    StatusCode.OUT_OF_RANGE: orchlog.OutOfRange,
    StatusCode.UNIMPLEMENTED: orchlog.Unimplemented,
    StatusCode.INTERNAL: orchlog.Internal,
    StatusCode.UNAVAILABLE: orchlog.Unavailable,
    StatusCode.DATA_LOSS: orchlog.DataLoss,
    StatusCode.UNAUTHENTICATED: orchlog.Unauthenticated,
}


def test_status_codes_are_grpc_numbers() -> None:
    assert StatusCode.NOT_FOUND == 5 and StatusCode.UNAVAILABLE == 14
    assert [c.value for c in StatusCode] == list(range(17))


@pytest.mark.parametrize("code", list(EXPECTED))
def test_factory_maps_each_code_to_its_class(code: StatusCode) -> None:
    err = error_from_code(int(code), "msg")
    assert type(err) is EXPECTED[code]
    assert isinstance(err, OrchLogError)
    assert err.code == code and err.message == "msg"
    assert str(err) == f"{code.name}: msg"


def test_factory_unknown_number() -> None:
    err = error_from_code(99, "x")
    assert type(err) is orchlog.Unknown and err.code == StatusCode.UNKNOWN
    assert "99" in err.message


def test_transport_error_is_connection_error_and_unavailable() -> None:
    err = orchlog.TransportError("lost", goaway_code=StatusCode.OK)
    assert isinstance(err, ConnectionError)
    assert isinstance(err, orchlog.Unavailable)
    assert err.code == StatusCode.UNAVAILABLE and err.goaway_code == StatusCode.OK
    assert err.errno is None and str(err) == "UNAVAILABLE: lost"


def test_retry_policy_validation() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(initial_backoff=0)
    with pytest.raises(ValueError):
        RetryPolicy(initial_backoff=2, max_backoff=1)
    with pytest.raises(ValueError):
        RetryPolicy(multiplier=0.5)


def test_retry_policy_backoff_is_capped_full_jitter() -> None:
    policy = RetryPolicy(initial_backoff=0.1, max_backoff=0.5, multiplier=2)
    for attempt, cap in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (10, 0.5)]:
        delays = [policy.backoff(attempt) for _ in range(300)]
        assert all(0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.7  # jitter spreads over the whole range
        assert min(delays) < cap * 0.3


def test_retry_policy_codes() -> None:
    policy = RetryPolicy()
    assert policy.is_retryable(orchlog.Unavailable("x"))
    assert policy.is_retryable(orchlog.TransportError("x"))
    assert not policy.is_retryable(orchlog.NotFound("x"))
    custom = RetryPolicy(retryable_codes=frozenset({StatusCode.RESOURCE_EXHAUSTED}))
    assert custom.is_retryable(orchlog.ResourceExhausted("x"))
    assert not custom.is_retryable(orchlog.Unavailable("x"))


def test_retryable_resource_exhausted_follows_the_servers_detail() -> None:
    policy = RetryPolicy()
    marked = error_from_code(int(StatusCode.RESOURCE_EXHAUSTED), "busy", {"retryable": "true"})
    assert type(marked) is orchlog.ResourceExhausted
    assert marked.details == {"retryable": "true"} and marked.server_says_retryable
    assert policy.is_retryable(marked)
    assert not policy.is_retryable(orchlog.ResourceExhausted("response too large"))
    other = error_from_code(int(StatusCode.NOT_FOUND), "x", {"retryable": "true"})
    assert not policy.is_retryable(other)
