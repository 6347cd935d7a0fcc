"""The client against the real emulator on loopback, with and without injected faults."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from mms_pulumi.client import MmsClient
from mms_pulumi.emulator.process import EmulatorProcess
from mms_pulumi.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    OperationFailedError,
    OperationTimeoutError,
    RequestNotSentError,
    ServerError,
    ThrottledError,
)
from mms_pulumi.schema import OperationState

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
TOKEN = "client-test-token-abc"
CONTROL = {"Authorization": f"Bearer {TOKEN}"}  # the control routes want it too
PASSWORD = "registry-password-abc"
KUBE_SECRET = "kube-tok-abc"
KUBE = (
    '{"apiVersion":"v1","kind":"Config","clusters":[],"contexts":[],"current-context":"x",'
    f'"users":[{{"name":"u","user":{{"token":"{KUBE_SECRET}"}}}}]}}'
)
OPERATION_SECONDS = 0.3

Faults = Callable[..., None]


pytestmark = pytest.mark.emulator(
    operation_seconds=OPERATION_SECONDS, token=TOKEN, page_size=2, scoring=False
)


@pytest.fixture
def mms(emulator: EmulatorProcess) -> Iterator[MmsClient]:
    """A client of a fresh hosting account, with short backoffs to keep the suite fast."""
    with MmsClient(
        emulator.base_url,
        "sub",
        "rg",
        f"acct-{uuid.uuid4().hex[:8]}",
        TOKEN,
        retry_backoff_factor=0.02,
        retry_backoff_max=0.2,
    ) as client:
        yield client


@pytest.fixture
def faults(emulator: EmulatorProcess) -> Iterator[Faults]:
    def set_faults(**settings: Any) -> None:
        answer = requests.put(
            f"{emulator.base_url}/_emulator/faults", json=settings, headers=CONTROL, timeout=5
        )
        answer.raise_for_status()

    yield set_faults
    requests.delete(
        f"{emulator.base_url}/_emulator/faults", headers=CONTROL, timeout=5
    ).raise_for_status()


def fault_counts(emulator: EmulatorProcess) -> dict[str, int]:
    stats = requests.get(f"{emulator.base_url}/_emulator/stats", headers=CONTROL, timeout=5).json()
    counts: dict[str, int] = stats["faults"]
    return counts


def model_request(name: str = "churn", **extra: Any) -> dict[str, Any]:
    url = (QUICKSTART / "churn-model.json").as_uri()
    return {"name": name, "url": url, "mime_type": "application/json", **extra}


def manifest_request(model_id: str) -> dict[str, Any]:
    return {
        "model_ids": [model_id],
        "model_type": "Registered",
        "driver_program": "score",
        "assets": [
            {"id": "score", "url": (QUICKSTART / "score.py").as_uri(), "mime_type": "x-python"}
        ],
        "target_runtime": {"runtime_type": "ScikitPython"},
    }


def image_request(manifest_id: str) -> dict[str, Any]:
    return {
        "manifest_id": manifest_id,
        "image_type": "Docker",
        "registry_info": {"user": "u", "location": "acr.local", "password": PASSWORD},
    }


def service_request(name: str, image_id: str) -> dict[str, Any]:
    return {"name": name, "image_id": image_id, "kube_config": KUBE, "acr_image_pull_secret": "p"}


def new_manifest(mms: MmsClient) -> str:
    return mms.create_manifest(manifest_request(mms.register_model(model_request()).id)).id


def test_every_method_end_to_end(mms: MmsClient) -> None:
    model = mms.register_model(model_request(tags=["prod"]))
    assert mms.get_model(model.id) == model
    assert [m.id for m in mms.list_models(name="churn")] == [model.id]
    assert [m.id for m in mms.list_models(tag="prod")] == [model.id]
    manifest = mms.create_manifest(manifest_request(model.id))
    assert mms.get_manifest(manifest.id).model_ids == [model.id]
    assert [m.id for m in mms.list_manifests()] == [manifest.id]
    building = mms.begin_create_image(image_request(manifest.id))
    image = building.result(timeout=30)
    assert image.creation_state is OperationState.SUCCEEDED
    assert mms.get_operation(building.operation_id).resource_id == image.id
    assert mms.get_image(image.id).manifest_id == manifest.id
    assert [i.id for i in mms.list_images()] == [image.id]
    deploying = mms.begin_create_service(service_request("svc", image.id))
    service = deploying.result(timeout=30)
    assert service.state is OperationState.SUCCEEDED
    assert mms.get_operation(deploying.operation_id).state is OperationState.SUCCEEDED
    assert [s.id for s in mms.list_services(name="svc")] == [service.id]
    second = mms.begin_create_image(image_request(manifest.id)).result(timeout=30)
    updated = mms.begin_update_service(
        service.id, {"image_id": second.id, "acr_image_pull_secret": "p2"}
    ).result(timeout=30)
    assert updated.id == service.id and updated.image_id == second.id
    assert mms.delete_service(service.id) is True
    assert mms.delete_service(service.id) is False
    with pytest.raises(NotFoundError):
        mms.get_service(service.id)


def test_lists_follow_pages(mms: MmsClient) -> None:
    ids = [mms.register_model(model_request("paged")).id for _ in range(5)]
    assert [m.id for m in mms.list_models()] == ids  # three pages of two
    assert [m.version for m in mms.list_models(name="paged")] == [1, 2, 3, 4, 5]


def test_completion_is_noticed_promptly(mms: MmsClient) -> None:
    poller = mms.begin_create_image(image_request(new_manifest(mms)))
    poller.result(timeout=30)
    noticed = datetime.now(UTC)
    ended = mms.get_operation(poller.operation_id).end_time
    assert ended is not None
    # The schedule allows 0.1 s + 5 % for a 0.3 s build; the rest is two loopback requests.
    assert (noticed - ended).total_seconds() < 0.4


def test_each_error_class(mms: MmsClient, emulator: EmulatorProcess, faults: Faults) -> None:
    with pytest.raises(BadRequestError) as bad:
        mms.create_manifest(manifest_request(str(uuid.uuid4())))
    assert bad.value.problems[0].field == "modelIds[0]"
    assert bad.value.request_id and bad.value.client_request_id
    with (
        MmsClient(emulator.base_url, "s", "r", "a", "wrong-token") as wrong,
        pytest.raises(AuthenticationError, match="mms:token"),
    ):
        wrong.list_models()
    with pytest.raises(NotFoundError, match="404"):
        mms.get_model(str(uuid.uuid4()))
    image = mms.begin_create_image(image_request(new_manifest(mms))).result(timeout=30)
    mms.begin_create_service(service_request("dup", image.id)).result(timeout=30)
    with pytest.raises(ConflictError, match="pick another name"):
        mms.begin_create_service(service_request("dup", image.id))
    faults(throttle_rate=1.0, retry_after=0.01)
    with pytest.raises(ThrottledError) as throttled:
        mms.list_models()
    assert throttled.value.retry_after == pytest.approx(0.01)
    faults(unavailable_rate=1.0)
    with pytest.raises(ServerError) as unavailable:
        mms.get_image(image.id)
    assert unavailable.value.status_code == 503
    with (
        MmsClient("http://127.0.0.1:9", "s", "r", "a", TOKEN, max_retries=1) as nowhere,
        pytest.raises(RequestNotSentError),
    ):
        nowhere.list_models()


@pytest.mark.parametrize(
    "settings",
    [
        {"throttle_rate": 0.4, "retry_after": 0.02, "seed": 3},
        {"throttle_rate": 0.4, "seed": 4},
        {"unavailable_rate": 0.4, "seed": 5},
    ],
    ids=["429-retry-after", "429-backoff", "503"],
)
def test_retries_through_faults_end_in_success_without_duplicates(
    mms: MmsClient, emulator: EmulatorProcess, faults: Faults, settings: dict[str, Any]
) -> None:
    before = sum(fault_counts(emulator).values())
    faults(**settings)
    models = [mms.register_model(model_request("flaky")) for _ in range(6)]
    manifest = mms.create_manifest(manifest_request(models[0].id))
    image = mms.begin_create_image(image_request(manifest.id)).result(timeout=30)
    assert len(mms.list_models(name="flaky")) == 6
    faults()
    assert sorted(m.version for m in models) == [1, 2, 3, 4, 5, 6]
    assert [i.id for i in mms.list_images()] == [image.id]
    assert sum(fault_counts(emulator).values()) > before


def test_deadline_raises_timeout_with_the_operation_id_and_another_client_resumes(
    mms: MmsClient, emulator: EmulatorProcess
) -> None:
    poller = mms.begin_create_image(image_request(new_manifest(mms)))
    with pytest.raises(OperationTimeoutError) as timed_out:
        poller.result(timeout=0.05)
    assert timed_out.value.operation_id == poller.operation_id
    assert poller.operation_id in str(timed_out.value)
    assert timed_out.value.last_state in (OperationState.NOT_STARTED, OperationState.RUNNING)
    with MmsClient(emulator.base_url, "sub", "rg", mms.hosting_account, TOKEN) as other:
        image = other.resume_image_operation(poller.operation_id).result(timeout=30)
    assert image.creation_state is OperationState.SUCCEEDED
    assert [i.id for i in mms.list_images()] == [image.id]


def test_failed_operation_raises_with_its_id_and_message(mms: MmsClient, faults: Faults) -> None:
    manifest = new_manifest(mms)
    faults(fail_next_operations=1)
    poller = mms.begin_create_image(image_request(manifest))
    with pytest.raises(OperationFailedError) as failed:
        poller.result(timeout=30)
    assert failed.value.operation_id == poller.operation_id
    assert failed.value.state is OperationState.FAILED
    assert failed.value.code == "InjectedFailure"
    assert "fault injected" in failed.value.error_message
    assert "fault injected" in str(failed.value)


def test_secrets_never_reach_logs_or_errors(
    mms: MmsClient, caplog: pytest.LogCaptureFixture, faults: Faults
) -> None:
    caplog.set_level(logging.DEBUG)
    faults(throttle_rate=0.5, retry_after=0.01, seed=9)
    image = mms.begin_create_image(image_request(new_manifest(mms))).result(timeout=30)
    listed = mms.list_images()  # the emulator echoes the registry password, as MMS did
    faults()
    with pytest.raises(BadRequestError) as bad:
        mms.begin_create_service(service_request("s", str(uuid.uuid4())))
    texts = [caplog.text, str(bad.value), repr(bad.value), repr(mms), repr(image), repr(listed)]
    for text in texts:
        assert TOKEN not in text
        assert PASSWORD not in text
        assert KUBE_SECRET not in text
    assert "request-id=" in caplog.text  # the log is there, only without secrets


def test_dropped_connections_create_nothing_twice(
    mms: MmsClient, emulator: EmulatorProcess, faults: Faults
) -> None:
    faults(reset_before_rate=0.2, reset_after_rate=0.2, seed=21)
    models = [mms.register_model(model_request(f"reset-{i}")) for i in range(6)]
    manifest = mms.create_manifest(manifest_request(models[0].id))
    image = mms.begin_create_image(image_request(manifest.id)).result(timeout=30)
    service = mms.begin_create_service(service_request("reset-svc", image.id)).result(timeout=30)
    faults()
    counts = fault_counts(emulator)
    assert counts.get("reset_before", 0) + counts.get("reset_after", 0) > 0
    assert all(len(mms.list_models(name=f"reset-{i}")) == 1 for i in range(6))
    assert [m.id for m in mms.list_manifests()] == [manifest.id]
    assert [i.id for i in mms.list_images()] == [image.id]
    assert [s.id for s in mms.list_services()] == [service.id]
