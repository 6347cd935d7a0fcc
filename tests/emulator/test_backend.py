"""``MmsBackend`` in-process: the rules of models and manifests, with a store and no HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mms_pulumi.emulator.backend import MmsBackend
from mms_pulumi.emulator.errors import ApiError
from mms_pulumi.emulator.scope import AccountScope, path_generation
from mms_pulumi.emulator.store import Store
from mms_pulumi.schema import ApiGeneration, CreateManifestRequest, RegisterModelRequest
from mms_pulumi.schema_2017_09 import CreateManifestRequest2017_09, RegisterModelRequest2017_09

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
    september = backend.register_model(
        SEPTEMBER, RegisterModelRequest2017_09.model_validate(MODEL)
    )
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
