"""The figures page: what a benchmark run measured, written into the docs with where and when.

``write_figures`` turns the rows a run printed into ``docs/figures.md`` (a page of its own,
wholly the run's), headed by the commit the figures were measured at (``+`` when the
checkout had uncommitted changes), the date, the machine and the command. The docs link
to it; nobody edits it by hand, so a figure there is always one a run produced.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES_PAGE = ROOT / "docs" / "figures.md"


def commit_of(root: Path = ROOT) -> str:
    """The checkout's short commit, with ``+`` when it has uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+" if git("status", "--porcelain", "--untracked-files=no") else "")


def figures_page(
    rows: Sequence[tuple[str, str]], *, command: str, commit: str, when: datetime.date
) -> str:
    """The page's markdown (pure)."""
    lines = [
        "# Measured figures",
        "",
        "Written by the benchmark run, not by hand: every figure below comes from one run of",
        f"`{command}`, at commit `{commit}` on {when.isoformat()}, with Python "
        f"{sys.version.split()[0]} on {os.cpu_count()} cores. What each figure means and how",
        "it is measured: [Performance](performance.md).",
        "",
        "| figure | value |",
        "|---|---|",
    ]
    for label, value in rows:
        indent = len(label) - len(label.lstrip())
        shown = ("↳ " if indent else "") + label.strip()
        lines.append(f"| {shown.replace('|', '/')} | {value.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def write_figures(
    rows: Sequence[tuple[str, str]], *, command: str, page: Path = FIGURES_PAGE
) -> Path:
    """Write the run's figures page; its path."""
    page.write_text(
        figures_page(rows, command=command, commit=commit_of(), when=datetime.date.today())
    )
    return page
