"""The README's main command, as a user runs it: ``scripts/quickstart`` brings the quickstart
stack up through the real CLI against the on-demand emulator, prints the outputs, scores the
endpoint once; a second run is a no-change ``up``.

Kept off the user's own state and emulator: its own backend, stack, emulator port and data
directory (``mms:emulatorPort``, ``mms:emulatorDataDir``), all removed afterwards.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from scripts.pulumi_cli import ROOT, RUN_MARKER, marked_processes_left
from tests.support import free_port, stop_emulators_on

pytestmark = pytest.mark.e2e


@pytest.fixture
def user_env(cli_tools: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    backend = tmp_path / "state"
    backend.mkdir()
    run = uuid.uuid4().hex
    stack = f"e2e-main-{run[:8]}"
    env = {
        **os.environ,
        "PULUMI_BACKEND_URL": backend.as_uri(),
        "PULUMI_HOME": str(tmp_path / "pulumi-home"),
        "PULUMI_CONFIG_PASSPHRASE": "e2e-passphrase",
        "MMS_QUICKSTART_STACK": stack,
        RUN_MARKER: run,
    }
    port = free_port()
    try:
        for key, value in (
            ("mms:emulatorPort", str(port)),
            ("mms:emulatorDataDir", str(tmp_path / "emulator")),
        ):
            script(env, "pulumi", "config", "set", key, value, "--non-interactive")
        yield env
    finally:
        script(env, "pulumi", "destroy", "--yes", "--non-interactive", check=False)
        script(env, "pulumi", "stack", "rm", "--yes", "--force", "--non-interactive", check=False)
        (ROOT / f"Pulumi.{stack}.yaml").unlink(missing_ok=True)
        stop_emulators_on(port)
        left = marked_processes_left(run)
        assert left == [], f"processes still running after the main command: {left}"


def script(
    env: dict[str, str], name: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(ROOT / "scripts" / name), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if check:
        assert done.returncode == 0, f"scripts/{name} {args}:\n{done.stdout}\n{done.stderr}"
    return done


def test_quickstart_scores_its_endpoint_then_changes_nothing(user_env: dict[str, str]) -> None:
    first = script(user_env, "quickstart")
    assert "+ 5 created" in first.stdout
    assert "primary_key    [secret]" in first.stdout
    assert "/score with examples/quickstart/sample-input.json: 200 in" in first.stdout
    assert '{"churn_probability": [0.9707, 0.0186], "churn": [true, false]}' in first.stdout
    assert "route: " in first.stderr  # which route the CLI took, said once
    # The console it points at shows what the up built.
    console = re.search(r"console: (http://\S+/_emulator/console/)", first.stdout)
    assert console, first.stdout
    accounts = requests.get(console.group(1), timeout=30)
    assert accounts.status_code == 200 and 'id="accounts"' in accounts.text

    second = script(user_env, "quickstart")
    assert "5 unchanged" in second.stdout
    assert ": 200 in" in second.stdout
