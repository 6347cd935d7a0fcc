"""Deployments on the 2017-09 API through the real plugin against the emulator: a failed
smoke test on an update rolls back the settings the update added and keeps the keys it
would have rotated working (they rotate only after a passing test); a model directory is
packed, unpacked under its name and served."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from mms_pulumi import Deployment, SmokeTestArgs
from mms_pulumi.client import MmsClient2017_09
from mms_pulumi.emulator.process import EmulatorProcess
from mms_pulumi.schema import API_VERSION_2017_09
from tests.harness import Engine, EngineError
from tests.harness.plugin import unwrap
from tests.support import account_config

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
TOKEN = "rollback-09-token"
CUSTOMERS = {"customers": [{"tenure_months": 4, "monthly_charges": 100, "support_calls": 5}]}
BROKEN_RUN = '\n\ndef run(input):\n    return {"churn": [False]}\n'

pytestmark = pytest.mark.emulator(operation_seconds=0.2, token=TOKEN)


@pytest.mark.timeout(240)
def test_a_failed_update_rolls_back_settings_and_keeps_the_keys(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    driver = tmp_path / "score.py"
    shutil.copy(QUICKSTART / "score.py", driver)
    settings: dict[str, Any] = {"num_replicas": None, "primary_key_version": "v1"}

    def program() -> dict[str, Any]:
        churn = Deployment(
            "churn",
            name="churn09",
            model=QUICKSTART / "churn-model.json",
            driver=driver,
            smoke_test=SmokeTestArgs(input=CUSTOMERS, expect={"churn": [True]}),
            **settings,
        )
        return {"scoring_uri": churn.scoring_uri, "primary_key": churn.primary_key}

    account = f"rb-{uuid.uuid4().hex[:8]}"
    config = {
        **account_config(emulator.base_url, account, TOKEN),
        "mms:apiVersion": API_VERSION_2017_09,
    }
    engine = Engine(
        program, project="rollback", stack="test", config=config, state_path=tmp_path / "s"
    )
    # score.py answers churn and churn_probability; the test expects the whole answer.
    driver.write_text(
        driver.read_text()
        + "\n\n_run = run\n\ndef run(input):\n    return {'churn': _run(input)['churn']}\n"
    )
    first = engine.up()
    uri, key = unwrap(first.outputs["scoring_uri"]), unwrap(first.outputs["primary_key"])

    driver.write_text(driver.read_text() + BROKEN_RUN)
    settings.update(num_replicas=2, primary_key_version="v2")
    with pytest.raises(EngineError, match="rolled back"):
        engine.up()

    with MmsClient2017_09(emulator.base_url, "sub", "rg", account, TOKEN) as mms:
        [service] = mms.list_services()
    state = next(r for r in engine.load().values() if r.urn.endswith("::churn-service"))
    assert service.image_id == state.outputs["image_id"]
    assert service.num_replicas in (None, 1)  # the replicas the update added are gone
    answer = requests.post(
        uri, json=CUSTOMERS, headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert answer.status_code == 200, answer.text  # the key state records still works
    assert answer.json() == {"churn": [True]}


@pytest.mark.timeout(180)
def test_a_model_directory_is_packed_unpacked_and_served(
    emulator: EmulatorProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the project root: .mms-packed goes here
    model_dir = tmp_path / "churnmodel"
    model_dir.mkdir()
    shutil.copy(QUICKSTART / "churn-model.json", model_dir / "churn-model.json")
    driver = tmp_path / "score.py"
    # The CLI's layout: a packed directory unpacks under its own name.
    driver.write_text(
        (QUICKSTART / "score.py")
        .read_text()
        .replace('MODEL_FILE = "churn-model.json"', 'MODEL_FILE = "churnmodel/churn-model.json"')
    )

    def program() -> dict[str, Any]:
        churn = Deployment(
            "dir",
            name="churndir",
            model=model_dir,
            driver=driver,
            smoke_test=SmokeTestArgs(input=CUSTOMERS, expect_status=200),
        )
        return {"scoring_uri": churn.scoring_uri, "primary_key": churn.primary_key}

    account = f"dir-{uuid.uuid4().hex[:8]}"
    config = {
        **account_config(emulator.base_url, account, TOKEN),
        "mms:apiVersion": API_VERSION_2017_09,
    }
    engine = Engine(
        program, project="packed", stack="test", config=config, state_path=tmp_path / "s"
    )
    result = engine.up()
    answer = requests.post(
        unwrap(result.outputs["scoring_uri"]),
        json=CUSTOMERS,
        headers={"Authorization": f"Bearer {unwrap(result.outputs['primary_key'])}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["churn"] == [True]
    assert list((tmp_path / ".mms-packed").glob("churnmodel-*.tar.gz"))
    engine.up(expect_no_changes=True)  # packing again gives the same archive


@pytest.mark.timeout(180)
def test_a_refreshed_deployment_previews_without_changes(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    # Every 2017-09 Deployment sends target_runtime.properties = {}: refresh must read it back.
    def program() -> dict[str, Any]:
        churn = Deployment(
            "churn",
            name="fresh09",
            model=QUICKSTART / "churn-model.json",
            driver=QUICKSTART / "score.py",
        )
        return {"scoring_uri": churn.scoring_uri}

    config = {
        **account_config(emulator.base_url, f"rf-{uuid.uuid4().hex[:8]}", TOKEN),
        "mms:apiVersion": API_VERSION_2017_09,
    }
    engine = Engine(
        program, project="refresh09", stack="test", config=config, state_path=tmp_path / "s"
    )
    engine.up()
    engine.refresh()
    engine.preview(expect_no_changes=True)
    engine.destroy()
