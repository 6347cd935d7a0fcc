"""What the end-to-end tests read off the real CLI; running it lives in scripts/pulumi_cli.py
(shared with the benchmarks)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scripts.pulumi_cli import (
    EXAMPLES,
    ROOT,
    RUN_MARKER,
    Cli,
    Result,
    cli_environment,
    example_python,
    marked_processes,
)

__all__ = [
    "EXAMPLES",
    "ROOT",
    "RUN_MARKER",
    "Cli",
    "Result",
    "change_summary",
    "cli_environment",
    "example_python",
    "marked_processes",
    "ops_by_name",
]


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
