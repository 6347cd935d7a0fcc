"""The error tree: classes per status, messages that say what to do next, safe to pickle."""

from __future__ import annotations

import pickle

import pytest

import mms_pulumi.errors as errors
from mms_pulumi.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    MmsError,
    MmsHttpError,
    NotFoundError,
    OperationFailedError,
    OperationTimeoutError,
    PermissionDeniedError,
    ServerError,
    ThrottledError,
    error_class_for,
)
from mms_pulumi.schema import ErrorBody, Operation, OperationState

BASE = "/api/subscriptions/s/resourceGroups/r/hostingAccounts/a"


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (429, ThrottledError),
        (500, ServerError),
        (503, ServerError),
        (599, ServerError),
        (418, MmsHttpError),
    ],
)
def test_status_maps_to_error_class(code: int, cls: type[MmsHttpError]) -> None:
    assert error_class_for(code) is cls


def test_the_docstring_draws_every_error_class() -> None:
    doc = errors.__doc__ or ""
    classes = [
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, MmsError)
    ]
    assert len(classes) >= 14
    assert all(name in doc for name in classes)


def body(code: str, message: str, *details: tuple[str, str]) -> ErrorBody:
    return ErrorBody.model_validate(
        {
            "code": code,
            "message": message,
            "details": [{"code": c, "message": m} for c, m in details],
        }
    )


def test_bad_request_lists_each_field_problem() -> None:
    error = BadRequestError(
        "POST",
        f"{BASE}/models",
        400,
        body(
            "BadRequest",
            "The request is invalid",
            (
                "InvalidField",
                "name: must contain only letters, digits, hyphens, dots and underscores",
            ),
            ("InvalidField", "tags[0]: must be at most 30 characters"),
        ),
        request_id="rid-1",
    )
    assert error.problems == [
        "name: must contain only letters, digits, hyphens, dots and underscores",
        "tags[0]: must be at most 30 characters",
    ]
    first = error.problems[0]
    assert (first.field, first.code) == ("name", "InvalidField")
    assert first.rule == "must contain only letters, digits, hyphens, dots and underscores"
    text = str(error)
    assert "400" in text and "rid-1" in text and "tags[0]: must be at most 30" in text
    assert error.status_code == 400 and error.code == "BadRequest"


def test_messages_say_what_to_do_next() -> None:
    unauthorized = AuthenticationError("GET", f"{BASE}/models", 401, None)
    assert "mms:token" in str(unauthorized) and "MMS_TOKEN" in str(unauthorized)
    taken = ConflictError("POST", f"{BASE}/services", 409, body("Conflict", "name taken"))
    assert "delete it" in str(taken) and "another name" in str(taken)
    timed_out = OperationTimeoutError("op-7", OperationState.RUNNING, 3.0, what="image build")
    assert "op-7" in str(timed_out) and "mms:operationTimeout" in str(timed_out)
    assert "Running" in str(timed_out)


def test_operation_failure_carries_the_service_error() -> None:
    operation = Operation.model_validate(
        {
            "id": "op-9",
            "operationType": "Service",
            "state": "Canceled",
            "resourceLocation": f"{BASE}/services/svc-1",
            "error": {
                "code": "DeploymentFailed",
                "message": "pods never became ready",
                "details": [{"code": "CrashLoop", "message": "score.py raised ImportError"}],
            },
        }
    )
    failed = OperationFailedError(operation, what="service deployment", request_id="rid-2")
    assert failed.operation_id == "op-9"
    assert failed.state is OperationState.CANCELLED
    assert (failed.code, failed.error_message) == ("DeploymentFailed", "pods never became ready")
    assert [d.code for d in failed.details] == ["CrashLoop"]
    assert failed.resource_id == "svc-1"
    text = str(failed)
    assert "op-9" in text and "ImportError" in text and "delete_service" in text
    assert "rid-2" in text


@pytest.mark.parametrize(
    "error",
    [
        NotFoundError("GET", f"{BASE}/models/x", 404, body("NotFound", "no"), request_id="r"),
        OperationTimeoutError("op", OperationState.RUNNING, 1.0, what="image build"),
        MmsError("plain", client_request_id="c"),
    ],
)
def test_errors_survive_pickling(error: MmsError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.__dict__.keys() == error.__dict__.keys()
