"""Pure retry decisions: which failures are retried, how long to wait, Retry-After."""

from __future__ import annotations

import email.utils
import random
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from mms_pulumi.client import _defaults

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# Statuses that prove a POST was not acted on: throttled or refused before processing.
POST_SAFE_STATUSES = frozenset({429, 503})
IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "DELETE", "HEAD"})


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


def is_retryable(method: str, failure: Failure) -> bool:
    """Whether repeating the request is safe and may help."""
    if failure.kind is FailureKind.NOT_SENT:
        return True
    if method.upper() in IDEMPOTENT_METHODS:
        return failure.kind is FailureKind.UNKNOWN or failure.status in RETRYABLE_STATUSES
    # A POST creates something: repeat it only when the service provably did not act.
    return failure.kind is FailureKind.STATUS and failure.status in POST_SAFE_STATUSES


def retry_delay(
    method: str,
    failure: Failure,
    attempt: int,
    *,
    policy: RetryPolicy,
    remaining: float | None,
    rng: random.Random,
) -> float | None:
    """Seconds to wait before retry number ``attempt + 1``, or ``None`` to give up.

    ``attempt`` counts retries already made (0 after the first failure). ``remaining`` is
    what is left of the caller's deadline: a retry that cannot start before it is not made.
    ``Retry-After`` wins over the backoff; without it, full jitter up to the backoff.
    """
    if attempt >= policy.max_retries or not is_retryable(method, failure):
        return None
    if failure.retry_after is not None:
        delay = max(0.0, failure.retry_after)
    else:
        ceiling = min(policy.backoff_max, policy.backoff_factor * (2**attempt))
        delay = rng.uniform(0, ceiling)
    if remaining is not None and delay >= remaining:
        return None
    return delay


def parse_retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date); ``None`` if absent or bad."""
    value = headers.get("Retry-After") or headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)
