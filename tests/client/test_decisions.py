"""Pure decisions of the client: retry or not, how long to wait, when to poll."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from mms_pulumi.client import Failure, FailureKind, PollSchedule, RetryPolicy, is_retryable
from mms_pulumi.client._retry import parse_retry_after, retry_delay
from mms_pulumi.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    HttpResponseError,
    NotFoundError,
    ServerError,
    ThrottledError,
    error_class_for,
)

NOT_SENT = Failure(FailureKind.NOT_SENT)
UNKNOWN = Failure(FailureKind.UNKNOWN)


def status(code: int, retry_after: float | None = None) -> Failure:
    return Failure(FailureKind.STATUS, code, retry_after)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize(
    "failure", [NOT_SENT, UNKNOWN, status(429), status(500), status(502), status(503), status(504)]
)
def test_idempotent_methods_retry_transient_failures(method: str, failure: Failure) -> None:
    assert is_retryable(method, failure)


@pytest.mark.parametrize("failure", [status(400), status(401), status(404), status(409)])
def test_client_errors_are_never_retried(failure: Failure) -> None:
    assert not is_retryable("GET", failure)
    assert not is_retryable("POST", failure)


@pytest.mark.parametrize(
    ("failure", "retried"),
    [
        (NOT_SENT, True),
        (status(429), True),
        (status(503), True),
        (UNKNOWN, False),
        (status(500), False),
        (status(502), False),
        (status(504), False),
    ],
)
def test_post_is_retried_only_when_the_service_provably_did_not_act(
    failure: Failure, retried: bool
) -> None:
    assert is_retryable("POST", failure) is retried


def test_backoff_is_full_jitter_growing_to_the_cap() -> None:
    policy = RetryPolicy(max_retries=10, backoff_factor=0.5, backoff_max=4.0)
    rng = random.Random(1)
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (6, 4.0)]:
        delays = [
            retry_delay("GET", status(503), attempt, policy=policy, remaining=None, rng=rng)
            for _ in range(200)
        ]
        assert all(d is not None and 0 <= d <= ceiling for d in delays)
        assert max(d for d in delays if d is not None) > ceiling * 0.8


def test_retry_after_wins_over_backoff() -> None:
    delay = retry_delay(
        "POST", status(429, 7.0), 0, policy=RetryPolicy(), remaining=None, rng=random.Random(0)
    )
    assert delay == 7.0


def test_no_retry_past_the_deadline_or_the_limit() -> None:
    policy = RetryPolicy(max_retries=2)
    rng = random.Random(0)
    assert retry_delay("GET", status(429, 5.0), 0, policy=policy, remaining=4.0, rng=rng) is None
    assert retry_delay("GET", status(429, 3.0), 0, policy=policy, remaining=4.0, rng=rng) == 3.0
    assert retry_delay("GET", status(503), 2, policy=policy, remaining=None, rng=rng) is None


def test_retry_after_seconds_and_http_date() -> None:
    now = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after({"Retry-After": "3"}, now) == 3.0
    assert parse_retry_after({"Retry-After": "1.5"}, now) == 1.5
    later = format_datetime(datetime(2026, 11, 22, 12, 0, 20, tzinfo=UTC), usegmt=True)
    assert parse_retry_after({"Retry-After": later}, now) == 20.0
    earlier = format_datetime(datetime(2026, 11, 22, 11, 0, 0, tzinfo=UTC), usegmt=True)
    assert parse_retry_after({"Retry-After": earlier}, now) == 0.0
    assert parse_retry_after({"Retry-After": "soon"}, now) is None
    assert parse_retry_after({}, now) is None


@pytest.mark.parametrize("duration", [1.0, 10.0, 60.0])
def test_completion_is_noticed_within_ten_percent(duration: float) -> None:
    schedule = PollSchedule()
    # Walk the schedule: the gap around the moment the operation ends is the noticing delay.
    elapsed, gaps = 0.0, []
    while elapsed < duration:
        delay = schedule.next_delay(elapsed)
        gaps.append((elapsed, elapsed + delay))
        elapsed += delay
    _start, end = gaps[-1]
    assert end - duration <= 0.1 * duration
    assert schedule.worst_noticing_delay(duration) <= 0.1 * duration
    assert len(gaps) < 10 * duration**0.5 + 20


def test_poll_delay_respects_retry_after_but_not_past_the_deadline() -> None:
    schedule = PollSchedule(interval=5.0)
    assert schedule.next_delay(0.0) == pytest.approx(0.1)
    assert schedule.next_delay(1000.0) == 5.0
    assert schedule.next_delay(1.0, retry_after=3.0) == 3.0
    assert schedule.next_delay(1.0, retry_after=3.0, remaining=0.5) == 0.5


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (404, NotFoundError),
        (409, ConflictError),
        (429, ThrottledError),
        (500, ServerError),
        (503, ServerError),
        (418, HttpResponseError),
    ],
)
def test_status_maps_to_error_class(code: int, cls: type) -> None:
    assert error_class_for(code) is cls
