"""What the official-client suites share: fetching a wheel and running a workflow driver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ACCOUNT = {"subscription": "compat-sub", "resource_group": "compat-rg", "account": "compat"}


def official_wheel(tmp_path_factory: pytest.TempPathFactory, package: str) -> Path:
    """The official wheel of ``package`` (``name==version``), unpacked and never modified;
    the test skips, saying why, when the package index cannot be reached."""
    download = tmp_path_factory.mktemp("wheel")
    fetched = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(download), package],
        capture_output=True,
        text=True,
        timeout=300,
    )
    wheels = list(download.glob("*.whl"))
    if fetched.returncode != 0 or not wheels:
        pytest.skip(f"{package} could not be downloaded: {fetched.stderr.strip()[-300:]}")
    unpacked = download / "unpacked"
    with zipfile.ZipFile(wheels[0]) as archive:
        archive.extractall(unpacked)
    return unpacked


def run_workflow(
    driver: str, wheel_dir: Path, base_url: str, work: Path, token: str
) -> dict[str, Any]:
    """Run one workflow driver of this folder in a process of its own; its results."""
    results = work / "results.json"
    env = {
        **os.environ,
        "MMS_COMPAT_SUBSCRIPTION": ACCOUNT["subscription"],
        "MMS_COMPAT_RESOURCE_GROUP": ACCOUNT["resource_group"],
        "MMS_COMPAT_ACCOUNT": ACCOUNT["account"],
        "MMS_COMPAT_TOKEN": token,
    }
    ran = subprocess.run(
        [sys.executable, str(HERE / driver), str(wheel_dir), base_url, str(work), str(results)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert results.exists(), f"{driver} did not run:\n{ran.stdout[-2000:]}\n{ran.stderr[-3000:]}"
    outcome: dict[str, Any] = json.loads(results.read_text())
    return outcome


def assert_every_step_completed(workflow: dict[str, Any], steps: list[str]) -> None:
    """No step of a workflow failed (the first failure's output is the message), and the
    steps that ran are exactly ``steps``, in order."""
    failed = [r for r in workflow["results"] if not r["ok"]]
    assert not failed, f"{failed[0]['step']} failed:\n{failed[0]['detail']}"
    assert [r["step"] for r in workflow["results"]] == steps
