"""The official 2017-09 CLI, azure-cli-ml 0.1.0a27.post3 (``accounts`` paths), runs its whole
deploy workflow against the emulator with its own request building and answer parsing.

Downloaded at test time (skipped, with the reason, when the index cannot be reached);
``cli_a27_workflow.py`` says what is set around the client and why.
"""

from __future__ import annotations

from typing import Any

import pytest

from mms_pulumi.client import MmsClient2017_09
from mms_pulumi.emulator.process import EmulatorProcess
from tests.compat.conftest import ACCOUNT, assert_every_step_completed, official_wheel, run_workflow

PACKAGE = "azure-cli-ml==0.1.0a27.post3"
TOKEN = "compat-a27-token"
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
    "service show (id)",
    "service show (name)",
    "service list",
    "service keys",
    "service regenerate keys",
    "service run",
    "image create (for update)",
    "service update",
    "service run (after update)",
    "service delete",
    "service show (deleted)",
]

pytestmark = pytest.mark.emulator(operation_seconds=0.1, token=TOKEN, secrets=(TOKEN,))


@pytest.fixture(scope="module")
def workflow(emulator: EmulatorProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    wheel = official_wheel(tmp_path_factory, PACKAGE)
    work = tmp_path_factory.mktemp("cli-a27")
    return run_workflow("cli_a27_workflow.py", wheel, emulator.base_url, work, TOKEN)


def test_every_step_of_the_2017_09_workflow_completes(workflow: dict[str, Any]) -> None:
    assert_every_step_completed(workflow, STEPS)


def test_what_the_2017_09_cli_made_is_what_the_emulator_holds(
    workflow: dict[str, Any], emulator: EmulatorProcess
) -> None:
    with MmsClient2017_09(
        emulator.base_url,
        ACCOUNT["subscription"],
        ACCOUNT["resource_group"],
        ACCOUNT["account"],
        TOKEN,
    ) as mms:
        (model,) = mms.list_models(name="model.pkl")
        assert model.tags == ["compat"] and model.unpack  # a27 always uploads a tar.gz
        (manifest,) = mms.list_manifests()
        assert manifest.name == "compat-manifest" and manifest.driver_program == "driver"
        images = mms.list_images()
        assert [(i.name, i.version) for i in images] == [("compat-image", 1), ("compat-image", 2)]
        assert mms.list_services() == []  # deleted at the end
    runs = [r["detail"] for r in workflow["results"] if r["step"].startswith("service run")]
    assert "'echo': {'input': [1, 2]}" in runs[0] and "'echo': {'input': [3]}" in runs[1]
