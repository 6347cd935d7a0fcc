"""``MmsBackend`` in-process: the rules of models, manifests, images and services, with a
store and no HTTP (and an operation runner that is never started)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mms_pulumi.emulator.actions import Action, WorkPayload
from mms_pulumi.emulator.backend import MmsBackend, in_flight
from mms_pulumi.emulator.backend_services import shown_state
from mms_pulumi.emulator.errors import ApiError
from mms_pulumi.emulator.faults import FaultInjector, FaultSettings
from mms_pulumi.emulator.operations import OperationRunner
from mms_pulumi.emulator.records import ServiceRecord
from mms_pulumi.emulator.scope import AccountScope, path_generation
from mms_pulumi.emulator.services import Health
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
    CreateServiceRequest2017_09,
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


def _built(store: Store, backend: MmsBackend, scope: AccountScope) -> str:
    """An image of the account whose build succeeded (its build is not run here)."""
    manifest = _manifest(backend, scope)
    request = CreateImageRequest2017_09.model_validate(
        {
            "name": "img",
            "manifest_id": manifest["id"],
            "image_type": "Docker",
            "compute_resource_id": "c",
        }
    )
    image_id = backend.create_image(scope, request).resource_id
    body = store.get("images", scope.key, image_id)
    assert body is not None
    store.put("images", scope.key, image_id, {**body, "creationState": "Succeeded"})
    return image_id


def test_a_service_deploys_a_built_image_once_per_name(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    backend = MmsBackend(store, _runner(store))
    image_id = _built(store, backend, SEPTEMBER)
    create = CreateServiceRequest2017_09.model_validate(
        {"name": "churn", "image_id": image_id, "compute_resource": {"id": "c"}, "num_replicas": 2}
    )
    operation = backend.create_service(SEPTEMBER, create, base_url="http://h:1/")
    assert operation.action is Action.DEPLOY_SERVICE
    assert operation.payload.scoring_uri == (
        f"http://h:1/api/v1/service/{operation.resource_id}/score"
    )
    with pytest.raises(ApiError) as taken:
        backend.create_service(SEPTEMBER, create, base_url="http://h:1/")
    assert taken.value.status == 409
    (shown,) = backend.list_services(
        SEPTEMBER, name="churn", filters={"image_id": image_id}, base_url="http://other:2"
    )
    assert shown["state"] == "NotStarted" and shown["numReplicas"] == 2
    assert shown["image"]["id"] == image_id and shown["models"][0]["name"] == "churn"
    assert (
        backend.list_services(
            SEPTEMBER, name=None, filters={"image_id": "other"}, base_url="http://h:1"
        )
        == []
    )
    too_many = CreateServiceRequest2017_09.model_validate(
        {"name": "big", "image_id": image_id, "compute_resource": {"id": "c"}, "num_replicas": 17}
    )
    with pytest.raises(ApiError) as refused:
        backend.create_service(SEPTEMBER, too_many, base_url="http://h:1/")
    assert refused.value.details[0][1].startswith("numReplicas: ")
    assert backend.delete_service(SEPTEMBER, operation.resource_id) is True
    assert backend.delete_service(SEPTEMBER, operation.resource_id) is False
    store.close()


def test_a_service_of_an_unbuilt_image_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    backend = MmsBackend(store, _runner(store))
    manifest = _manifest(backend, SEPTEMBER)
    image = backend.create_image(
        SEPTEMBER,
        CreateImageRequest2017_09.model_validate(
            {
                "name": "i",
                "manifest_id": manifest["id"],
                "image_type": "Docker",
                "compute_resource_id": "c",
            }
        ),
    )
    create = CreateServiceRequest2017_09.model_validate(
        {"name": "s", "image_id": image.resource_id, "compute_resource": {"id": "c"}}
    )
    with pytest.raises(ApiError) as refused:
        backend.create_service(SEPTEMBER, create, base_url="http://h:1/")
    assert "still building" in refused.value.details[0][1]
    store.close()


def _service(state: OperationState) -> ServiceRecord:
    return ServiceRecord(id="s", name="s", state=state)


def _operation(action: Action, state: OperationState) -> OperationRecord:
    return OperationRecord(
        id="op",
        scope="s",
        operation_type=action.operation_type,
        action=action,
        resource_kind="services",
        resource_id="s",
        resource_location="/x",
        created=0.0,
        not_before=1.0,
        state=state,
    )


def test_a_service_shows_its_deployment_and_its_processes_health() -> None:
    succeeded = _service(OperationState.SUCCEEDED)
    deploying = _operation(Action.DEPLOY_SERVICE, OperationState.NOT_STARTED)
    updating = _operation(Action.UPDATE_SERVICE, OperationState.NOT_STARTED)
    finished = _operation(Action.UPDATE_SERVICE, OperationState.SUCCEEDED)
    assert shown_state(_service(OperationState.NOT_STARTED), deploying, None) is (
        OperationState.NOT_STARTED
    )
    assert shown_state(succeeded, updating, Health.SERVING) is OperationState.RUNNING
    assert shown_state(succeeded, finished, Health.RESTARTING) is OperationState.RUNNING
    assert shown_state(succeeded, None, Health.FAILED) is OperationState.FAILED
    assert shown_state(succeeded, None, Health.SERVING) is OperationState.SUCCEEDED
    assert shown_state(_service(OperationState.FAILED), None, Health.FAILED) is (
        OperationState.FAILED
    )
