"""The client over a scripted HTTP session: retries, POST safety, errors, secrets."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from typing import Any

import pytest
import requests
import urllib3.exceptions

from mms_pulumi.client import MmsClient
from mms_pulumi.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    OperationFailedError,
    OperationTimeoutError,
    RequestNotSentError,
)
from mms_pulumi.schema import OperationState

TOKEN = "tok-super-secret-123"
PASSWORD = "registry-password-xyz"
BASE = "/api/subscriptions/s/resourceGroups/r/hostingAccounts/a"
MODEL = {
    "id": "m1",
    "name": "churn",
    "version": 1,
    "url": "file:///m.json",
    "mimeType": "application/json",
    "description": "",
    "tags": [],
    "unpack": False,
    "createdAt": "2099-01-01T00:00:00Z",
}

Step = Callable[[str, str, dict[str, Any]], Any]


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Step:
    def respond(method: str, url: str, kwargs: dict[str, Any]) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers or {})
        response.headers.setdefault("x-ms-request-id", f"req-{status}")
        response._content = b"" if body is None else json.dumps(body).encode()
        response.url = url
        return response

    return respond


def refuse(method: str, url: str, kwargs: dict[str, Any]) -> Any:
    reason = urllib3.exceptions.NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    raise requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, url, reason))  # type: ignore[arg-type]


def time_out(method: str, url: str, kwargs: dict[str, Any]) -> Any:
    raise requests.ReadTimeout("read timed out")


class ScriptedSession(requests.Session):
    def __init__(self, steps: list[Step]) -> None:
        super().__init__()
        self.steps = list(steps)
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> Any:  # type: ignore[override]
        self.calls.append((method, url, kwargs))
        assert self.steps, f"unexpected {method} {url}"
        return self.steps.pop(0)(method, url, kwargs)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def client(steps: list[Step], **options: Any) -> tuple[MmsClient, ScriptedSession, FakeClock]:
    session = ScriptedSession(steps)
    clock = FakeClock()
    mms = MmsClient(
        "http://mms.invalid",
        "s",
        "r",
        "a",
        TOKEN,
        session=session,
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(0),
        **options,
    )
    return mms, session, clock


def test_register_model_accepts_201_and_sends_the_token_and_api_version() -> None:
    mms, session, _ = client([answer(201, MODEL)])
    model = mms.register_model({"name": "churn", "url": "file:///m.json", "mime_type": "a/b"})
    assert model.id == "m1" and model.version == 1
    method, url, kwargs = session.calls[0]
    assert (method, url) == ("POST", f"http://mms.invalid{BASE}/models")
    assert kwargs["params"] == {"api-version": "2017-06-01-privatepreview"}
    assert kwargs["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert kwargs["json"]["mimeType"] == "a/b"
    assert kwargs["timeout"] == (10.0, 30.0)


def test_get_retries_503_and_429_honouring_retry_after() -> None:
    mms, session, clock = client(
        [answer(503), answer(429, headers={"Retry-After": "2"}), answer(200, MODEL)]
    )
    assert mms.get_model("m1").name == "churn"
    assert len(session.calls) == 3
    assert clock.sleeps[1] == 2.0
    ids = {call[2]["headers"]["x-ms-client-request-id"] for call in session.calls}
    assert len(ids) == 1  # one logical call, one client request id across its retries


def test_post_refused_before_sending_is_retried() -> None:
    mms, session, _ = client([refuse, answer(201, MODEL)])
    mms.register_model({"name": "churn", "url": "file:///m.json", "mime_type": "a/b"})
    assert [c[0] for c in session.calls] == ["POST", "POST"]


def test_post_with_unknown_outcome_looks_before_repeating() -> None:
    found = {**MODEL, "mimeType": "a/b"}
    mms, session, _ = client([time_out, answer(200, [found])])
    model = mms.register_model({"name": "churn", "url": "file:///m.json", "mime_type": "a/b"})
    assert model.id == "m1"
    assert [c[0] for c in session.calls] == ["POST", "GET"]
    assert session.calls[1][2]["params"]["name"] == "churn"


def test_post_with_unknown_outcome_is_repeated_only_when_nothing_was_created() -> None:
    mms, session, _ = client([time_out, answer(200, []), answer(201, MODEL)])
    mms.register_model({"name": "churn", "url": "file:///m.json", "mime_type": "application/json"})
    assert [c[0] for c in session.calls] == ["POST", "GET", "POST"]


def test_post_answered_500_is_not_repeated() -> None:
    mms, session, _ = client([answer(500, {"code": "InternalError", "message": "boom"})])
    with pytest.raises(Exception, match="500"):
        mms.register_model({"name": "c", "url": "u", "mime_type": "t"})
    assert len(session.calls) == 1


def test_create_service_with_unknown_outcome_adopts_the_same_deployment() -> None:
    service = {"id": "svc1", "name": "churn", "imageId": "img1", "state": "Succeeded"}
    mms, session, _ = client(
        [time_out, answer(200, [service]), answer(200, service), answer(200, service)]
    )
    kube = '{"kind":"Config","clusters":[]}'
    poller = mms.begin_create_service(
        {"name": "churn", "image_id": "img1", "kube_config": kube, "acr_image_pull_secret": "p"}
    )
    assert poller.result(timeout=5).id == "svc1"
    assert [c[0] for c in session.calls] == ["POST", "GET", "GET", "GET"]


def test_not_sent_error_says_nothing_was_sent() -> None:
    mms, _, _ = client([refuse] * 11)
    with pytest.raises(RequestNotSentError, match="nothing was sent"):
        mms.get_model("m1")


def test_error_classes_carry_details_and_request_ids_but_never_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mms_pulumi.client")
    bad = {
        "code": "BadRequest",
        "message": "Invalid request",
        "statusCode": 400,
        "details": [{"code": "InvalidField", "message": "name: must contain only letters"}],
    }
    mms, _, _ = client(
        [answer(400, bad), answer(401, {"code": "Unauthorized", "message": "no"}), answer(409)]
    )
    with pytest.raises(BadRequestError) as bad_request:
        mms.register_model({"name": "c", "url": "u", "mime_type": "t"})
    assert bad_request.value.problems == ["name: must contain only letters"]
    assert "req-400" in str(bad_request.value)
    with pytest.raises(AuthenticationError, match="mms:token"):
        mms.get_model("m1")
    kube = '{"kind":"Config","clusters":[]}'
    with pytest.raises(ConflictError):
        mms.begin_create_service(
            {"name": "c", "image_id": "i", "kube_config": kube, "acr_image_pull_secret": "p"}
        )
    for error in (bad_request.value,):
        assert TOKEN not in str(error) and TOKEN not in repr(error)
    assert TOKEN not in caplog.text
    assert kube not in caplog.text


def _operation(state: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "op1",
        "operationType": "Image",
        "resourceLocation": f"{BASE}/images/img1",
        "state": state,
        **extra,
    }


IMAGE_REQUEST = {
    "manifest_id": "man1",
    "image_type": "Docker",
    "registry_info": {"user": "u", "location": "l", "password": PASSWORD},
}


def test_image_poller_waits_reports_progress_and_fetches_the_image() -> None:
    accepted = answer(202, headers={"Operation-Location": f"{BASE}/operations/op1"})
    mms, session, clock = client(
        [
            accepted,
            answer(200, _operation("NotStarted")),
            answer(200, _operation("Running")),
            answer(200, _operation("Running")),
            answer(200, _operation("Succeeded")),
            answer(200, {"id": "img1", "imageType": "Docker", "creationState": "Succeeded"}),
        ]
    )
    poller = mms.begin_create_image(IMAGE_REQUEST)
    assert poller.operation_id == "op1"
    seen: list[tuple[Any, Any]] = []
    image = poller.result(timeout=60, progress=lambda old, new, op: seen.append((old, new)))
    assert image.id == "img1"
    assert seen == [
        (None, OperationState.NOT_STARTED),
        (OperationState.NOT_STARTED, OperationState.RUNNING),
        (OperationState.RUNNING, OperationState.SUCCEEDED),
    ]
    assert clock.sleeps[0] == pytest.approx(0.1)
    assert PASSWORD not in json.dumps([c[2].get("params") for c in session.calls])


def test_failed_operation_raises_with_its_id_and_the_service_message() -> None:
    error = {
        "code": "ImageBuildFailed",
        "message": "could not read a file",
        "details": [{"code": "UrlUnreadable", "message": "file:///x.pkl: no such file"}],
    }
    mms, _, _ = client(
        [
            answer(202, headers={"Operation-Location": f"http://mms.invalid{BASE}/operations/op1"}),
            answer(200, _operation("Failed", error=error)),
        ]
    )
    with pytest.raises(OperationFailedError) as failed:
        mms.begin_create_image(IMAGE_REQUEST).result(timeout=10)
    assert failed.value.operation_id == "op1"
    assert failed.value.code == "ImageBuildFailed"
    assert "file:///x.pkl: no such file" in str(failed.value)
    assert failed.value.resource_id == "img1"


def test_deadline_raises_a_timeout_with_the_operation_id_and_last_state() -> None:
    steps = [answer(202, headers={"Operation-Location": f"{BASE}/operations/op1"})]
    steps += [answer(200, _operation("Running"))] * 200
    mms, _, clock = client(steps)
    with pytest.raises(OperationTimeoutError) as timed_out:
        mms.begin_create_image(IMAGE_REQUEST).result(timeout=3)
    assert timed_out.value.operation_id == "op1"
    assert timed_out.value.last_state is OperationState.RUNNING
    assert clock.now == pytest.approx(3.0)


def test_lists_follow_next_link_pages() -> None:
    first = {"value": [MODEL], "nextLink": f"http://mms.invalid{BASE}/models?$skipToken=2"}
    second = {"value": [{**MODEL, "id": "m2", "version": 2}]}
    mms, session, _ = client([answer(200, first), answer(200, second)])
    assert [m.id for m in mms.list_models()] == ["m1", "m2"]
    assert session.calls[1][1].endswith("$skipToken=2")


def test_delete_service_counts_204_and_404_as_gone() -> None:
    mms, _, _ = client(
        [answer(200), answer(204), answer(404, {"code": "NotFound", "message": "x"})]
    )
    assert mms.delete_service("s1") is True
    assert mms.delete_service("s1") is False
    assert mms.delete_service("s1") is False


def test_resume_from_another_client() -> None:
    mms, _, _ = client(
        [
            answer(200, _operation("Succeeded")),
            answer(200, {"id": "img1", "imageType": "Docker"}),
        ]
    )
    assert mms.resume_image_operation("op1").result(timeout=5).id == "img1"


def test_403_is_permission_denied_and_final_5xx_is_a_server_error() -> None:
    from mms_pulumi.errors import PermissionDeniedError, ServerError, ThrottledError

    mms, session, _ = client([answer(403, {"code": "Forbidden", "message": "no"})])
    with pytest.raises(PermissionDeniedError, match="Grant the identity access"):
        mms.get_model("m1")
    assert len(session.calls) == 1
    mms, session, _ = client([answer(502)] * 11)
    with pytest.raises(ServerError):
        mms.get_model("m1")
    assert len(session.calls) == 11
    mms, _, _ = client([answer(429, headers={"Retry-After": "0"})] * 11)
    with pytest.raises(ThrottledError) as throttled:
        mms.get_model("m1")
    assert throttled.value.retry_after == 0.0
