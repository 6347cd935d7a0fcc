"""The quickstart through the real Pulumi CLI: the lifecycle Pulumi's own program tests run.

Runs only where `pulumi` is on PATH (the GitHub workflow installs it); skips elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mms_pulumi.emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart"
ONE_CALL = ROOT / "examples" / "one-call"

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


def pulumi(env: dict[str, str], *args: str, cwd: Path = QUICKSTART) -> str:
    result = subprocess.run(
        ["pulumi", *args, "--non-interactive"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (
        f"pulumi {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


def planned(env: dict[str, str], *args: str) -> dict[str, Any]:
    """``pulumi preview --json``: the PreviewDigest (``pkg/display/json.go``)."""
    digest: dict[str, Any] = json.loads(pulumi(env, "preview", "--json", *args))
    return digest


def ops_by_type(digest: dict[str, Any]) -> dict[str, str]:
    """Resource type → planned op, default providers left out (internal steps)."""
    found: dict[str, str] = {}
    for step in digest.get("steps", []):
        kind = step["urn"].split("::")[2]
        if not kind.startswith("pulumi:providers:"):
            found[kind] = step["op"]
    return found


def test_quickstart_lifecycle_through_the_cli(cli_env: dict[str, str]) -> None:
    stack = f"e2e-{uuid.uuid4().hex[:8]}"
    pulumi(cli_env, "stack", "init", stack)
    pulumi(cli_env, "config", "set", "mms:endpoint", cli_env["MMS_ENDPOINT"])
    pulumi(cli_env, "config", "set", "--secret", "registryPassword", "e2e-registry-secret")
    try:
        first = planned(cli_env)
        # The Stack resource is counted: 1 + the four MMS resources.
        assert first["changeSummary"] == {"create": 5}
        ops = ops_by_type(first)
        assert ops.pop("pulumi:pulumi:Stack") == "create"
        assert sorted(kind.rsplit(":", 1)[-1] for kind in ops) == [
            "Image",
            "Manifest",
            "Model",
            "Service",
        ]
        assert set(ops.values()) == {"create"}
        pulumi(cli_env, "up", "--yes")
        assert planned(cli_env)["changeSummary"] == {"same": 5}
        pulumi(cli_env, "up", "--yes", "--expect-no-changes")
        pulumi(cli_env, "refresh", "--yes", "--expect-no-changes")
        exported = json.loads(pulumi(cli_env, "stack", "export"))
        resources = exported["deployment"]["resources"]
        kinds = [r["type"] for r in resources]
        assert kinds.count("pulumi:pulumi:Stack") == 1
        assert kinds.count("pulumi:providers:pulumi-python") == 1
        text = json.dumps(exported)
        assert "e2e-registry-secret" not in text
        assert "local-cluster-token" not in text
    finally:
        pulumi(cli_env, "destroy", "--yes")
        pulumi(cli_env, "stack", "rm", "--yes", stack)


def test_one_call_through_the_cli(cli_env: dict[str, str]) -> None:
    """examples/one-call from nothing to a smoke-tested endpoint in one `up`: the component
    and its four children, then no changes, then an edit-free destroy."""
    stack = f"e2e-{uuid.uuid4().hex[:8]}"
    pulumi(cli_env, "stack", "init", stack, cwd=ONE_CALL)
    pulumi(cli_env, "config", "set", "mms:endpoint", cli_env["MMS_ENDPOINT"], cwd=ONE_CALL)
    try:
        ops = ops_by_type(json.loads(pulumi(cli_env, "preview", "--json", cwd=ONE_CALL)))
        assert ops.pop("pulumi:pulumi:Stack") == "create"
        assert ops.pop("mms:index:Deployment") == "create"
        assert set(ops.values()) == {"create"} and len(ops) == 4
        pulumi(cli_env, "up", "--yes", cwd=ONE_CALL)
        outputs = json.loads(pulumi(cli_env, "stack", "output", "--json", cwd=ONE_CALL))
        assert outputs["scoring_uri"] and outputs["primary_key"] == "[secret]"
        pulumi(cli_env, "up", "--yes", "--expect-no-changes", cwd=ONE_CALL)
    finally:
        pulumi(cli_env, "destroy", "--yes", cwd=ONE_CALL)
        pulumi(cli_env, "stack", "rm", "--yes", stack, cwd=ONE_CALL)
