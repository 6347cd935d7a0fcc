"""Pure decisions of the client: retry or not, how long to wait, when to poll, what matches.

No sockets, no sleeping: every function takes the time left and the random source.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mms_pulumi.client import (
    Failure,
    FailureKind,
    PollSchedule,
    RetryPolicy,
    Stop,
    decide_retry,
    is_retryable,
    parse_retry_after,
    retry_delay,
)
from mms_pulumi.client._reconcile import (
    Ambiguous,
    Match,
    image_match,
    manifest_match,
    model_match,
    pick,
    service_match,
)
from mms_pulumi.client._retry import backoff, outcome_unknown
from mms_pulumi.schema import (
    CreateImageRequest,
    CreateManifestRequest,
    CreateServiceRequest,
    Image,
    Manifest,
    Model,
    RegisterModelRequest,
    Service,
)

NOT_SENT = Failure(FailureKind.NOT_SENT)
UNKNOWN = Failure(FailureKind.UNKNOWN)
NOW = datetime(2030, 1, 1, tzinfo=UTC).timestamp()


def status(code: int, retry_after: float | None = None) -> Failure:
    return Failure(FailureKind.STATUS, code, retry_after)


# --- which failures are retried ----------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize(
    "failure", [NOT_SENT, UNKNOWN, status(429), status(500), status(502), status(503), status(504)]
)
def test_idempotent_methods_retry_transient_failures(method: str, failure: Failure) -> None:
    assert is_retryable(method, failure)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "POST"])
@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 413, 501])
def test_client_errors_are_never_retried(method: str, code: int) -> None:
    assert not is_retryable(method, status(code))


@pytest.mark.parametrize(
    ("failure", "retried", "unknown"),
    [
        (NOT_SENT, True, False),
        (status(429), True, False),
        (status(503), True, False),
        (UNKNOWN, False, True),
        (status(500), False, True),
        (status(502), False, True),
        (status(504), False, True),
        (status(400), False, False),
    ],
)
def test_post_is_retried_only_when_the_service_provably_did_not_act(
    failure: Failure, retried: bool, unknown: bool
) -> None:
    assert is_retryable("POST", failure) is retried
    assert outcome_unknown("POST", failure) is unknown
    assert not outcome_unknown("PUT", failure)


# --- how long to wait between retries ----------------------------------------------------------


def test_backoff_is_full_jitter_under_a_doubling_ceiling() -> None:
    policy = RetryPolicy(max_retries=10, backoff_factor=0.5, backoff_max=4.0)
    rng = random.Random(1)
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (6, 4.0)]:
        delays = [backoff(attempt, policy, rng) for _ in range(300)]
        assert all(0 <= d <= ceiling for d in delays)
        # Full jitter spreads over the whole range, not just near the ceiling.
        assert min(delays) < ceiling * 0.1 and max(delays) > ceiling * 0.9


@given(
    attempt=st.integers(0, 200),
    factor=st.floats(0, 10),
    cap=st.floats(0, 600),
    seed=st.integers(0, 2**32),
)
def test_backoff_never_exceeds_its_cap(attempt: int, factor: float, cap: float, seed: int) -> None:
    policy = RetryPolicy(max_retries=1000, backoff_factor=factor, backoff_max=cap)
    assert 0 <= backoff(attempt, policy, random.Random(seed)) <= cap


def test_retry_after_wins_over_backoff() -> None:
    delay = retry_delay(
        "POST", status(429, 7.0), 0, policy=RetryPolicy(), remaining=None, rng=random.Random(0)
    )
    assert delay == 7.0


def test_no_retry_past_the_deadline_the_limit_or_an_excessive_retry_after() -> None:
    policy = RetryPolicy(max_retries=2, retry_after_max=60.0)
    rng = random.Random(0)

    def decide(failure: Failure, attempt: int = 0, remaining: float | None = None) -> Stop | None:
        return decide_retry(
            "GET", failure, attempt, policy=policy, remaining=remaining, rng=rng
        ).stop

    assert decide(status(429, 5.0), remaining=4.0) is Stop.DEADLINE
    assert decide(status(429, 3.0), remaining=4.0) is None
    assert decide(status(503), attempt=2) is Stop.EXHAUSTED
    assert decide(status(429, 61.0)) is Stop.RETRY_AFTER_TOO_LONG
    assert decide(status(404)) is Stop.NOT_RETRYABLE


@given(remaining=st.floats(0, 100), attempt=st.integers(0, 9), seed=st.integers(0, 2**16))
def test_a_retry_always_starts_before_the_deadline(
    remaining: float, attempt: int, seed: int
) -> None:
    delay = retry_delay(
        "GET",
        status(503),
        attempt,
        policy=RetryPolicy(),
        remaining=remaining,
        rng=random.Random(seed),
    )
    assert delay is None or delay < remaining


def test_retry_after_as_seconds_http_date_and_milliseconds() -> None:
    assert parse_retry_after({"Retry-After": "3"}, NOW) == 3.0
    assert parse_retry_after({"retry-after": " 1.5 "}, NOW) == 1.5
    later = format_datetime(datetime(2030, 1, 1, 0, 0, 20, tzinfo=UTC), usegmt=True)
    assert parse_retry_after({"Retry-After": later}, NOW) == 20.0
    earlier = format_datetime(datetime(2029, 12, 31, 23, 0, 0, tzinfo=UTC), usegmt=True)
    assert parse_retry_after({"Retry-After": earlier}, NOW) == 0.0
    assert parse_retry_after({"x-ms-retry-after-ms": "250"}, NOW) == 0.25
    assert parse_retry_after({"Retry-After": "-4"}, NOW) == 0.0


@pytest.mark.parametrize("value", ["soon", "", "nan", "inf", "Fri, 99 Foo 2030"])
def test_unreadable_retry_after_is_ignored(value: str) -> None:
    assert parse_retry_after({"Retry-After": value}, NOW) is None
    assert parse_retry_after({}, NOW) is None


# --- when to poll -------------------------------------------------------------------------------


def test_first_check_is_soon_then_delays_grow_to_the_cap() -> None:
    schedule = PollSchedule(interval=5.0)
    assert 0.1 <= schedule.next_delay(0.0) <= 0.25
    delays = [schedule.next_delay(t) for t in (0, 1, 10, 60, 100, 1000, 10_000)]
    assert delays == sorted(delays)
    assert schedule.next_delay(1000.0) == 5.0


def test_poll_delay_honours_retry_after_but_not_past_the_deadline() -> None:
    schedule = PollSchedule()
    assert schedule.next_delay(1.0, retry_after=3.0) == 3.0
    assert schedule.next_delay(1.0, retry_after=3.0, remaining=0.5) == 0.5
    assert schedule.next_delay(1.0, remaining=-1.0) == 0.0


@pytest.mark.parametrize(("duration", "bound"), [(1.0, 0.2), (10.0, 1.0)])
def test_completion_is_noticed_within_the_target(duration: float, bound: float) -> None:
    # The first check at or after the end is when the client notices it.
    checks = PollSchedule().check_times(duration)
    lag = checks[-1] - duration
    assert 0 <= lag <= bound
    assert lag <= PollSchedule().worst_noticing_delay(duration)
    # ...without hammering the service: a handful of checks per second at most.
    assert len(checks) <= 10 * duration**0.5 + 10


@given(duration=st.floats(0.01, 7200))
def test_noticing_delay_stays_under_ten_percent_beyond_two_seconds(duration: float) -> None:
    schedule = PollSchedule()
    lag = schedule.check_times(duration)[-1] - duration
    assert lag <= schedule.worst_noticing_delay(duration) + 1e-9
    assert lag <= max(0.1 * duration, schedule.floor + schedule.fraction * 2.0) + 1e-9


def test_a_zero_interval_checks_back_to_back() -> None:
    assert PollSchedule(interval=0.0).next_delay(5.0) == 0.0


# --- what a lost POST may have created ---------------------------------------------------------

SINCE = datetime(2030, 1, 1, tzinfo=UTC)


def test_a_model_matches_only_with_identical_fields_made_since_the_attempt() -> None:
    request = RegisterModelRequest(name="churn", url="u", mime_type="a/b", tags=["t1"])
    base = {"id": "m", "name": "churn", "version": 2, "url": "u", "mimeType": "a/b"}
    fresh = {**base, "tags": ["t1"], "createdAt": SINCE + timedelta(seconds=1)}
    assert model_match(Model.model_validate(fresh), request, SINCE) is Match.SAME
    old = {**fresh, "createdAt": SINCE - timedelta(seconds=1)}
    assert model_match(Model.model_validate(old), request, SINCE) is Match.OTHER
    retagged = {**fresh, "tags": ["t2"]}
    assert model_match(Model.model_validate(retagged), request, SINCE) is Match.OTHER
    undated = {**base, "tags": ["t1"]}
    assert model_match(Model.model_validate(undated), request, SINCE) is Match.UNDATED


def test_a_manifest_matches_by_content() -> None:
    wire = {
        "modelIds": ["m1"],
        "modelType": "Registered",
        "assets": [{"id": "score", "url": "file:///s.py", "mimeType": "x"}],
        "targetRuntime": {"runtimeType": "ScikitPython"},
        "driverProgram": "score",
    }
    request = CreateManifestRequest.model_validate(wire)
    made = Manifest.model_validate({**wire, "id": "x", "createdTime": "2030-01-01T00:00:01Z"})
    assert manifest_match(made, request, SINCE) is Match.SAME
    other = Manifest.model_validate({**wire, "id": "y", "modelIds": ["m2"], "createdTime": SINCE})
    assert manifest_match(other, request, SINCE) is Match.OTHER


def test_an_image_matches_by_manifest_and_registry() -> None:
    request = CreateImageRequest.model_validate(
        {
            "manifestId": "man1",
            "imageType": "Docker",
            "registryInfo": {"user": "u", "location": "acr", "password": "p"},
        }
    )
    wire = {
        "id": "i",
        "manifestId": "man1",
        "registryInfo": {"user": "u", "location": "acr"},
        "createdTime": "2030-01-01T00:00:01Z",
    }
    assert image_match(Image.model_validate(wire), request, SINCE) is Match.SAME
    moved = {**wire, "registryInfo": {"user": "u", "location": "elsewhere"}}
    assert image_match(Image.model_validate(moved), request, SINCE) is Match.OTHER


def test_a_service_matches_by_name_and_image() -> None:
    request = CreateServiceRequest.model_validate(
        {
            "name": "svc",
            "imageId": "img1",
            "kubeConfig": '{"kind":"Config","clusters":[]}',
            "acrImagePullSecret": "p",
        }
    )
    ours = Service(id="s", name="svc", image_id="img1")
    theirs = Service(id="t", name="svc", image_id="img0")
    assert service_match(ours, request) is Match.SAME
    assert service_match(theirs, request) is Match.OTHER


def test_pick_takes_the_newest_match_and_refuses_to_guess() -> None:
    items = [Service(id=i, name="n") for i in ("a", "b", "c")]
    verdicts = {"a": Match.SAME, "b": Match.OTHER, "c": Match.SAME}
    picked = pick(items, lambda s: verdicts[s.id])
    assert picked is not None and picked.id == "c"
    assert pick(items, lambda s: Match.OTHER) is None
    with pytest.raises(Ambiguous) as ambiguous:
        pick(items, lambda s: Match.UNDATED if s.id == "b" else Match.OTHER)
    assert ambiguous.value.ids == ["b"]


def test_a_2017_09_image_matches_by_its_embedded_manifest() -> None:
    """2017-09 images carry their manifest embedded, not a ``manifestId``: a lost POST's
    lookup must read it there (it raised AttributeError before)."""
    from mms_pulumi.client._reconcile import image_match_2017_09
    from mms_pulumi.schema_2017_09 import CreateImageRequest2017_09, Image2017_09

    request = CreateImageRequest2017_09.model_validate(
        {"name": "img", "manifestId": "man1", "imageType": "Docker", "computeResourceId": "c"}
    )
    manifest = {"id": "man1", "name": "m", "modelIds": [], "assets": [], "driverProgram": "d"}
    wire = {
        "id": "i",
        "name": "img",
        "imageType": "Docker",
        "computeResourceId": "c",
        "manifest": manifest,
        "createdTime": "2030-01-01T00:00:01Z",
    }
    assert image_match_2017_09(Image2017_09.model_validate(wire), request, SINCE) is Match.SAME
    elsewhere = {**wire, "manifest": {**manifest, "id": "man2"}}
    assert image_match_2017_09(Image2017_09.model_validate(elsewhere), request, SINCE) is (
        Match.OTHER
    )
