"""The client over a scripted transport: requests on the wire, retries, POST safety, errors.

Every test plays the service's answers through the client's ``transport=`` seam (no
sockets) with a fake clock (no sleeping).
"""

from __future__ import annotations

import io
import json
import logging
import threading
import uuid
from typing import Any

import pytest
import requests
import urllib3

from mms_pulumi.client import MmsClient
from mms_pulumi.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InvalidRequestError,
    MmsError,
    NotFoundError,
    RequestNotSentError,
    ServerError,
    ThrottledError,
)
from tests.client.scripted import (
    BASE,
    HOST,
    IMAGE_REQUEST,
    KUBE,
    KUBE_SECRET,
    MODEL_REQUEST,
    PASSWORD,
    SERVICE_REQUEST,
    TOKEN,
    answer,
    model_body,
    refuse,
    reset,
    scripted_client,
    time_out,
)

# --- what goes on the wire ---------------------------------------------------------------------


@pytest.mark.parametrize("code", [200, 201])
def test_register_model_sends_token_ids_version_and_camel_case(code: int) -> None:
    mms, wire, _ = scripted_client([answer(code, model_body(), expect="POST /models")])
    model = mms.register_model({"name": "churn", "url": "file:///m.json", "mime_type": "a/b"})
    assert (model.id, model.version, model.mime_type) == ("m1", 1, "application/json")
    sent = wire.sent[0]
    assert sent.url is not None and sent.url.startswith(f"{HOST}{BASE}/models?")
    assert wire.query(0) == {"api-version": ["2017-06-01-privatepreview"]}
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert uuid.UUID(sent.headers["x-ms-client-request-id"]).version == 4
    assert wire.body(0) == {
        "name": "churn",
        "url": "file:///m.json",
        "mimeType": "a/b",
        "description": "",
        "tags": [],
        "unpack": False,
    }
    assert wire.timeouts[0] == (10.0, 30.0)


def test_camel_case_mappings_and_models_are_accepted_alike() -> None:
    from mms_pulumi.schema import RegisterModelRequest

    mms, wire, _ = scripted_client([answer(201, model_body())] * 2)
    mms.register_model(MODEL_REQUEST)
    mms.register_model(RegisterModelRequest.model_validate(MODEL_REQUEST))
    assert wire.body(0) == wire.body(1)


def test_every_logical_call_has_its_own_client_request_id() -> None:
    mms, wire, _ = scripted_client([answer(200, model_body())] * 2)
    mms.get_model("m1")
    mms.get_model("m1")
    ids = {request.headers["x-ms-client-request-id"] for request in wire.sent}
    assert len(ids) == 2


def test_ids_are_one_path_segment() -> None:
    mms, wire, _ = scripted_client([answer(200, model_body())])
    mms.get_model("../services/x?y")
    assert wire.calls == ["GET /models/..%2Fservices%2Fx%3Fy"]


def test_an_endpoint_with_a_path_prefix_keeps_it() -> None:
    _, wire, _ = scripted_client([answer(200, [])])
    mms2 = MmsClient(f"{HOST}/mms/", "s", "r", "a", TOKEN, transport=wire)
    mms2.list_models()
    assert (wire.sent[0].url or "").startswith(f"{HOST}/mms{BASE}/models")


# --- retries ------------------------------------------------------------------------------------


def test_get_retries_503_and_429_honouring_retry_after_with_one_client_request_id() -> None:
    mms, wire, clock = scripted_client(
        [answer(503), answer(429, headers={"Retry-After": "2"}), answer(200, model_body())]
    )
    assert mms.get_model("m1").name == "churn"
    assert len(wire.sent) == 3
    assert clock.sleeps[1] == 2.0
    assert 0 <= clock.sleeps[0] <= 0.5  # full jitter under the first ceiling
    ids = {request.headers["x-ms-client-request-id"] for request in wire.sent}
    assert len(ids) == 1  # one logical call, one client request id across its retries


@pytest.mark.parametrize("failure", [refuse, time_out, reset])
def test_get_put_delete_retry_connection_failures(failure: Any) -> None:
    mms, wire, _ = scripted_client(
        [failure, answer(200, model_body()), failure, answer(200), failure, answer(200)]
    )
    mms.get_model("m1")
    assert mms.delete_service("svc1") is True
    assert len(wire.sent) == 4
    mms2, wire2, _ = scripted_client(
        [failure, answer(202, headers={"Operation-Location": f"{BASE}/operations/op1"})]
    )
    poller = mms2.begin_update_service("svc1", {"image_id": "i2", "acr_image_pull_secret": "p"})
    assert poller.operation_id == "op1"
    assert wire2.calls == ["PUT /services/svc1", "PUT /services/svc1"]


def refuse_in_words(request: Any) -> Any:
    """A refusal as some wrappers report it: only the text survives."""
    raise requests.ConnectionError("[Errno 111] Connection refused")


@pytest.mark.parametrize(
    "first",
    [
        refuse,
        refuse_in_words,
        answer(503),
        answer(429),
        answer(429, headers={"Retry-After": "1"}),
    ],
)
def test_post_is_retried_when_the_service_provably_did_not_act(first: Any) -> None:
    mms, wire, _ = scripted_client([first, answer(201, model_body())])
    mms.register_model(MODEL_REQUEST)
    assert wire.calls == ["POST /models", "POST /models"]


def test_retries_stop_after_max_retries_with_the_last_error() -> None:
    mms, wire, clock = scripted_client([answer(502)] * 4, max_retries=3)
    with pytest.raises(ServerError) as failed:
        mms.get_model("m1")
    assert len(wire.sent) == 4 and len(clock.sleeps) == 3
    assert failed.value.status_code == 502
    mms, _, _ = scripted_client([answer(429, headers={"Retry-After": "0"})] * 11)
    with pytest.raises(ThrottledError) as throttled:
        mms.get_model("m1")
    assert throttled.value.retry_after == 0.0


def test_a_retry_after_beyond_the_clients_patience_is_handed_to_the_caller() -> None:
    mms, wire, clock = scripted_client([answer(429, headers={"Retry-After": "3600"})])
    with pytest.raises(ThrottledError) as throttled:
        mms.list_models()
    assert throttled.value.retry_after == 3600.0
    assert clock.sleeps == [] and len(wire.sent) == 1


def test_not_sent_error_says_nothing_was_sent() -> None:
    mms, _, _ = scripted_client([refuse] * 3, max_retries=2)
    with pytest.raises(RequestNotSentError, match="nothing was sent") as not_sent:
        mms.get_model("m1")
    assert not_sent.value.client_request_id


# --- errors -------------------------------------------------------------------------------------


def test_error_statuses_map_to_classes_with_details_and_request_ids() -> None:
    bad = {
        "code": "BadRequest",
        "message": "The request is invalid",
        "statusCode": 400,
        "details": [{"code": "InvalidField", "message": "modelIds[0]: no model m9"}],
    }
    mms, _, _ = scripted_client(
        [
            answer(400, bad),
            answer(401, {"code": "Unauthorized", "message": "bad token"}),
            answer(404, {"code": "NotFound", "message": "No model with id x"}),
            answer(409, {"code": "Conflict", "message": "taken"}),
        ]
    )
    with pytest.raises(BadRequestError) as bad_request:
        mms.register_model(MODEL_REQUEST)
    assert bad_request.value.problems == ["modelIds[0]: no model m9"]
    assert bad_request.value.problems[0].field == "modelIds[0]"
    assert bad_request.value.request_id == "req-400"
    assert bad_request.value.client_request_id
    with pytest.raises(AuthenticationError, match="mms:token"):
        mms.get_model("m1")
    with pytest.raises(NotFoundError, match="No model with id x"):
        mms.get_model("x")
    with pytest.raises(ConflictError, match="409"):
        mms.begin_create_service(SERVICE_REQUEST)


def test_delete_service_counts_204_and_404_as_already_gone() -> None:
    mms, wire, _ = scripted_client([answer(200), answer(204), answer(404, {"code": "NotFound"})])
    assert mms.delete_service("s1") is True
    assert mms.delete_service("s1") is False
    assert mms.delete_service("s1") is False
    assert wire.calls == ["DELETE /services/s1"] * 3


def test_an_unreadable_answer_is_an_mms_error_with_request_ids() -> None:
    from mms_pulumi.errors import MmsError

    mms, _, _ = scripted_client([answer(200, {"unexpected": True})])
    with pytest.raises(MmsError, match="not a valid Model") as unreadable:
        mms.get_model("m1")
    assert unreadable.value.request_id == "req-200"


# --- secrets ------------------------------------------------------------------------------------


def test_token_and_secrets_never_reach_logs_errors_or_reprs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = {"code": "BadRequest", "message": "bad", "details": []}
    mms, _, _ = scripted_client(
        [answer(503), answer(400, echo), time_out, answer(200, []), answer(400, echo)]
    )
    texts = [repr(mms)]
    with pytest.raises(BadRequestError) as first:
        mms.begin_create_image(IMAGE_REQUEST)
    with pytest.raises(BadRequestError) as second:
        mms.begin_create_service(SERVICE_REQUEST)
    for error in (first.value, second.value):
        texts += [str(error), repr(error)]
    texts.append(caplog.text)
    for text in texts:
        assert TOKEN not in text
        assert PASSWORD not in text
        assert KUBE_SECRET not in text


def test_invalid_request_mappings_never_echo_their_secrets() -> None:
    mms, wire, _ = scripted_client([])
    with pytest.raises(InvalidRequestError) as invalid:
        mms.begin_create_service({**SERVICE_REQUEST, "image_id": "", "kube_config": KUBE + "]"})
    assert KUBE_SECRET not in str(invalid.value) and KUBE_SECRET not in repr(invalid.value)
    assert invalid.value.__cause__ is None and invalid.value.__suppress_context__
    assert [p.python_path() for p in invalid.value.problems] == ["image_id", "kube_config"]
    with pytest.raises(InvalidRequestError) as bad_image:
        mms.begin_create_image({**IMAGE_REQUEST, "image_type": "Podman"})
    assert PASSWORD not in str(bad_image.value)
    assert "image_type: must be 'Docker'" in str(bad_image.value)
    # A password of the wrong type is named by its field, and its value is not repeated.
    with pytest.raises(InvalidRequestError) as bad_password:
        mms.begin_create_image(
            {**IMAGE_REQUEST, "registry_info": {"user": "u", "location": "l", "password": 12345}}
        )
    assert "registry_info.password: must be a string" in str(bad_password.value)
    assert "12345" not in str(bad_password.value)
    assert isinstance(bad_password.value, MmsError) and isinstance(bad_password.value, ValueError)
    assert wire.sent == []


# --- paging -------------------------------------------------------------------------------------


def test_lists_follow_absolute_and_host_relative_next_links() -> None:
    first = {"value": [model_body()], "nextLink": f"{HOST}{BASE}/models?$skipToken=1"}
    second = {"value": [model_body(id="m2")], "nextLink": f"{BASE}/models?$skipToken=2&x=1"}
    third = {"value": [model_body(id="m3")]}
    mms, wire, _ = scripted_client([answer(200, first), answer(200, second), answer(200, third)])
    assert [m.id for m in mms.list_models()] == ["m1", "m2", "m3"]
    assert wire.query(1) == {"$skipToken": ["1"]}  # verbatim: nothing added
    assert wire.query(2) == {"$skipToken": ["2"], "x": ["1"]}


def test_lists_read_bare_arrays_and_send_filters() -> None:
    mms, wire, _ = scripted_client([answer(200, [model_body()]), answer(200, [])])
    assert len(mms.list_models(name="churn", tag="t1")) == 0  # not tagged t1: filtered out
    assert wire.query(0)["name"] == ["churn"] and wire.query(0)["tag"] == ["t1"]
    assert mms.list_services() == []


# --- threads ------------------------------------------------------------------------------------


def test_one_client_serves_many_threads() -> None:
    mms, wire, _ = scripted_client([answer(200, model_body())] * 40)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(10):
                mms.get_model("m1")
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({r.headers["x-ms-client-request-id"] for r in wire.sent}) == 40


def test_kube_config_passes_through_validation_as_given() -> None:
    mms, wire, _ = scripted_client([answer(202, headers={"Operation-Location": "/x/op1"})])
    mms.begin_create_service(SERVICE_REQUEST)
    assert wire.body(0)["kubeConfig"] == KUBE


def test_a_netrc_entry_for_the_host_never_replaces_the_bearer_token(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine mms.invalid login someone password netrc-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with MmsClient(HOST, "s", "r", "a", TOKEN) as mms:
        # The default transport's own session, answering from an adapter: no sockets.
        adapter = RecordingAdapter(model_body())
        mms._transport.http.session.mount("http://", adapter)  # type: ignore[attr-defined]
        mms.get_model("m1")
    assert adapter.sent[0].headers["Authorization"] == f"Bearer {TOKEN}"


class RecordingAdapter(requests.adapters.BaseAdapter):
    """A requests adapter that answers 200 with ``body`` and records what it was sent."""

    def __init__(self, body: Any) -> None:
        super().__init__()
        self.body = json.dumps(body).encode()
        self.sent: list[requests.PreparedRequest] = []

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **_options: Any
    ) -> requests.Response:
        self.sent.append(request)
        response = requests.Response()
        response.status_code = 200
        response.raw = urllib3.HTTPResponse(
            body=io.BytesIO(self.body), status=200, preload_content=False
        )
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to close."""
