"""The quickstart through the real Pulumi CLI: the lifecycle Pulumi's own program tests run.

Runs only where `pulumi` is on PATH (the GitHub workflow installs it); skips elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mms_pulumi.emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which("pulumi") is None,
        reason="the Pulumi CLI is not on PATH (CI installs it; see .github/workflows/ci.yml)",
    ),
]


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    backend = tmp_path / "state"
    backend.mkdir()
    with EmulatorProcess(tmp_path / "emulator", operation_seconds=0.3) as emulator:
        yield {
            **os.environ,
            "PULUMI_BACKEND_URL": backend.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": "e2e-passphrase",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "MMS_ENDPOINT": emulator.base_url,
            "MMS_TOKEN": "e2e-token",
        }


def pulumi(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        ["pulumi", *args, "--non-interactive"],
        cwd=QUICKSTART,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (
        f"pulumi {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout + result.stderr


def test_quickstart_lifecycle_through_the_cli(cli_env: dict[str, str]) -> None:
    stack = f"e2e-{uuid.uuid4().hex[:8]}"
    pulumi(cli_env, "stack", "init", stack)
    pulumi(cli_env, "config", "set", "mms:endpoint", cli_env["MMS_ENDPOINT"])
    pulumi(cli_env, "config", "set", "--secret", "registryPassword", "e2e-registry-secret")
    try:
        preview = pulumi(cli_env, "preview", "--diff")
        assert "+ 4 to create" in preview or "4 to create" in preview
        pulumi(cli_env, "up", "--yes")
        pulumi(cli_env, "preview", "--expect-no-changes")
        pulumi(cli_env, "up", "--yes", "--expect-no-changes")
        pulumi(cli_env, "refresh", "--yes", "--expect-no-changes")
        exported = pulumi(cli_env, "stack", "export")
        assert "e2e-registry-secret" not in exported
        assert "local-cluster-token" not in exported
    finally:
        pulumi(cli_env, "destroy", "--yes")
        pulumi(cli_env, "stack", "rm", "--yes", stack)
