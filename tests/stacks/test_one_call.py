"""``examples/one-call`` through the engine-faithful harness: one ``Deployment`` from local
files to a smoke-tested endpoint, an edited driver, a broken one rolled back, a broken one
on create removed, and a local file against a remote endpoint refused at preview."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from pulumi.runtime import rpc

from mms_pulumi.client import MmsClient
from mms_pulumi.emulator.process import EmulatorProcess
from tests.harness import Engine, EngineError, assert_no_plaintext
from tests.harness.plugin import unwrap
from tests.support import account_config, kube_config

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart"
TOKEN = "one-call-token-5d1e"
PASSWORD = "one-call-registry-77aa"
KUBE_TOKEN = "one-call-kube-0c4f"
SECRETS = (TOKEN, PASSWORD, KUBE_TOKEN)
CHILDREN = ("churn-model", "churn-manifest", "churn-image", "churn-service")
CUSTOMERS = {
    "customers": [
        {"tenure_months": 4, "monthly_charges": 100, "support_calls": 5},
        {"tenure_months": 60, "monthly_charges": 20, "support_calls": 0},
    ]
}
# A driver that loads and answers, but wrongly: every customer stays.
BROKEN_RUN = '''

def run(input):
    """Broken on purpose: nobody churns."""
    return {"churn_probability": [0.0, 0.0], "churn": [False, False]}
'''

pytestmark = pytest.mark.emulator(operation_seconds=0.2, token=TOKEN, secrets=SECRETS)


def one_call(emulator: EmulatorProcess, tmp_path: Path, account: str, driver: Path) -> Engine:
    return Engine(
        ROOT / "examples" / "one-call",
        project="mms-one-call",
        stack="test",
        config={
            **account_config(emulator.base_url, account, TOKEN),
            "mms:operationTimeout": "60",
            "mms-one-call:registryPassword": PASSWORD,
            "mms-one-call:kubeConfig": kube_config(KUBE_TOKEN),
            "mms-one-call:driver": str(driver),
        },
        secret_keys={"mms:token", "mms-one-call:registryPassword", "mms-one-call:kubeConfig"},
        state_path=tmp_path / "state.json",
    )


def driver_copy(tmp_path: Path, *, broken: bool = False) -> Path:
    directory = tmp_path / "driver"
    directory.mkdir(exist_ok=True)
    driver = directory / "score.py"
    shutil.copy(QUICKSTART / "score.py", driver)
    if broken:
        driver.write_text(driver.read_text() + BROKEN_RUN)
    return driver


def score(uri: str, key: str) -> Any:
    headers = {"Authorization": f"Bearer {key}"}
    answer = requests.post(uri, json=CUSTOMERS, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def by_name(engine: Engine) -> dict[str, Any]:
    return {resource.urn.rsplit("::", 1)[-1]: resource for resource in engine.load().values()}


def live_services(emulator: EmulatorProcess, account: str) -> dict[str, str | None]:
    with MmsClient(emulator.base_url, "sub", "rg", account, TOKEN) as mms:
        return {service.id: service.image_id for service in mms.list_services()}


@pytest.mark.timeout(300)
def test_one_call_tree_edit_and_rollback(emulator: EmulatorProcess, tmp_path: Path) -> None:
    account = f"oc-{uuid.uuid4().hex[:8]}"
    driver = driver_copy(tmp_path)
    engine = one_call(emulator, tmp_path, account, driver)

    plan = engine.preview()
    assert plan.ops() == {"churn": "create", **dict.fromkeys(CHILDREN, "create")}
    result = engine.up()
    resources = by_name(engine)
    component = resources["churn"]
    assert component.type == "mms:index:Deployment" and not component.custom
    assert all(resources[child].parent == component.urn for child in CHILDREN)

    outputs = result.outputs
    assert rpc.is_rpc_secret(outputs["primary_key"])
    key = unwrap(outputs["primary_key"])
    uri = unwrap(outputs["scoring_uri"])
    assert score(uri, key)["churn"] == [True, False]
    assert unwrap(outputs["service_id"]) == resources["churn-service"].id
    assert unwrap(outputs["image_id"]) == resources["churn-image"].id
    assert unwrap(outputs["model_id"]) == resources["churn-model"].id
    assert unwrap(outputs["model_version"]) == 1
    assert any("smoke test" in line for line in engine.plugin_output)
    engine.preview(expect_no_changes=True)

    # Same path, new content: the manifest and image replace, the service rolls in place,
    # the model (its file untouched) stays.
    driver.write_text(driver.read_text() + "\n# a comment changes the content hash\n")
    plan = engine.preview()
    assert plan.ops() == {
        "churn": "same",
        "churn-model": "same",
        "churn-manifest": "replace",
        "churn-image": "replace",
        "churn-service": "update",
    }
    assert plan.step("churn-manifest").replaces == ["assets"]
    engine.up()
    serving = by_name(engine)["churn-service"]
    assert live_services(emulator, account) == {serving.id: serving.outputs["image_id"]}

    # A driver that answers wrongly: the update fails, the old image serves again.
    driver.write_text(driver.read_text() + BROKEN_RUN)
    with pytest.raises(EngineError) as failed:
        engine.up()
    message = str(failed.value)
    assert "smoke test" in message and "rolled back" in message
    assert "not the expected" in message
    after = by_name(engine)["churn-service"]
    assert after.outputs == serving.outputs and after.inputs == serving.inputs
    assert live_services(emulator, account) == {serving.id: serving.outputs["image_id"]}
    assert score(uri, key)["churn"] == [True, False]

    # Fixed again: the next up succeeds.
    driver_copy(tmp_path)
    engine.up()
    assert score(uri, key)["churn"] == [True, False]
    engine.up(expect_no_changes=True)
    assert_no_plaintext(SECRETS, engine.all_text())
    assert key not in engine.state.text()

    engine.destroy()
    assert live_services(emulator, account) == {}


@pytest.mark.timeout(180)
def test_failed_smoke_test_on_create_removes_the_service(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    account = f"oc-{uuid.uuid4().hex[:8]}"
    engine = one_call(emulator, tmp_path, account, driver_copy(tmp_path, broken=True))
    with pytest.raises(EngineError) as failed:
        engine.up()
    message = str(failed.value)
    assert "smoke test failed" in message and "was deleted" in message
    assert live_services(emulator, account) == {}
    assert "churn-service" not in by_name(engine)
    assert_no_plaintext(SECRETS, engine.all_text())


def test_local_file_against_a_remote_endpoint_fails_at_preview(tmp_path: Path) -> None:
    engine = one_call_remote(tmp_path)
    with pytest.raises(EngineError) as failed:
        engine.preview()
    message = str(failed.value)
    assert "is a local file" in message and "https://mms.example.invalid" in message
    assert "Upload the file first" in message


def one_call_remote(tmp_path: Path) -> Engine:
    return Engine(
        ROOT / "examples" / "one-call",
        project="mms-one-call",
        stack="test",
        config={
            **account_config("https://mms.example.invalid", "remote", TOKEN),
            "mms-one-call:driver": str(driver_copy(tmp_path)),
        },
        secret_keys={"mms:token"},
        state_path=tmp_path / "state.json",
    )
