"""POSTs whose outcome is unknown: looked for, never blindly repeated (scripted transport).

A POST that timed out, lost its connection or got a 500/502/504 may have created its
object. These tests play the lookup's answers and check what the client does next.
"""

from __future__ import annotations

from typing import Any

import pytest

from mms_pulumi.errors import (
    ConflictError,
    OutcomeUnknownError,
    PermissionDeniedError,
    ServerError,
)
from tests.client.scripted import (
    AFTER,
    BEFORE,
    IMAGE_REQUEST,
    MODEL_REQUEST,
    PASSWORD,
    SERVICE_REQUEST,
    answer,
    model_body,
    reset,
    scripted_client,
    time_out,
)


@pytest.mark.parametrize("failure", [time_out, reset, answer(500), answer(502), answer(504)])
def test_post_with_unknown_outcome_looks_before_repeating(failure: Any) -> None:
    mms, wire, _ = scripted_client([failure, answer(200, [model_body()])])
    model = mms.register_model(MODEL_REQUEST)
    assert model.id == "m1"
    assert wire.calls == ["POST /models", "GET /models"]
    assert wire.query(1)["name"] == ["churn"]


def test_post_with_unknown_outcome_is_repeated_once_nothing_was_created() -> None:
    older = model_body(id="m0", createdAt=BEFORE)  # identical, but from before this call
    other = model_body(id="m2", url="file:///other.json")
    mms, wire, _ = scripted_client(
        [time_out, answer(200, [older, other]), answer(201, model_body(id="m3", version=3))]
    )
    assert mms.register_model(MODEL_REQUEST).id == "m3"
    assert wire.calls == ["POST /models", "GET /models", "POST /models"]
    # A repeat is a new logical call.
    assert (
        wire.sent[0].headers["x-ms-client-request-id"]
        != wire.sent[2].headers["x-ms-client-request-id"]
    )


def test_post_with_unknown_outcome_and_a_failed_lookup_says_what_to_check() -> None:
    mms, wire, _ = scripted_client([time_out, answer(403, {"code": "Forbidden", "message": "x"})])
    with pytest.raises(OutcomeUnknownError, match=r"list_models\(name='churn'\)") as unknown:
        mms.register_model(MODEL_REQUEST)
    assert isinstance(unknown.value.__cause__, PermissionDeniedError)
    assert wire.calls == ["POST /models", "GET /models"]


def test_post_with_unknown_outcome_and_undated_twins_refuses_to_guess() -> None:
    undated = {key: value for key, value in model_body().items() if key != "createdAt"}
    mms, wire, _ = scripted_client([time_out, answer(200, [undated])])
    with pytest.raises(OutcomeUnknownError, match="cannot tell"):
        mms.register_model(MODEL_REQUEST)
    assert len(wire.sent) == 2


def test_post_never_answered_ends_in_outcome_unknown_not_a_duplicate() -> None:
    mms, wire, _ = scripted_client([time_out, answer(200, [])] * 3, max_retries=2)
    with pytest.raises(OutcomeUnknownError, match="3 attempts"):
        mms.register_model(MODEL_REQUEST)
    assert wire.calls == ["POST /models", "GET /models"] * 3


def test_post_answered_500_each_time_keeps_the_server_error() -> None:
    boom = answer(500, {"code": "InternalServerError", "message": "boom"})
    mms, wire, _ = scripted_client([boom, answer(200, [])] * 2, max_retries=1)
    with pytest.raises(ServerError, match="boom"):
        mms.register_model(MODEL_REQUEST)
    assert len(wire.sent) == 4


def test_manifest_with_unknown_outcome_is_found_by_content() -> None:
    request = {
        "model_ids": ["m1"],
        "model_type": "Registered",
        "driver_program": "score",
        "assets": [{"id": "score", "url": "file:///s.py", "mime_type": "text/x-python"}],
        "target_runtime": {"runtime_type": "ScikitPython"},
    }
    listed = {
        "id": "man1",
        "modelIds": ["m1"],
        "modelType": "Registered",
        "driverProgram": "score",
        "description": "",
        "assets": [{"id": "score", "url": "file:///s.py", "mimeType": "text/x-python"}],
        "targetRuntime": {"runtimeType": "ScikitPython", "properties": {}},
        "createdTime": AFTER,
    }
    mms, wire, _ = scripted_client(
        [reset, answer(200, [{**listed, "id": "x", "modelIds": ["m9"]}, listed])]
    )
    assert mms.create_manifest(request).id == "man1"
    assert wire.calls == ["POST /manifests", "GET /manifests"]


def test_image_with_unknown_outcome_follows_the_image_it_made() -> None:
    image = {
        "id": "img1",
        "manifestId": "man1",
        "imageType": "Docker",
        "registryInfo": {"user": "u", "location": "acr.local", "password": PASSWORD},
        "createdTime": AFTER,
        "creationState": "Running",
    }
    mms, wire, _ = scripted_client(
        [
            answer(504),
            answer(200, [image]),
            answer(200, image),
            answer(200, {**image, "creationState": "Succeeded"}),
        ]
    )
    poller = mms.begin_create_image(IMAGE_REQUEST)
    assert poller.operation_id == "img1"
    built = poller.result(timeout=60)
    assert built.creation_state is not None and built.creation_state.value == "Succeeded"
    assert wire.calls == ["POST /images", "GET /images", "GET /images/img1", "GET /images/img1"]


def test_service_with_unknown_outcome_continues_with_the_deployment_it_made() -> None:
    service = {"id": "svc1", "name": "churn", "imageId": "img1", "state": "Running"}
    mms, wire, _ = scripted_client(
        [
            time_out,
            answer(200, [service]),
            answer(200, service),
            answer(200, {**service, "state": "Succeeded"}),
        ]
    )
    poller = mms.begin_create_service(SERVICE_REQUEST)
    assert poller.result(timeout=60).id == "svc1"
    assert wire.calls == [
        "POST /services",
        "GET /services",
        "GET /services/svc1",
        "GET /services/svc1",
    ]


def test_service_name_held_by_another_image_is_a_conflict_from_the_service() -> None:
    theirs = {"id": "svc0", "name": "churn", "imageId": "img0", "state": "Succeeded"}
    conflict = {
        "code": "Conflict",
        "message": "A service named 'churn' already exists",
        "details": [{"code": "ServiceNameTaken", "message": "name: 'churn' is in use"}],
    }
    mms, wire, _ = scripted_client([time_out, answer(200, [theirs]), answer(409, conflict)])
    with pytest.raises(ConflictError, match="pick another name") as taken:
        mms.begin_create_service(SERVICE_REQUEST)
    assert taken.value.request_id == "req-409"
    assert wire.calls == ["POST /services", "GET /services", "POST /services"]


def test_a_creating_post_makes_at_most_max_retries_retries_in_all() -> None:
    """The transport's retries and the repeats after a lookup share one budget."""
    mms, wire, _ = scripted_client(
        [answer(503), answer(503), answer(500), answer(200, []), answer(500), answer(200, [])],
        max_retries=3,
    )
    with pytest.raises(ServerError):
        mms.register_model(MODEL_REQUEST)
    assert wire.calls.count("POST /models") == 4  # the first try and 3 retries
    assert wire.calls[-1] == "GET /models"  # looked once more before giving up
