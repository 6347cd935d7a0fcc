"""The official 2017 CLI, azure-cli-ml 0.1.0a20 (hostingAccounts era), runs its whole deploy
workflow against the emulator with its own request building and answer parsing.

The wheel is downloaded at test time (skipped, with the reason, when the package index
cannot be reached); ``standins.py`` supplies the long-gone modules it imports and
``cli_a20_workflow.py`` says what is set around the client and why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mms_pulumi.client import MmsClient
from mms_pulumi.emulator.process import EmulatorProcess
from tests.compat.conftest import ACCOUNT, assert_every_step_completed, official_wheel, run_workflow

HERE = Path(__file__).resolve().parent
PACKAGE = "azure-cli-ml==0.1.0a20"
TOKEN = "compat-aad-token"
STEPS = [
    "model register",
    "model show (id)",
    "model show (name)",
    "model list",
    "manifest create",
    "manifest show",
    "manifest list",
    "image create",
    "image show",
    "image list",
    "service create",
    "service show",
    "service list",
    "service keys",
    "service regenerate keys",
    "service run",
    "image create (for update)",
    "service update",
    "service run (after update)",
    "service delete",
]

pytestmark = pytest.mark.emulator(operation_seconds=0.2, token=TOKEN, secrets=(TOKEN,))


@pytest.fixture(scope="module")
def workflow(emulator: EmulatorProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the CLI's workflow once; its step results and the ids it made."""
    wheel = official_wheel(tmp_path_factory, PACKAGE)
    work = tmp_path_factory.mktemp("cli-a20")
    return run_workflow("cli_a20_workflow.py", wheel, emulator.base_url, work, TOKEN)


def test_every_step_of_the_deploy_workflow_completes(workflow: dict[str, Any]) -> None:
    assert_every_step_completed(workflow, STEPS)


def test_what_the_cli_made_is_what_the_emulator_holds(
    workflow: dict[str, Any], emulator: EmulatorProcess
) -> None:
    with MmsClient(
        emulator.base_url,
        ACCOUNT["subscription"],
        ACCOUNT["resource_group"],
        ACCOUNT["account"],
        TOKEN,
    ) as mms:
        (model,) = mms.list_models(name="model.pkl")  # the CLI names a model after its file
        assert model.tags == ["compat"]
        (manifest,) = mms.list_manifests()
        assert manifest.model_ids == [model.id]
        assert {asset.id for asset in manifest.assets} == {"driver", "score.py"}
        images = mms.list_images()
        assert [image.creation_state for image in images] == ["Succeeded", "Succeeded"]
        assert images[0].description == ""  # sent as null
        assert mms.list_services(name="compat-svc") == []  # deleted at the end


def test_service_run_scored_through_the_driver_with_the_key_it_read(
    workflow: dict[str, Any],
) -> None:
    """`service run` sends ``Bearer <primaryKey>`` as read from ``keys`` (a wrong key is a
    401: tests/emulator/test_keys_and_client_shapes.py); it prints the driver's answer,
    before and after the update and the key regeneration."""
    runs = [r["detail"] for r in workflow["results"] if r["step"].startswith("service run")]
    assert len(runs) == 2
    assert "{'echo': {'input': [1, 2]}}" in runs[0]
    assert "{'echo': {'input': [3]}}" in runs[1]
