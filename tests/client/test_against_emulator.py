"""The client against the real emulator on loopback, with and without injected faults."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
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
)
from mms_pulumi.schema import OperationState

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
TOKEN = "client-test-token-abc"
PASSWORD = "registry-password-abc"
KUBE = '{"kind":"Config","clusters":[],"users":[{"name":"u","user":{"token":"kube-tok-abc"}}]}'


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(
        tmp_path_factory.mktemp("client-emulator"),
        operation_seconds=0.3,
        extra_args=["--page-size", "2", "--token", TOKEN],
    ) as running:
        yield running


@pytest.fixture
def mms(emulator: EmulatorProcess) -> Iterator[MmsClient]:
    with MmsClient(
        emulator.base_url,
        "sub",
        "rg",
        f"acct-{uuid.uuid4().hex[:8]}",
        TOKEN,
        retry_backoff_factor=0.05,
    ) as client:
        yield client


@pytest.fixture
def faults(emulator: EmulatorProcess) -> Iterator[Any]:
    def set_faults(**settings: Any) -> None:
        requests.put(f"{emulator.base_url}/_emulator/faults", json=settings, timeout=5)

    yield set_faults
    requests.delete(f"{emulator.base_url}/_emulator/faults", timeout=5)


def model_request(name: str = "churn") -> dict[str, Any]:
    return {"name": name, "url": (QUICKSTART / "churn-model.json").as_uri(), "mime_type": "a/b"}


def manifest_request(model_id: str) -> dict[str, Any]:
    return {
        "model_ids": [model_id],
        "model_type": "Registered",
        "driver_program": "score",
        "assets": [{"id": "score", "url": (QUICKSTART / "score.py").as_uri(), "mime_type": "x"}],
        "target_runtime": {"runtime_type": "ScikitPython"},
    }


def image_request(manifest_id: str) -> dict[str, Any]:
    return {
        "manifest_id": manifest_id,
        "image_type": "Docker",
        "registry_info": {"user": "u", "location": "acr.local", "password": PASSWORD},
    }


def test_every_method_end_to_end(mms: MmsClient) -> None:
    model = mms.register_model(model_request())
    assert mms.get_model(model.id) == model
    assert [m.id for m in mms.list_models(name="churn")] == [model.id]
    manifest = mms.create_manifest(manifest_request(model.id))
    assert mms.get_manifest(manifest.id).model_ids == [model.id]
    assert [m.id for m in mms.list_manifests()] == [manifest.id]
    image = mms.begin_create_image(image_request(manifest.id)).result(timeout=30)
    assert image.creation_state is OperationState.SUCCEEDED
    assert mms.get_image(image.id).manifest_id == manifest.id
    assert [i.id for i in mms.list_images()] == [image.id]
    poller = mms.begin_create_service(
        {"name": "svc", "image_id": image.id, "kube_config": KUBE, "acr_image_pull_secret": "p"}
    )
    service = poller.result(timeout=30)
    assert service.state is OperationState.SUCCEEDED and service.scoring_uri
    assert mms.get_operation(poller.operation_id).state is OperationState.SUCCEEDED
    assert [s.id for s in mms.list_services(name="svc")] == [service.id]
    second = mms.begin_create_image(image_request(manifest.id)).result(timeout=30)
    updated = mms.begin_update_service(
        service.id,
        {"image_id": second.id, "manifest_id": manifest.id, "acr_image_pull_secret": "p2"},
    ).result(timeout=30)
    assert updated.image_id == second.id
    assert mms.delete_service(service.id) is True
    assert mms.delete_service(service.id) is False
    with pytest.raises(NotFoundError):
        mms.get_service(service.id)


def test_lists_follow_pages(mms: MmsClient) -> None:
    ids = [mms.register_model(model_request("paged")).id for _ in range(5)]
    assert [m.id for m in mms.list_models()] == ids


def test_error_classes(mms: MmsClient, emulator: EmulatorProcess) -> None:
    with pytest.raises(BadRequestError) as bad:
        mms.create_manifest(manifest_request(str(uuid.uuid4())))
    assert bad.value.problems[0].startswith("modelIds[0]:")
    assert bad.value.request_id
    with (
        MmsClient(emulator.base_url, "s", "r", "a", "wrong-token") as wrong,
        pytest.raises(AuthenticationError, match="mms:token"),
    ):
        wrong.list_models()
    image = mms.begin_create_image(
        image_request(
            mms.create_manifest(manifest_request(mms.register_model(model_request()).id)).id
        )
    ).result(timeout=30)
    request = {
        "name": "dup",
        "image_id": image.id,
        "kube_config": KUBE,
        "acr_image_pull_secret": "p",
    }
    mms.begin_create_service(request).result(timeout=30)
    with pytest.raises(ConflictError, match="409"):
        mms.begin_create_service(request)
    with (
        MmsClient("http://127.0.0.1:9", "s", "r", "a", TOKEN, max_retries=1) as nowhere,
        pytest.raises(RequestNotSentError),
    ):
        nowhere.list_models()


def test_retries_through_throttling_and_unavailability(
    mms: MmsClient, emulator: EmulatorProcess, faults: Any
) -> None:
    faults(throttle_rate=0.3, unavailable_rate=0.2, retry_after=0.05, seed=3)
    models = [mms.register_model(model_request("flaky")) for _ in range(8)]
    faults(throttle_rate=0.4, seed=4)  # 429 without Retry-After: backoff
    assert len(mms.list_models(name="flaky")) == 8
    faults()
    assert sorted(m.version for m in models) == list(range(1, 9))
    stats = requests.get(f"{emulator.base_url}/_emulator/stats", timeout=5).json()
    assert stats["faults"].get("throttled_retry_after", 0) + stats["faults"].get("throttled", 0) > 0


def test_failed_operation_raises_with_id_and_message(mms: MmsClient, faults: Any) -> None:
    manifest = mms.create_manifest(manifest_request(mms.register_model(model_request()).id))
    faults(fail_next_operations=1)
    poller = mms.begin_create_image(image_request(manifest.id))
    with pytest.raises(OperationFailedError) as failed:
        poller.result(timeout=30)
    assert failed.value.operation_id == poller.operation_id
    assert failed.value.code == "InjectedFailure"
    assert "fault injected" in str(failed.value)


def test_deadline_raises_timeout_and_another_client_resumes(
    mms: MmsClient, emulator: EmulatorProcess
) -> None:
    manifest = mms.create_manifest(manifest_request(mms.register_model(model_request()).id))
    poller = mms.begin_create_image(image_request(manifest.id))
    with pytest.raises(OperationTimeoutError) as timed_out:
        poller.result(timeout=0.05)
    assert timed_out.value.operation_id == poller.operation_id
    assert timed_out.value.last_state in (OperationState.NOT_STARTED, OperationState.RUNNING)
    with MmsClient(emulator.base_url, "sub", "rg", mms.hosting_account, TOKEN) as other:
        image = other.resume_image_operation(poller.operation_id).result(timeout=30)
    assert image.creation_state is OperationState.SUCCEEDED


def test_secrets_never_reach_logs_or_errors(
    mms: MmsClient, caplog: pytest.LogCaptureFixture, faults: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    faults(throttle_rate=0.5, retry_after=0.01, seed=9)
    manifest = mms.create_manifest(manifest_request(mms.register_model(model_request()).id))
    image = mms.begin_create_image(image_request(manifest.id)).result(timeout=30)
    faults()
    assert image.creation_state is OperationState.SUCCEEDED
    with pytest.raises(BadRequestError) as bad:
        mms.begin_create_service(
            {
                "name": "s",
                "image_id": str(uuid.uuid4()),
                "kube_config": KUBE,
                "acr_image_pull_secret": "p",
            }
        )
    for text in (caplog.text, str(bad.value), repr(bad.value), repr(mms)):
        assert TOKEN not in text
        assert PASSWORD not in text
        assert "kube-tok-abc" not in text


def test_unknown_outcomes_from_dropped_connections_create_nothing_twice(
    mms: MmsClient, faults: Any
) -> None:
    faults(reset_before_rate=0.2, reset_after_rate=0.2, seed=21)
    models = [mms.register_model(model_request(f"reset-{i}")) for i in range(6)]
    manifest = mms.create_manifest(manifest_request(models[0].id))
    image = mms.begin_create_image(image_request(manifest.id)).result(timeout=60)
    service = mms.begin_create_service(
        {
            "name": "reset-svc",
            "image_id": image.id,
            "kube_config": KUBE,
            "acr_image_pull_secret": "p",
        }
    ).result(timeout=60)
    faults()
    assert all(len(mms.list_models(name=f"reset-{i}")) == 1 for i in range(6))
    assert len(mms.list_manifests()) == 1
    assert len(mms.list_images()) == 1
    assert [s.id for s in mms.list_services()] == [service.id]
