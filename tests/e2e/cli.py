"""What the end-to-end tests read off the real CLI and the emulator; running the CLI lives in
scripts/pulumi_cli.py (shared with the benchmarks)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psutil

from mms_pulumi.emulator.process import EmulatorProcess


def change_summary(digest: Mapping[str, Any]) -> dict[str, int]:
    """``changeSummary`` of a ``pulumi preview --json`` digest (pkg/display/json.go,
    PreviewDigest)."""
    return dict(digest.get("changeSummary") or {})


def ops_by_name(digest: Mapping[str, Any]) -> dict[str, str]:
    """Resource name → planned op, for every step but the default providers'. A replaced
    resource shows as ``replace`` (its create-replacement and delete-replaced steps are
    hidden unless --show-replacement-steps)."""
    found: dict[str, str] = {}
    for step in digest.get("steps", []):
        urn = step["urn"]
        if "::pulumi:providers:" in urn:
            continue
        found[urn.rsplit("::", 1)[-1]] = step["op"]
    return found


def emulator_processes(emulator: EmulatorProcess) -> list[psutil.Process]:
    """Every process the emulator runs: its scoring processes and whatever they started."""
    return list(psutil.Process(emulator.pid).children(recursive=True))


def scoring_processes(emulator: EmulatorProcess) -> list[psutil.Process]:
    """The emulator's scoring processes, one per replica: each is a keeper (its direct
    child) with the worker that runs the driver under it (``scoring.keeper``)."""
    return list(psutil.Process(emulator.pid).children())
