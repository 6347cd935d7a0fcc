"""``.get`` through a real program, and the quickstart's on-demand local emulator."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from mms_pulumi.client import MmsClient
from mms_pulumi.emulator.process import EmulatorProcess
from tests.harness import Engine, EngineError, assert_no_plaintext
from tests.harness.plugin import unwrap
from tests.support import account_config, free_port, stop_emulators_on

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart"
PASSWORD = "lookup-registry-password"


def test_get_reads_existing_objects_and_never_deletes_them(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path / "emulator", operation_seconds=0.1) as emulator:
        with MmsClient(emulator.base_url, "sub", "rg", "acct", "t") as mms:
            model = mms.register_model(
                {
                    "name": "known",
                    "url": (QUICKSTART / "churn-model.json").as_uri(),
                    "mime_type": "a/b",
                }
            )
            manifest = mms.create_manifest(
                {
                    "model_ids": [model.id],
                    "model_type": "Registered",
                    "driver_program": "score",
                    "assets": [
                        {"id": "score", "url": (QUICKSTART / "score.py").as_uri(), "mime_type": "x"}
                    ],
                    "target_runtime": {"runtime_type": "ScikitPython"},
                }
            )
            image = mms.begin_create_image(
                {
                    "manifest_id": manifest.id,
                    "image_type": "Docker",
                    "registry_info": {"user": "u", "location": "acr.local", "password": PASSWORD},
                }
            ).result(timeout=30)
        config = {
            **account_config(emulator.base_url, "acct", "t"),
            "lookup:modelId": model.id,
            "lookup:imageId": image.id,
        }
        engine = Engine(
            Path(__file__).parent / "lookup",
            project="lookup",
            stack="test",
            config=config,
            secret_keys={"mms:token"},
            state_path=tmp_path / "state.json",
        )
        preview = engine.preview()
        assert set(preview.ops().values()) == {"read"}
        result = engine.up()
        assert unwrap(result.outputs["model_name"]) == "known"
        assert unwrap(result.outputs["model_version"]) == 1
        assert unwrap(result.outputs["image_state"]) == "Succeeded"
        assert unwrap(result.outputs["registry_info"]) == {"user": "u", "location": "acr.local"}
        assert all(r.external for r in engine.load().values())
        engine.destroy()
        with MmsClient(emulator.base_url, "sub", "rg", "acct", "t") as mms:
            assert mms.get_model(model.id).id == model.id
        assert_no_plaintext((PASSWORD,), engine.all_text())

        missing = Engine(
            Path(__file__).parent / "lookup",
            project="lookup",
            stack="missing",
            config={**config, "lookup:modelId": "00000000-0000-4000-8000-000000000000"},
            secret_keys={"mms:token"},
            state_path=tmp_path / "missing.json",
        )
        with pytest.raises(
            EngineError, match="no model with id 00000000-0000-4000-8000-000000000000"
        ):
            missing.preview()


@pytest.mark.timeout(240)
def test_quickstart_starts_the_local_emulator_on_demand_and_reuses_it(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "project-emulator"
    config = {
        "mms:emulatorPort": str(port),
        "mms:emulatorDataDir": str(data_dir),
        "mms:emulatorOperationSeconds": "0.1",
    }
    engine = Engine(
        QUICKSTART,
        project="mms-quickstart",
        stack="local",
        config=config,
        state_path=tmp_path / "state.json",
    )
    try:
        result = engine.up()
        assert unwrap(result.outputs["service_state"]) == "Succeeded"
        health = requests.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=5).json()
        assert Path(health["dataDir"]) == data_dir.resolve()
        assert (data_dir / "mms.sqlite3").exists()
        answer = requests.post(
            unwrap(result.outputs["scoring_uri"]),
            json={"customers": [{"tenure_months": 60, "monthly_charges": 25, "support_calls": 0}]},
            timeout=10,
        )
        assert answer.json()["churn"] == [False]
        engine.up(expect_no_changes=True)  # the running emulator is reused: same account
        engine.destroy()
    finally:
        stop_emulators_on(port)
