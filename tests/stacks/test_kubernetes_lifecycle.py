"""The kubernetes example through the harness: kubernetes resources mocked, MMS real."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from mms_pulumi.client import MmsClient
from mms_pulumi.emulator.process import EmulatorProcess
from tests.harness import Engine, assert_no_plaintext
from tests.harness.plugin import unwrap
from tests.support import account_config, kube_config

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "k8s-example-token-55"
PASSWORD = "k8s-example-registry-66"
KUBE_TOKEN = "k8s-example-kube-77"
KUBE = kube_config(KUBE_TOKEN)
SECRETS = (TOKEN, PASSWORD, KUBE_TOKEN)


pytestmark = pytest.mark.emulator(operation_seconds=0.2, token=TOKEN)


def kubernetes(emulator: EmulatorProcess, tmp_path: Path, account: str, **config: str) -> Engine:
    return Engine(
        ROOT / "examples" / "kubernetes",
        project="mms-kubernetes",
        stack="test",
        config={
            **account_config(emulator.base_url, account, TOKEN),
            "mms-kubernetes:kubeConfig": KUBE,
            "mms-kubernetes:registryPassword": PASSWORD,
            **{f"mms-kubernetes:{key}": value for key, value in config.items()},
        },
        secret_keys={"mms:token", "mms-kubernetes:kubeConfig", "mms-kubernetes:registryPassword"},
        state_path=tmp_path / "state.json",
    )


@pytest.mark.timeout(240)
def test_kubernetes_example_lifecycle(emulator: EmulatorProcess, tmp_path: Path) -> None:
    account = f"k8s-{uuid.uuid4().hex[:8]}"
    engine = kubernetes(emulator, tmp_path, account)
    assert engine.preview().ops() == {
        "cluster": "create",
        "acr-pull": "create",
        "scorer-model": "create",
        "scorer-manifest": "create",
        "scorer-image": "create",
        "scorer": "create",
    }
    result = engine.up()
    assert unwrap(result.outputs["pull_secret"]) == "acr-pull"
    state = {r.urn.rsplit("::", 1)[-1]: r for r in engine.load().values()}
    secret = unwrap(state["acr-pull"].outputs)
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert unwrap(state["scorer"].outputs)["acr_image_pull_secret"] == "acr-pull"
    with MmsClient(emulator.base_url, "sub", "rg", account, TOKEN) as mms:
        (service,) = mms.list_services()
        assert service.acr_image_pull_secret == "acr-pull"
    assert_no_plaintext(SECRETS, engine.all_text())

    engine.up(expect_no_changes=True)
    engine.refresh(expect_no_changes=True)

    # A rotated kubeconfig replaces the service (deleting first: it keeps its name).
    rotated = KUBE.replace(KUBE_TOKEN, "k8s-example-kube-88")
    engine = kubernetes(emulator, tmp_path, account, kubeConfig=rotated)
    engine.secret_keys.add("mms-kubernetes:kubeConfig")
    result = engine.up()
    assert result.ops()["scorer"] == "replace"
    assert result.ops()["cluster"] == "update"
    with MmsClient(emulator.base_url, "sub", "rg", account, TOKEN) as mms:
        assert len(mms.list_services()) == 1
    assert_no_plaintext((*SECRETS, "k8s-example-kube-88"), engine.all_text())

    engine.destroy()
    with MmsClient(emulator.base_url, "sub", "rg", account, TOKEN) as mms:
        assert mms.list_services() == []
