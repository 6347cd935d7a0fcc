"""The replicas example (2017-09-01-preview): deployed through the real plugin, it serves
from two scoring processes and scores only with the primary key from its secret output."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from pulumi.runtime import rpc

from mms_pulumi.emulator.process import EmulatorProcess
from tests.harness import Engine, assert_no_plaintext
from tests.harness.plugin import unwrap
from tests.support import account_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "replicas"
TOKEN = "replicas-token"
CUSTOMERS = {"customers": [{"monthly_charges": 95.0}, {"monthly_charges": 20.0}]}

pytestmark = pytest.mark.emulator(operation_seconds=0.1, token=TOKEN)


@pytest.mark.timeout(240)
def test_the_replicas_example_scores_with_its_key_on_two_replicas(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    engine = Engine(
        EXAMPLE,
        project="mms-replicas",
        stack="test",
        config=account_config(emulator.base_url, "replicas", TOKEN),
        secret_keys={"mms:token"},
        state_path=tmp_path / "state.json",
    )
    assert engine.preview().counts() == {"create": 5}
    outputs = engine.up().outputs
    assert unwrap(outputs["num_replicas"]) == 2
    assert rpc.is_rpc_secret(outputs["primary_key"])
    key = unwrap(outputs["primary_key"])
    assert_no_plaintext([key], engine.state.text())
    uri = unwrap(outputs["scoring_uri"])
    assert requests.post(uri, json=CUSTOMERS, timeout=10).status_code == 401
    replicas = set()
    for _ in range(6):
        answer = requests.post(
            uri, json=CUSTOMERS, headers={"Authorization": f"Bearer {key}"}, timeout=10
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["over_threshold"] == [True, False]
        replicas.add(answer.json()["replica"])
    assert len(replicas) == 2
    engine.up(expect_no_changes=True)
    assert engine.destroy().counts() == {"delete": 5}
