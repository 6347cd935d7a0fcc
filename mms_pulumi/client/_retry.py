"""Pure retry decisions: which failures are retried, how long to wait, Retry-After.

Nothing here sleeps, reads a clock or touches a socket: the caller passes the time left
and the random source, so every decision is a plain function of its inputs.
"""

from __future__ import annotations

import email.utils
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from enum import Enum
from typing import ParamSpec

from mms_pulumi.client import _defaults
from mms_pulumi.errors import MmsError

P = ParamSpec("P")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# Statuses that prove a POST was not acted on: throttled or refused before processing.
POST_SAFE_STATUSES = frozenset({429, 503})
# Statuses after which a POST may or may not have been acted on.
POST_UNKNOWN_STATUSES = frozenset({500, 502, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})


class FailureKind(Enum):
    """How a request attempt failed."""

    NOT_SENT = "not sent"  # nothing reached the service
    UNKNOWN = "outcome unknown"  # sent, no answer
    STATUS = "error status"  # the service answered


@dataclass(frozen=True)
class Failure:
    """One failed attempt, as far as a retry decision needs to know."""

    kind: FailureKind
    status: int | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """How many retries and how long to back off between them."""

    max_retries: int = _defaults.MAX_RETRIES
    backoff_factor: float = _defaults.RETRY_BACKOFF_FACTOR
    backoff_max: float = _defaults.RETRY_BACKOFF_MAX
    retry_after_max: float = _defaults.RETRY_AFTER_MAX


@dataclass
class RetryBudget:
    """The one budget of a logical call: retries made so far and the caller's deadline.

    Every loop that repeats a request (the transport's, and the look-before-repeating loop
    of a creating POST) draws on the same budget, so a call never makes more than
    ``policy.max_retries`` retries in all nor starts one after ``deadline`` (a monotonic
    time; ``None``: no deadline).
    """

    policy: RetryPolicy
    deadline: float | None = None
    used: int = 0

    def remaining(self, now: float) -> float | None:
        """Seconds left before the deadline (``None``: no deadline)."""
        return None if self.deadline is None else self.deadline - now

    def decide(
        self, method: str, failure: Failure, now: float, rng: random.Random
    ) -> RetryDecision:
        """Whether and when to retry after ``failure``; a retry granted is counted as used."""
        decision = decide_retry(
            method, failure, self.used, policy=self.policy, remaining=self.remaining(now), rng=rng
        )
        if decision.delay is not None:
            self.used += 1
        return decision


class Stop(Enum):
    """Why a failed request is not retried."""

    NOT_RETRYABLE = "not safe or not useful to repeat"
    EXHAUSTED = "retries used up"
    DEADLINE = "the next try would start after the deadline"
    RETRY_AFTER_TOO_LONG = "the service asked for a longer wait than the client allows"


@dataclass(frozen=True)
class RetryDecision:
    """Retry after ``delay`` seconds, or stop for ``stop``."""

    delay: float | None
    stop: Stop | None = None


class DeadlineReached(Exception):
    """A request gave up because its next retry would start after the caller's deadline."""

    def __init__(self, error: MmsError) -> None:
        super().__init__(str(error))
        self.error = error


def is_retryable(method: str, failure: Failure) -> bool:
    """Whether repeating the request is safe and may help."""
    if failure.kind is FailureKind.NOT_SENT:
        return True
    if method.upper() in IDEMPOTENT_METHODS:
        return failure.kind is FailureKind.UNKNOWN or failure.status in RETRYABLE_STATUSES
    # A POST creates something: repeat it only when the service provably did not act.
    return failure.kind is FailureKind.STATUS and failure.status in POST_SAFE_STATUSES


def outcome_unknown(method: str, failure: Failure) -> bool:
    """Whether a failed non-idempotent request may still have been acted on."""
    if method.upper() in IDEMPOTENT_METHODS:
        return False
    return failure.kind is FailureKind.UNKNOWN or (
        failure.kind is FailureKind.STATUS and failure.status in POST_UNKNOWN_STATUSES
    )


def backoff(attempt: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, factor * 2**attempt)]."""
    ceiling = min(policy.backoff_max, policy.backoff_factor * (2 ** min(attempt, 62)))
    return rng.uniform(0.0, max(0.0, ceiling))


def decide_retry(
    method: str,
    failure: Failure,
    attempt: int,
    *,
    policy: RetryPolicy,
    remaining: float | None,
    rng: random.Random,
) -> RetryDecision:
    """Whether and when to make retry number ``attempt + 1``.

    ``attempt`` counts retries already made (0 after the first failure). ``remaining`` is
    what is left of the caller's deadline: a retry that cannot start before it is not made.
    ``Retry-After`` wins over the backoff; without it, full jitter up to the backoff.
    """
    if not is_retryable(method, failure):
        return RetryDecision(None, Stop.NOT_RETRYABLE)
    if attempt >= policy.max_retries:
        return RetryDecision(None, Stop.EXHAUSTED)
    if failure.retry_after is not None:
        if failure.retry_after > policy.retry_after_max:
            return RetryDecision(None, Stop.RETRY_AFTER_TOO_LONG)
        delay = max(0.0, failure.retry_after)
    else:
        delay = backoff(attempt, policy, rng)
    if remaining is not None and delay >= remaining:
        return RetryDecision(None, Stop.DEADLINE)
    return RetryDecision(delay)


def _delay_only(decide: Callable[P, RetryDecision]) -> Callable[P, float | None]:
    def delay(*args: P.args, **kwargs: P.kwargs) -> float | None:
        return decide(*args, **kwargs).delay

    return delay


retry_delay = _delay_only(decide_retry)
retry_delay.__name__ = "retry_delay"
retry_delay.__doc__ = """``decide_retry(...).delay``: seconds to wait before retry number
``attempt + 1``, or ``None`` to give up."""


def parse_retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """The wait the service asked for, in seconds; ``None`` if absent or unreadable.

    Reads ``retry-after-ms`` / ``x-ms-retry-after-ms`` (milliseconds, as Azure services
    send) and ``Retry-After`` as delta-seconds or an HTTP date (``now`` is epoch seconds).
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        millis = _number(lowered.get(name))
        if millis is not None:
            return millis / 1000.0
    value = lowered.get("retry-after")
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # "-0000" parses as naive; HTTP dates are always GMT.
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    return max(0.0, number)
