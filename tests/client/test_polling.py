"""Waiting on async operations over a scripted transport and a fake clock."""

from __future__ import annotations

from typing import Any

import pytest

from mms_pulumi.client import PollSchedule
from mms_pulumi.errors import MmsError, OperationFailedError, OperationTimeoutError
from mms_pulumi.schema import OperationState
from tests.client.scripted import (
    BASE,
    HOST,
    IMAGE_REQUEST,
    SERVICE_REQUEST,
    answer,
    operation_body,
    scripted_client,
    time_out,
)

ACCEPTED = answer(202, headers={"Operation-Location": f"{BASE}/operations/op1"})
IMAGE = {"id": "img1", "imageType": "Docker", "manifestId": "man1", "creationState": "Succeeded"}
SERVICE = {"id": "svc1", "name": "churn", "imageId": "img1", "state": "Succeeded"}


def test_image_poller_waits_reports_each_change_and_fetches_the_image() -> None:
    mms, wire, clock = scripted_client(
        [
            ACCEPTED,
            answer(200, operation_body("NotStarted")),
            answer(200, operation_body("Running")),
            answer(200, operation_body("Running")),
            answer(200, operation_body("Succeeded")),
            answer(200, IMAGE),
        ]
    )
    poller = mms.begin_create_image(IMAGE_REQUEST)
    assert poller.operation_id == "op1"
    assert wire.calls == ["POST /images"]  # nothing polled before the caller asks
    seen: list[tuple[Any, Any]] = []
    image = poller.result(timeout=60, progress=lambda old, new, op: seen.append((old, new)))
    assert image.id == "img1"
    assert seen == [
        (None, OperationState.NOT_STARTED),
        (OperationState.NOT_STARTED, OperationState.RUNNING),
        (OperationState.RUNNING, OperationState.SUCCEEDED),
    ]
    assert wire.calls[1:] == ["GET /operations/op1"] * 4 + ["GET /images/img1"]
    assert wire.query(1) == {"api-version": ["2017-06-01-privatepreview"]}
    # The waits are the schedule's: first soon after the 202, then growing with time waited.
    schedule = PollSchedule()
    expected, elapsed = [], 0.0
    for _ in range(4):
        delay = schedule.next_delay(elapsed)
        expected.append(delay)
        elapsed += delay
    assert clock.sleeps == pytest.approx(expected)
    assert 0.1 <= clock.sleeps[0] <= 0.25
    assert poller.result() is image  # the finished result is kept, not fetched again


def test_absolute_operation_location_and_resource_location_are_followed() -> None:
    location = f"{HOST}{BASE}/operations/op1?api-version=2017-06-01-privatepreview"
    mms, wire, _ = scripted_client(
        [
            answer(202, headers={"Operation-Location": location}),
            answer(200, operation_body("Succeeded", kind="Service")),
            answer(200, SERVICE),
        ]
    )
    service = mms.begin_create_service(SERVICE_REQUEST).result(timeout=10)
    assert service.id == "svc1"
    assert wire.query(1) == {"api-version": ["2017-06-01-privatepreview"]}  # not doubled
    assert wire.calls[2] == "GET /services/svc1"


def test_retry_after_on_the_operation_is_respected() -> None:
    mms, _, clock = scripted_client(
        [
            ACCEPTED,
            answer(200, operation_body("Running"), headers={"Retry-After": "3"}),
            answer(200, operation_body("Succeeded")),
            answer(200, IMAGE),
        ]
    )
    mms.begin_create_image(IMAGE_REQUEST).result(timeout=60)
    assert clock.sleeps[1] == 3.0


@pytest.mark.parametrize("state", ["Failed", "Cancelled", "Canceled"])
def test_failed_or_cancelled_operation_raises_with_id_state_and_service_error(state: str) -> None:
    error = {
        "code": "ImageBuildFailed",
        "message": "could not read a file",
        "details": [{"code": "UrlUnreadable", "message": "file:///x.pkl: no such file"}],
    }
    mms, _, _ = scripted_client(
        [
            ACCEPTED,
            answer(200, operation_body("Running")),
            answer(200, operation_body(state, error=error)),
        ]
    )
    with pytest.raises(OperationFailedError) as failed:
        mms.begin_create_image(IMAGE_REQUEST).result(timeout=10)
    assert failed.value.operation_id == "op1"
    assert failed.value.state.value in ("Failed", "Cancelled")
    assert failed.value.code == "ImageBuildFailed"
    assert failed.value.error_message == "could not read a file"
    assert "file:///x.pkl: no such file" in str(failed.value)
    assert failed.value.resource_id == "img1"
    assert failed.value.request_id == "req-200"


def test_deadline_raises_a_timeout_with_the_operation_id_and_last_state() -> None:
    steps = [ACCEPTED] + [answer(200, operation_body("Running"))] * 200
    mms, _, clock = scripted_client(steps)
    poller = mms.begin_create_image(IMAGE_REQUEST)
    with pytest.raises(OperationTimeoutError) as timed_out:
        poller.result(timeout=3)
    assert timed_out.value.operation_id == "op1"
    assert timed_out.value.last_state is OperationState.RUNNING
    assert "op1" in str(timed_out.value)
    assert clock.now == pytest.approx(3.0)  # checked once more at the deadline, not later


def test_status_requests_failing_until_the_deadline_read_as_a_timeout() -> None:
    mms, _, clock = scripted_client(
        [ACCEPTED, answer(200, operation_body("Running"))] + [answer(503)] * 50
    )
    with pytest.raises(OperationTimeoutError) as timed_out:
        mms.begin_create_image(IMAGE_REQUEST).result(timeout=2)
    assert timed_out.value.last_state is OperationState.RUNNING
    assert clock.now <= 2.0


@pytest.mark.parametrize("wait_on", ["operation", "object state"])
def test_a_poll_under_constant_503_returns_within_the_deadline_plus_one_request_timeout(
    wait_on: str,
) -> None:
    """Every status request answers 503 after 0.7 s, or hangs until its read timeout."""
    read_timeout = 4.0
    steps: list[Any] = []
    mms, wire, clock = scripted_client(steps, read_timeout=read_timeout)

    def slow_503(request: Any) -> Any:
        clock.now += 0.7
        return answer(503)(request)

    def hang(request: Any) -> Any:
        clock.now += wire.timeouts[-1][1]  # until the read timeout it was given
        return time_out(request)

    steps += [ACCEPTED] if wait_on == "operation" else []
    steps += [slow_503, hang] * 100
    wire.steps.extend(steps)
    poller = (
        mms.begin_create_image(IMAGE_REQUEST)
        if wait_on == "operation"
        else mms.wait_on_image("img1")
    )
    began = clock.now
    with pytest.raises(OperationTimeoutError):
        poller.result(timeout=10)
    assert clock.now - began <= 10 + read_timeout
    assert len(wire.sent) > 3  # it did keep trying while time was left


def test_a_status_request_never_waits_past_the_deadline_for_an_answer() -> None:
    mms, wire, _ = scripted_client(
        [ACCEPTED, time_out] + [answer(200, operation_body("Running"))] * 50
    )
    with pytest.raises(OperationTimeoutError):
        mms.begin_create_image(IMAGE_REQUEST).result(timeout=1)
    assert wire.timeouts[0] == (10.0, 30.0)  # the POST: no deadline
    assert all(read <= 1.0 and connect <= 1.0 for connect, read in wire.timeouts[1:])


def test_resume_from_another_client_checks_at_once() -> None:
    mms, wire, clock = scripted_client(
        [answer(200, operation_body("Succeeded")), answer(200, IMAGE)]
    )
    poller = mms.resume_image_operation("op1")
    assert poller.result(timeout=5).id == "img1"
    assert clock.sleeps == []
    assert wire.calls == ["GET /operations/op1", "GET /images/img1"]


def test_resume_operation_by_kind_and_status_done() -> None:
    mms, _, _ = scripted_client(
        [
            answer(200, operation_body("Running", kind="Service")),
            answer(200, operation_body("Succeeded", kind="Service")),
            answer(200, SERVICE),
        ]
    )
    poller = mms.resume_operation("op1", "service")
    assert poller.status().state is OperationState.RUNNING
    assert poller.done() is True
    assert poller.done() is True  # terminal: no need to ask again
    assert poller.result().id == "svc1"


def test_resuming_with_the_wrong_kind_says_which_to_use() -> None:
    mms, _, _ = scripted_client([answer(200, operation_body("Succeeded", kind="Service"))])
    with pytest.raises(MmsError, match="resume_operation"):
        mms.resume_image_operation("op1").result(timeout=5)


def test_a_202_without_operation_location_is_an_error_with_request_ids() -> None:
    mms, _, _ = scripted_client([answer(202)])
    with pytest.raises(MmsError, match="no Operation-Location") as missing:
        mms.begin_create_image(IMAGE_REQUEST)
    assert missing.value.request_id == "req-202"


def test_polling_interval_caps_the_wait() -> None:
    steps = [ACCEPTED] + [answer(200, operation_body("Running"))] * 400
    mms, _, clock = scripted_client(steps, polling_interval=0.5)
    with pytest.raises(OperationTimeoutError):
        mms.begin_create_image(IMAGE_REQUEST).result(timeout=60)
    assert max(clock.sleeps) == 0.5


def test_wait_on_service_follows_its_state() -> None:
    running = {**SERVICE, "state": "Running"}
    failed = {**SERVICE, "state": "Failed"}
    mms, _, _ = scripted_client([answer(200, running), answer(200, failed)])
    with pytest.raises(OperationFailedError) as failure:
        mms.wait_on_service("svc1").result(timeout=10)
    assert failure.value.resource_id == "svc1"
