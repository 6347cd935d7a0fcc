"""The quickstart through the engine-faithful harness: Pulumi's program-test sequence.

preview → up → no-change preview and up → refresh → in-place edit → replacing edit →
destroy, checking after every step that no secret is plaintext anywhere a user could see
it and that the emulator holds exactly what the state says.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from pulumi.runtime import rpc

from mms_pulumi.client import MmsClient
from mms_pulumi.emulator.process import EmulatorProcess
from tests.harness import Engine, assert_no_plaintext
from tests.harness.plugin import unwrap
from tests.support import account_config, kube_config

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "lifecycle-token-7f3a"
PASSWORD = "lifecycle-registry-9c1e"
KUBE_TOKEN = "lifecycle-kube-4b2d"
KUBE = kube_config(KUBE_TOKEN)
SECRETS = (TOKEN, PASSWORD, KUBE_TOKEN)


pytestmark = pytest.mark.emulator(operation_seconds=0.2, token=TOKEN, secrets=SECRETS)


def quickstart(emulator: EmulatorProcess, tmp_path: Path, account: str, **config: str) -> Engine:
    return Engine(
        ROOT / "examples" / "quickstart",
        project="mms-quickstart",
        stack="test",
        config={
            **account_config(emulator.base_url, account, TOKEN),
            "mms:operationTimeout": "60",
            "mms-quickstart:registryPassword": PASSWORD,
            "mms-quickstart:kubeConfig": KUBE,
            **{f"mms-quickstart:{key}": value for key, value in config.items()},
        },
        secret_keys={"mms:token", "mms-quickstart:registryPassword", "mms-quickstart:kubeConfig"},
        state_path=tmp_path / "state.json",
    )


def check_invariants(engine: Engine, emulator: EmulatorProcess, account: str) -> None:
    assert_no_plaintext(SECRETS, engine.all_text())
    state = engine.load()
    ids = {r.type.rsplit(":", 1)[-1]: r.id for r in state.values()}
    with MmsClient(emulator.base_url, "sub", "rg", account, TOKEN) as mms:
        live_services = {s.id for s in mms.list_services()}
        assert live_services == ({ids["Service"]} if "Service" in ids else set())
        for kind, getter in (
            ("Model", mms.get_model),
            ("Manifest", mms.get_manifest),
            ("Image", mms.get_image),
        ):
            if kind in ids:
                assert getter(ids[kind]).id == ids[kind]


def score(outputs: dict[str, Any]) -> dict[str, Any]:
    uri = unwrap(outputs["scoring_uri"])
    customers = {"customers": [{"tenure_months": 4, "monthly_charges": 100, "support_calls": 5}]}
    # The emulator runs with a token, so its services want it (or a service key).
    headers = {"Authorization": f"Bearer {TOKEN}"}
    answer = requests.post(uri, json=customers, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


@pytest.mark.timeout(240)
def test_quickstart_lifecycle(emulator: EmulatorProcess, tmp_path: Path) -> None:
    account = f"qs-{uuid.uuid4().hex[:8]}"
    engine = quickstart(emulator, tmp_path, account)

    plan = engine.preview()
    assert plan.ops() == {
        "churn-model": "create",
        "churn-manifest": "create",
        "churn-image": "create",
        "churn-svc": "create",
    }
    with MmsClient(emulator.base_url, "sub", "rg", account, TOKEN) as mms:
        assert mms.list_models() == []  # preview created nothing

    result = engine.up()
    assert set(result.ops().values()) == {"create"}
    assert unwrap(result.outputs["service_state"]) == "Succeeded"
    assert score(result.outputs)["churn"] == [True]
    # The scoring key is a secret output: wrapped, never plaintext in state, and it scores.
    assert rpc.is_rpc_secret(result.outputs["primary_key"])
    key = unwrap(result.outputs["primary_key"])
    assert key and key not in engine.state.text()
    keyed = requests.post(
        unwrap(result.outputs["scoring_uri"]),
        json={"customers": [{"tenure_months": 4, "monthly_charges": 100, "support_calls": 5}]},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert keyed.status_code == 200, keyed.text
    check_invariants(engine, emulator, account)

    engine.preview(expect_no_changes=True)
    engine.up(expect_no_changes=True)
    engine.refresh(expect_no_changes=True)
    check_invariants(engine, emulator, account)

    # An in-place edit: a new pull secret name updates the service.
    engine = quickstart(emulator, tmp_path, account, imagePullSecret="acr-pull-2")
    assert engine.preview().ops()["churn-svc"] == "update"
    result = engine.up()
    assert result.ops() == {
        "churn-model": "same",
        "churn-manifest": "same",
        "churn-image": "same",
        "churn-svc": "update",
    }
    check_invariants(engine, emulator, account)

    # A replacing edit: a new model description registers a new model version, which
    # replaces the manifest and image; the service rolls to the new image in place.
    engine = quickstart(
        emulator, tmp_path, account, imagePullSecret="acr-pull-2", modelDescription="v2"
    )
    preview = engine.preview()
    assert preview.ops()["churn-model"] == "replace"
    assert next(s for s in preview.steps if s.name == "churn-model").replaces == ["description"]
    result = engine.up()
    assert result.ops() == {
        "churn-model": "replace",
        "churn-manifest": "replace",
        "churn-image": "replace",
        "churn-svc": "update",
    }
    assert unwrap(result.outputs["model_version"]) == 2
    assert score(result.outputs)["churn"] == [True]
    check_invariants(engine, emulator, account)
    engine.up(expect_no_changes=True)

    engine.destroy()
    assert engine.load() == {}
    check_invariants(engine, emulator, account)
