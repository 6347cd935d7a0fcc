"""What a ``Deployment`` hands its children, through a real program under the SDK's mocks
(a preview: check and diff only, nothing is called): a 2017-09 account, a model directory,
Pulumi asset types, dependency files and the service's 2017-09 settings."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pulumi
import pytest

from mms_pulumi import ComputeResourceArgs, Deployment, SmokeTestArgs
from mms_pulumi.schema import API_VERSION_2017_09
from tests.harness import Engine
from tests.harness.plugin import unwrap
from tests.support import account_config, kube_config

COMPUTE = "/subscriptions/s/resourceGroups/rg/providers/X/operationalizationClusters/c"
KUBE = kube_config("deployment-kube-token")
REMOTE_ASSET = "https://blob.example.invalid/schemas/schema.json?sig=abc"


def test_deployment_children_get_the_2017_09_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.json").write_text("{}")
    driver = tmp_path / "score.py"
    driver.write_text("def init():\n    pass\n\ndef run(input):\n    return input\n")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy\n")

    def program() -> dict[str, Any]:
        deployment = Deployment(
            "churn",
            name="churn",
            model=model,
            driver=pulumi.FileAsset(str(driver)),
            assets=[pulumi.RemoteAsset(REMOTE_ASSET)],
            pip_requirements=requirements,
            compute_resource=ComputeResourceArgs(id=COMPUTE),
            num_replicas=2,
            smoke_test=SmokeTestArgs(input={"x": 1}, expect={"x": 1}),
        )
        return {"scoring_uri": deployment.scoring_uri}

    # Nothing listens on this port: a preview of new resources makes no MMS call.
    config = {
        **account_config("http://127.0.0.1:9", f"dep-{uuid.uuid4().hex[:6]}", "t"),
        "mms:apiVersion": API_VERSION_2017_09,
    }
    engine = Engine(
        program, project="deployment", stack="test", config=config, state_path=tmp_path / "s"
    )
    plan = engine.preview()
    assert plan.ops() == dict.fromkeys(
        ("churn", "churn-model", "churn-manifest", "churn-image", "churn-service"), "create"
    )
    news = {
        call.name: {key: unwrap(value) for key, value in call.args["news"].items()}
        for call in plan.calls
        if call.method == "Check"
    }
    assert news["churn-model"]["name"] == "model" and news["churn-model"]["unpack"] is True
    assert news["churn-model"]["url"].endswith(".tar.gz")
    manifest = news["churn-manifest"]
    assert manifest["name"] == "churn" and manifest["driver_program"] == "driver"
    driver_asset, remote_asset = manifest["assets"]
    assert driver_asset["url"].startswith(driver.as_uri() + "#sha256=")
    assert remote_asset == {
        "id": "schema.json",
        "url": REMOTE_ASSET,
        "mime_type": "application/octet-stream",
    }
    runtime = manifest["target_runtime"]
    assert runtime["runtime_type"] == "Python"
    assert runtime["properties"]["pip_requirements"].startswith(requirements.as_uri())
    image = news["churn-image"]
    assert image["name"] == "churn" and image["compute_resource_id"] == COMPUTE
    assert "registry_info" not in image
    service = news["churn-service"]
    assert service["compute_resource"] == {"id": COMPUTE} and service["num_replicas"] == 2
    assert "manifest_id" not in service
    # Recorded as JSON text, so a null inside the input or the answer survives.
    assert service["smoke_test"] == {"input_json": '{"x": 1}', "expect_json": '{"x": 1}'}
    # The packed model lies under the project root (here the working directory).
    assert (tmp_path / ".mms-packed").is_dir()


def test_on_the_local_emulator_a_deployment_needs_only_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.json").write_text("{}")
    (tmp_path / "score.py").write_text("def init():\n    pass\n\ndef run(input):\n    return 1\n")

    def program() -> dict[str, Any]:
        one = Deployment("one", name="one", model="model.json", driver="score.py")
        return {"scoring_uri": one.scoring_uri}

    account = account_config("http://127.0.0.1:9", f"dep-{uuid.uuid4().hex[:6]}", "t")
    engine = Engine(
        program, project="deployment", stack="test", config=account, state_path=tmp_path / "s"
    )
    plan = engine.preview()
    assert set(plan.ops().values()) == {"create"}
    news = {call.name: call.args["news"] for call in plan.calls if call.method == "Check"}
    service, image = news["one-service"], news["one-image"]
    assert unwrap(service["acr_image_pull_secret"]) == "acr-pull"
    assert "kind: Config" in unwrap(service["kube_config"])
    assert unwrap(image["registry_info"])["location"] == "registry.local.invalid"
    assert unwrap(news["one-manifest"]["target_runtime"])["runtime_type"] == "ScikitPython"


def test_urls_known_only_at_deploy_time_are_accepted_against_a_remote_mms(
    tmp_path: Path,
) -> None:
    blob = "https://blob.example.invalid/models/churn.pkl?sig=abc"

    def program() -> dict[str, Any]:
        one = Deployment(
            "one",
            name="one",
            model=pulumi.Output.from_input(blob),  # e.g. a storage blob's SAS URL
            driver=pulumi.Output.from_input("https://blob.example.invalid/score.py?sig=d"),
            registry_info={"user": "u", "location": "acr.example.invalid", "password": "p"},
            kube_config=KUBE,
            acr_image_pull_secret="pull",
        )
        return {"scoring_uri": one.scoring_uri}

    config = account_config("https://mms.example.invalid", f"r-{uuid.uuid4().hex[:6]}", "t")
    engine = Engine(
        program, project="deployment", stack="test", config=config, state_path=tmp_path / "s"
    )
    plan = engine.preview()
    news = {call.name: call.args["news"] for call in plan.calls if call.method == "Check"}
    assert unwrap(news["one-model"]["url"]) == blob
    assert unwrap(news["one-model"]["name"]) == "churn.pkl"
