"""The reliability figures: the fault-injected fleet of ``tests/reliability``, run as its
own pytest process (the benchmarks import nothing from the tests), its counts as rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLEET_TEST = "tests/reliability/test_faults_converge.py::test_fleet_converges_under_faults"


def fleet_rows() -> list[tuple[str, str]]:
    """Run the fleet under faults; its figures, or one row saying why there are none."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", FLEET_TEST, "-q", "-s", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    figures = next(
        (json.loads(line) for line in run.stdout.splitlines() if line.startswith('{"chains"')),
        None,
    )
    if run.returncode != 0 or figures is None:
        tail = (run.stdout + run.stderr).strip().splitlines()[-1:] or ["no output"]
        return [("fleet under faults", f"failed: {tail[0][:200]}")]
    return [
        (
            f"fleet of {figures['chains']} chains: up under 30% 429/503, a roll under 429s, "
            "destroy and up under dropped connections",
            f"{figures['requests']} requests, {figures['faults_injected']} faults injected, "
            f"{figures['duplicates']} duplicates, 0 orphans (the test asserts both)",
        )
    ]
