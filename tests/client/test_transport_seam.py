"""``MmsClient(transport=...)``: the public seam below the client's rules."""

from __future__ import annotations

import json

import pytest
import requests

from mms_pulumi.client import (
    HttpFailure,
    HttpRequest,
    HttpResponse,
    HttpTransport,
    MmsClient,
    MockTransport,
    RequestsTransport,
)
from mms_pulumi.client._retry import FailureKind
from mms_pulumi.errors import ForeignOriginError, RequestNotSentError
from tests.client.scripted import BASE, HOST, MODEL_REQUEST, TOKEN, model_body


def test_a_mock_transport_gets_the_prepared_request_and_its_answer_is_read() -> None:
    seen: list[HttpRequest] = []

    def handler(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return HttpResponse(200, {"x-ms-request-id": "r1"}, json.dumps(model_body()).encode())

    with MmsClient(HOST, "s", "r", "a", TOKEN, transport=MockTransport(handler)) as mms:
        model = mms.register_model(MODEL_REQUEST)
    assert model.id == "m1"
    (request,) = seen
    assert request.method == "POST"
    assert request.url.startswith(f"{HOST}{BASE}/models?api-version=")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body or b"")["mimeType"] == "application/json"


def test_the_client_rules_hold_for_any_transport() -> None:
    """A redirect to another origin is refused above the transport: nothing is sent there."""
    seen: list[str] = []

    def handler(request: HttpRequest) -> HttpResponse:
        seen.append(request.url)
        return HttpResponse(307, {"Location": "http://elsewhere.invalid/steal"})

    mms = MmsClient(HOST, "s", "r", "a", TOKEN, transport=MockTransport(handler), max_retries=0)
    with pytest.raises(ForeignOriginError):
        mms.get_model("m1")
    assert all(url.startswith(HOST) for url in seen) and len(seen) == 1


def test_a_transport_failure_says_whether_anything_was_sent() -> None:
    def handler(request: HttpRequest) -> HttpResponse:
        raise HttpFailure(FailureKind.NOT_SENT, "connection refused")

    mms = MmsClient(HOST, "s", "r", "a", TOKEN, transport=MockTransport(handler), max_retries=0)
    with pytest.raises(RequestNotSentError, match=r"connection refused.*nothing was sent"):
        mms.get_model("m1")


def test_session_and_transport_exclude_each_other() -> None:
    with pytest.raises(ValueError, match="session or transport"):
        MmsClient(
            HOST,
            "s",
            "r",
            "a",
            TOKEN,
            session=requests.Session(),
            transport=MockTransport(lambda r: HttpResponse(200)),
        )


def test_both_transports_meet_the_protocol() -> None:
    assert isinstance(RequestsTransport(), HttpTransport)
    assert isinstance(MockTransport(lambda r: HttpResponse(200)), HttpTransport)
