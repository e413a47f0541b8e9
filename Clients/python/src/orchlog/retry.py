"""The retry policy: capped exponential backoff with full jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import FrozenSet

from .errors import OrchLogError, StatusCode

__all__ = ["NO_RETRY", "RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """When and how often the client retries a failed call.

    A call is retried when it fails with a code in :attr:`retryable_codes` (transport failures
    count as UNAVAILABLE), or with a RESOURCE_EXHAUSTED the server marked retryable (``details``
    ``"retryable": "true"``: too many concurrent calls, never processed), and fewer than
    :attr:`max_attempts` attempts were made, within the call's deadline. Before attempt *n* + 1
    the client sleeps a random time in
    ``[0, min(max_backoff, initial_backoff * multiplier ** (n - 1))]`` ("full jitter") and
    reconnects if the connection was lost. Appends keep their id across attempts, so a retry
    never inserts a duplicate.

    Attributes:
        max_attempts: attempts in total, the first included (>= 1; 1 disables retries).
        initial_backoff: the cap of the first delay, in seconds (> 0).
        max_backoff: the largest cap, in seconds (>= initial_backoff).
        multiplier: growth of the cap per attempt (>= 1).
        retryable_codes: the status codes that are retried.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    multiplier: float = 2.0
    retryable_codes: FrozenSet[StatusCode] = field(
        default_factory=lambda: frozenset({StatusCode.UNAVAILABLE})
    )

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if not self.initial_backoff > 0:
            raise ValueError(f"initial_backoff must be > 0, got {self.initial_backoff}")
        if not self.max_backoff >= self.initial_backoff:
            raise ValueError(
                f"max_backoff must be >= initial_backoff ({self.initial_backoff}), "
                f"got {self.max_backoff}"
            )
        if not self.multiplier >= 1:
            raise ValueError(f"multiplier must be >= 1, got {self.multiplier}")
        object.__setattr__(
            self, "retryable_codes", frozenset(StatusCode(c) for c in self.retryable_codes)
        )

    def is_retryable(self, error: OrchLogError) -> bool:
        """True if ``error``'s code is one of :attr:`retryable_codes`, or it is a
        RESOURCE_EXHAUSTED the server marked retryable (PROTOCOL.md sections 4 and 8)."""
        if error.code in self.retryable_codes:
            return True
        return error.code == StatusCode.RESOURCE_EXHAUSTED and error.server_says_retryable

    def backoff(self, attempt: int) -> float:
        """The delay, in seconds, after failed attempt number ``attempt`` (1-based)."""
        cap = min(self.max_backoff, self.initial_backoff * self.multiplier ** max(0, attempt - 1))
        return random.uniform(0.0, cap)


#: A policy that never retries.
NO_RETRY = RetryPolicy(max_attempts=1)
