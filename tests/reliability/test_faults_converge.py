"""A 20-chain stack under injected throttling and unavailability converges, exactly once.

Figures for the README come from ``test_fleet_converges_under_faults`` (printed with -s).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
import requests

from mms_pulumi.client import MmsClient
from mms_pulumi.emulator.process import EmulatorProcess
from tests.harness import Engine, EngineError, assert_no_plaintext
from tests.support import account_config

FLEET = Path(__file__).resolve().parent / "fleet"
TOKEN = "fleet-token-31"
CONTROL = {"Authorization": f"Bearer {TOKEN}"}  # the control routes want it too
PASSWORD = "fleet-registry-password-32"
# MMS_SOAK_CHAINS=200 turns the fleet test into a longer soak.
CHAINS = int(os.environ.get("MMS_SOAK_CHAINS", "20"))


pytestmark = pytest.mark.emulator(
    operation_seconds=0.2,
    token=TOKEN,
    scoring=False,
    log_level="warning",
    secrets=(TOKEN, PASSWORD),
)


def fleet(emulator: EmulatorProcess, tmp_path: Path, account: str) -> Engine:
    return Engine(
        FLEET,
        project="fleet",
        stack="faults",
        config={
            **account_config(emulator.base_url, account, TOKEN),
            "mms:operationTimeout": "120",
            "fleet:chains": str(CHAINS),
            "fleet:registryPassword": PASSWORD,
        },
        secret_keys={"mms:token", "fleet:registryPassword"},
        state_path=tmp_path / "state.json",
    )


def faults(emulator: EmulatorProcess, **settings: object) -> None:
    requests.put(
        f"{emulator.base_url}/_emulator/faults", json=settings, headers=CONTROL, timeout=10
    ).raise_for_status()


def live(emulator: EmulatorProcess, account: str) -> dict[str, int]:
    with MmsClient(emulator.base_url, "sub", "rg", account, TOKEN) as mms:
        return {
            "models": len(mms.list_models()),
            "manifests": len(mms.list_manifests()),
            "images": len(mms.list_images()),
            "services": len(mms.list_services()),
        }


@pytest.mark.timeout(600)
def test_fleet_converges_under_faults(emulator: EmulatorProcess, tmp_path: Path) -> None:
    account = f"fleet-{uuid.uuid4().hex[:8]}"
    engine = fleet(emulator, tmp_path, account)
    before = requests.get(
        f"{emulator.base_url}/_emulator/stats", headers=CONTROL, timeout=10
    ).json()
    faults(emulator, throttle_rate=0.15, unavailable_rate=0.15, retry_after=0.05, seed=11)
    engine.up()
    # Every service rolls to a new pull secret under 429s without Retry-After (backoff only).
    engine.config["fleet:pullSecret"] = "acr-pull-2"
    faults(emulator, throttle_rate=0.3, seed=12)
    result = engine.up()
    assert sorted(set(result.ops().values())) == ["same", "update"]
    faults(emulator)
    engine.up(expect_no_changes=True)
    # Tear down and rebuild with connections dropped before and after requests are acted
    # on, and slow answers: one request in five has an unknown outcome.
    faults(emulator, reset_before_rate=0.1, reset_after_rate=0.1, delay_seconds=0.01, seed=13)
    engine.destroy()
    assert live(emulator, account)["services"] == 0
    engine.up()
    faults(emulator)
    engine.up(expect_no_changes=True)
    after = requests.get(f"{emulator.base_url}/_emulator/stats", headers=CONTROL, timeout=10).json()
    # Models, manifests and images cannot be deleted, so the rebuild added one more of each
    # per chain (a new model version, so a new manifest and image); nothing was doubled.
    assert live(emulator, account) == {
        "models": 2 * CHAINS,
        "manifests": 2 * CHAINS,
        "images": 2 * CHAINS,
        "services": CHAINS,
    }
    with MmsClient(emulator.base_url, "sub", "rg", account, TOKEN) as mms:
        versions: dict[str, list[int]] = {}
        for model in mms.list_models():
            versions.setdefault(model.name, []).append(model.version)
        services = mms.list_services()
    assert {name: sorted(v) for name, v in versions.items() if sorted(v) != [1, 2]} == {}
    assert len(versions) == CHAINS
    assert {s.id for s in services} == {
        r.id for r in engine.load().values() if r.type.endswith(":Service")
    }
    assert_no_plaintext((TOKEN, PASSWORD), engine.all_text())
    requests_made = sum(after["requests"].values()) - sum(before["requests"].values())
    injected = sum(after["faults"].values()) - sum(before["faults"].values())
    print(
        json.dumps(
            {
                "chains": CHAINS,
                "requests": requests_made,
                "faults_injected": injected,
                "duplicates": 0,
            }
        )
    )
    assert injected > 50


@pytest.mark.timeout(300)
def test_failed_operations_fail_up_then_converge(emulator: EmulatorProcess, tmp_path: Path) -> None:
    account = f"fleet-{uuid.uuid4().hex[:8]}"
    engine = fleet(emulator, tmp_path, account)
    engine.config["fleet:chains"] = "2"
    faults(emulator, fail_next_operations=1)
    with pytest.raises(EngineError) as failed:
        engine.up()
    assert_no_plaintext((TOKEN, PASSWORD), str(failed.value))
    last_line = str(failed.value).strip().splitlines()[-1]
    assert "(operation " in last_line and "fault injected" in last_line
    faults(emulator)
    engine.up()
    engine.up(expect_no_changes=True)
    counts = live(emulator, account)
    assert counts["services"] == 2 and counts["manifests"] == 2 and counts["models"] == 2
    # The failed build's image stays (MMS cannot delete images); nothing else is doubled.
    assert counts["images"] == 3
