"""Suite-wide guard: every test cleans up the processes it starts."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from tests.support import processes

_MARKERS = ("mms_pulumi.emulator", "pulumi.dynamic")


def _ours(basetemp: str) -> list[str]:
    """Emulator, scoring and plugin processes this session started (its descendants, or ones
    whose arguments point into its temporary directory, such as orphaned scoring processes).
    Read from ``/proc`` (whole command lines, never ``ps`` text cut to a screen width)."""
    table = processes()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    descendants, frontier = set(), [os.getpid()]
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in descendants:
                descendants.add(child)
                frontier.append(child)
    inside = basetemp.rstrip("/") + "/"
    return [
        f"{pid} {' '.join(argv)}"
        for pid, (_, argv) in table.items()
        if any(m in arg for arg in argv for m in _MARKERS)
        and (pid in descendants or any(arg.startswith(inside) or inside in arg for arg in argv))
    ]


@pytest.fixture(scope="session", autouse=True)
def no_stray_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the suite, no emulator, scoring or plugin process of ours is left running."""
    basetemp = str(tmp_path_factory.getbasetemp())
    yield
    deadline = time.monotonic() + 15
    while (left := _ours(basetemp)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == [], f"processes left running after the suite: {left}"
