"""``MmsBackend`` in-process: the rules of models, manifests and images, with a store and
no HTTP (and an operation runner that is never started)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mms_pulumi.emulator.actions import Action, WorkPayload
from mms_pulumi.emulator.backend import MmsBackend, in_flight
from mms_pulumi.emulator.errors import ApiError
from mms_pulumi.emulator.faults import FaultInjector, FaultSettings
from mms_pulumi.emulator.operations import OperationRunner
from mms_pulumi.emulator.scope import AccountScope, path_generation
from mms_pulumi.emulator.store import OperationRecord, Store
from mms_pulumi.schema import (
    ApiGeneration,
    CreateImageRequest,
    CreateManifestRequest,
    OperationState,
    OperationType,
    RegisterModelRequest,
)
from mms_pulumi.schema_2017_09 import (
    CreateImageRequest2017_09,
    CreateManifestRequest2017_09,
    RegisterModelRequest2017_09,
)

JUNE = AccountScope("sub", "rg", "acct")
SEPTEMBER = AccountScope("sub", "rg", "acct", ApiGeneration.V2017_09)
MODEL = {"name": "churn", "url": "file:///m.json", "mime_type": "application/json"}


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[MmsBackend]:
    store = Store(tmp_path / "state.db")
    yield MmsBackend(store)
    store.close()


def test_each_registration_is_the_next_version_of_its_name(backend: MmsBackend) -> None:
    first = backend.register_model(JUNE, RegisterModelRequest.model_validate(MODEL))
    second = backend.register_model(JUNE, RegisterModelRequest.model_validate(MODEL))
    assert (first["version"], second["version"]) == (1, 2) and first["id"] != second["id"]
    assert backend.get_model(JUNE, second["id"])["mimeType"] == "application/json"
    assert [m["version"] for m in backend.list_models(JUNE, name="churn")] == [1, 2]


def test_the_two_generations_accounts_are_apart(backend: MmsBackend) -> None:
    june = backend.register_model(JUNE, RegisterModelRequest.model_validate(MODEL))
    september = backend.register_model(SEPTEMBER, RegisterModelRequest2017_09.model_validate(MODEL))
    assert september["version"] == 1
    with pytest.raises(ApiError) as missing:
        backend.get_model(SEPTEMBER, june["id"])
    assert missing.value.status == 404


def test_a_manifest_names_each_model_the_account_lacks(backend: MmsBackend) -> None:
    model = backend.register_model(JUNE, RegisterModelRequest.model_validate(MODEL))
    request = CreateManifestRequest.model_validate(
        {
            "model_ids": [model["id"], "nope"],
            "model_type": "Registered",
            "assets": [{"id": "score", "url": "file:///s.py", "mime_type": "x"}],
            "target_runtime": {"runtime_type": "ScikitPython"},
            "driver_program": "score",
        }
    )
    with pytest.raises(ApiError) as refused:
        backend.create_manifest(JUNE, request)
    assert refused.value.status == 400
    assert [detail for _code, detail in refused.value.details] == [
        "modelIds[1]: no model nope in this account"
    ]
    assert backend.list_manifests(JUNE) == []


def test_2017_09_manifests_are_versioned_per_name(backend: MmsBackend) -> None:
    model = backend.register_model(SEPTEMBER, RegisterModelRequest2017_09.model_validate(MODEL))
    body = {
        "name": "churn",
        "driver_program": "score",
        "model_ids": [model["id"]],
        "assets": [{"id": "score", "url": "file:///s.py", "mime_type": "x"}],
        "target_runtime": {"runtime_type": "Python", "properties": {}},
    }
    made = [
        backend.create_manifest(SEPTEMBER, CreateManifestRequest2017_09.model_validate(body))
        for _ in range(2)
    ]
    assert [m["version"] for m in made] == [1, 2]
    assert backend.list_manifests(SEPTEMBER, model_id=model["id"], manifest_name="churn") == made
    assert backend.list_manifests(SEPTEMBER, model_id="other") == []


def test_the_generation_is_read_from_the_path_once() -> None:
    assert path_generation("/api/subscriptions/s/resourceGroups/r/accounts/a/models") is (
        ApiGeneration.V2017_09
    )
    assert path_generation("/api/subscriptions/s/resourceGroups/r/hostingAccounts/a") is (
        ApiGeneration.V2017_06
    )


def _runner(store: Store, *, fail_next: int = 0) -> OperationRunner:
    """A runner whose thread never starts: it makes operations, it does not run them."""
    faults = FaultInjector(FaultSettings(fail_next_operations=fail_next))
    return OperationRunner(store, None, faults, 5.0, clock=lambda: 1000.0)  # type: ignore[arg-type]


def _manifest(backend: MmsBackend, scope: AccountScope) -> dict[str, object]:
    model = backend.register_model(scope, RegisterModelRequest2017_09.model_validate(MODEL))
    return backend.create_manifest(
        scope,
        CreateManifestRequest2017_09.model_validate(
            {
                "name": "churn",
                "driver_program": "score",
                "model_ids": [model["id"]],
                "assets": [{"id": "score", "url": "file:///s.py", "mime_type": "x"}],
                "target_runtime": {"runtime_type": "Python", "properties": {}},
            }
        ),
    )


def test_an_image_build_is_an_operation_with_a_typed_payload(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    backend = MmsBackend(store, _runner(store, fail_next=1))
    manifest = _manifest(backend, SEPTEMBER)
    request = CreateImageRequest2017_09.model_validate(
        {
            "name": "img",
            "manifest_id": manifest["id"],
            "image_type": "Docker",
            "compute_resource_id": "c",
        }
    )
    operation = backend.create_image(SEPTEMBER, request)
    assert operation.action is Action.BUILD_IMAGE
    assert operation.payload == WorkPayload(base_path=SEPTEMBER.base_path, inject_failure=True)
    assert OperationRecord.from_json(operation.to_json()) == operation
    (image,) = backend.list_images(SEPTEMBER, manifest_name="churn", log_base="http://h:1/")
    assert image["creationState"] == "NotStarted" and image["manifest"]["id"] == manifest["id"]
    assert image["imageBuildLogUri"] == f"http://h:1/_emulator/images/{image['id']}/buildlog"
    assert "imageBuildLogUri" not in backend.get_image(SEPTEMBER, image["id"])
    store.close()


def test_an_image_of_a_manifest_the_account_lacks_is_refused(backend: MmsBackend) -> None:
    request = CreateImageRequest.model_validate(
        {
            "manifest_id": "nope",
            "image_type": "Docker",
            "registry_info": {"user": "u", "location": "l", "password": "p"},
        }
    )
    with pytest.raises(ApiError) as refused:
        backend.create_image(JUNE, request)
    assert refused.value.status == 400 and "no manifest nope" in refused.value.details[0][1]


def test_an_image_in_flight_shows_its_operations_state() -> None:
    image = {"id": "i", "imageType": "Docker", "creationState": "NotStarted"}
    running = OperationRecord(
        id="op",
        scope="s",
        operation_type=OperationType.IMAGE,
        action=Action.BUILD_IMAGE,
        resource_kind="images",
        resource_id="i",
        resource_location="/x",
        created=0.0,
        not_before=1.0,
        state=OperationState.RUNNING,
    )
    assert in_flight(image, running)["creationState"] == "Running"
    assert in_flight(image, None) == image
    done = {**image, "creationState": "Succeeded"}
    assert in_flight(done, running) == done
