"""The four resources on the 2017-09-01-preview API (``mms:apiVersion``), through a real
program and the real plugin: preview → up → no-change up → refresh → scale change (in
place) → compute change (replace) → destroy, with no plaintext key in state; and a stack
switched between generations gets a precise error per input that must change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest
import requests
from pulumi.runtime import rpc

from mms_pulumi import AssetArgs, Image, Manifest, Model, Service
from mms_pulumi.client import MmsClient2017_09
from mms_pulumi.emulator.process import EmulatorProcess
from mms_pulumi.schema import API_VERSION, API_VERSION_2017_09
from tests.harness import Engine, EngineError
from tests.harness.plugin import unwrap
from tests.support import account_config, kube_config

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
TOKEN = "lifecycle-09-token"
COMPUTE = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningCompute/c"
CUSTOMERS = {"customers": [{"tenure_months": 4, "monthly_charges": 100, "support_calls": 5}]}

pytestmark = pytest.mark.emulator(operation_seconds=0.1, token=TOKEN)


def _program() -> dict[str, Any]:
    config = pulumi.Config("p09")
    model = Model(
        "churn-model",
        name="churn",
        url=(QUICKSTART / "churn-model.json").as_uri(),
        mime_type="application/json",
    )
    manifest = Manifest(
        "churn-manifest",
        name="churn",
        model_ids=[model.id],
        driver_program="score",
        assets=[AssetArgs(id="score", url=(QUICKSTART / "score.py").as_uri(), mime_type="x")],
        target_runtime={"runtime_type": "Python"},
    )
    image = Image(
        "churn-image", manifest_id=manifest.id, name="churn-image", compute_resource_id=COMPUTE
    )
    service = Service(
        "churn-svc",
        name="churn",
        image_id=image.id,
        compute_resource={"id": config.get("compute") or COMPUTE},
        num_replicas=int(config.get("replicas") or "2"),
        primary_key_version=config.get("keyVersion"),
    )
    return {
        "scoring_uri": service.scoring_uri,
        "primary_key": service.primary_key,
        "service_id": service.id,
        "image_version": image.version,
    }


def _engine(emulator: EmulatorProcess, tmp_path: Path, **config: str) -> Engine:
    return Engine(
        _program,
        project="p09",
        stack="test",
        config={
            **account_config(emulator.base_url, "p09", TOKEN),
            "mms:apiVersion": API_VERSION_2017_09,
            **{f"p09:{key}": value for key, value in config.items()},
        },
        secret_keys={"mms:token"},
        state_path=tmp_path / "state.json",
    )


@pytest.mark.timeout(240)
def test_the_2017_09_stack_lifecycle(emulator: EmulatorProcess, tmp_path: Path) -> None:
    engine = _engine(emulator, tmp_path)
    assert engine.preview().counts() == {"create": 5}
    result = engine.up()
    assert rpc.is_rpc_secret(result.outputs["primary_key"])
    key = unwrap(result.outputs["primary_key"])
    assert key not in engine.state.text()
    assert unwrap(result.outputs["image_version"]) == 1
    uri = unwrap(result.outputs["scoring_uri"])
    assert requests.post(uri, json=CUSTOMERS, timeout=10).status_code == 401
    bearer = {"Authorization": f"Bearer {key}"}
    keyed = requests.post(uri, json=CUSTOMERS, headers=bearer, timeout=10)
    assert keyed.status_code == 200, keyed.text

    engine.up(expect_no_changes=True)
    engine.refresh(expect_no_changes=True)

    scaled = _engine(emulator, tmp_path, replicas="3")
    assert scaled.preview().ops()["churn-svc"] == "update"
    service_id = unwrap(result.outputs["service_id"])
    assert unwrap(scaled.up().outputs["service_id"]) == service_id  # in place
    with MmsClient2017_09(emulator.base_url, "sub", "rg", "p09", TOKEN) as mms:
        assert mms.get_service(service_id).num_replicas == 3
        assert len(mms.list_deployments(service_id=service_id)) == 2
    scaled.refresh(expect_no_changes=True)

    # Declarative rotation: a new key version regenerates the primary key in place.
    rotated = _engine(emulator, tmp_path, replicas="3", keyVersion="2026-12")
    assert rotated.preview().ops()["churn-svc"] == "update"
    new_key = unwrap(rotated.up().outputs["primary_key"])
    assert new_key != key and new_key not in rotated.state.text()
    assert requests.post(uri, json=CUSTOMERS, headers=bearer, timeout=10).status_code == 401
    fresh = {"Authorization": f"Bearer {new_key}"}
    assert requests.post(uri, json=CUSTOMERS, headers=fresh, timeout=10).status_code == 200
    rotated.up(expect_no_changes=True)
    rotated.refresh(expect_no_changes=True)

    moved = _engine(emulator, tmp_path, replicas="3", keyVersion="2026-12", compute=COMPUTE + "2")
    assert moved.preview().ops()["churn-svc"] == "replace"
    new_id = unwrap(moved.up().outputs["service_id"])
    assert new_id != service_id

    assert moved.destroy().counts() == {"delete": 5}
    with MmsClient2017_09(emulator.base_url, "sub", "rg", "p09", TOKEN) as mms:
        assert mms.list_services() == []


def _program_2017_06() -> None:
    Service(
        "churn-svc",
        name="churn",
        image_id="img",
        kube_config=kube_config("k"),
        acr_image_pull_secret="pull",
    )


def test_switching_generations_names_each_input_that_must_change(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    engine = Engine(
        _program_2017_06,
        project="switch",
        stack="test",
        config={
            **account_config(emulator.base_url, "switch", TOKEN),
            "mms:apiVersion": API_VERSION_2017_09,
        },
        state_path=tmp_path / "state.json",
    )
    with pytest.raises(EngineError) as refused:
        engine.preview()
    text = str(refused.value)
    for name in ("kube_config", "acr_image_pull_secret"):
        assert f"service {name} belongs to the {API_VERSION} API" in text
    assert "service compute_resource is required" in text
    assert "k" * 3 not in text
