"""What every test module shares: the emulator fixture and the stray-process guard.

A module that needs an emulator names it as a fixture and says how it wants it with a
module mark, e.g. ``pytestmark = pytest.mark.emulator(operation_seconds=0.2, token=TOKEN)``
(keywords of :class:`EmulatorOptions`). One emulator serves the whole module; its log is
checked for the module's secrets when it stops.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from mms_pulumi.emulator.process import EmulatorProcess
from mms_pulumi.emulator.settings import FILE_ROOTS_ENV
from tests.harness import assert_no_plaintext
from tests.support import processes

_MARKERS = ("mms_pulumi.emulator", "pulumi.dynamic")

# The emulators the tests start read file:// URLs from the checkout (the examples) and
# from pytest's temporary directories (models, drivers and archives the tests write); the
# default would be their working directory and the home directory only.
os.environ.setdefault(
    FILE_ROOTS_ENV,
    os.pathsep.join(
        [str(Path(__file__).resolve().parents[1]), tempfile.gettempdir(), str(Path.home())]
    ),
)


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


@dataclass(frozen=True)
class EmulatorOptions:
    """How a module wants its emulator (the keywords of ``pytest.mark.emulator``)."""

    operation_seconds: float = 0.2
    token: str | None = None
    scoring: bool = True
    page_size: int | None = None
    log_level: str | None = None
    max_body_bytes: int | None = None
    # Never to appear in the emulator's log (checked when it stops).
    secrets: Sequence[str] = ()

    def args(self) -> list[str]:
        """The emulator's command-line flags for these options."""
        flags = [] if self.token is None else ["--token", self.token]
        flags += [] if self.scoring else ["--no-scoring"]
        flags += [] if self.page_size is None else ["--page-size", str(self.page_size)]
        if self.max_body_bytes is not None:
            flags += ["--max-body-bytes", str(self.max_body_bytes)]
        return flags + ([] if self.log_level is None else ["--log-level", self.log_level])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "emulator(**options): how the module's `emulator` fixture is started"
    )


@pytest.fixture(scope="module")
def emulator(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmulatorProcess]:
    """One emulator for the module, started as its ``emulator`` mark says."""
    mark = request.node.get_closest_marker("emulator")
    options = EmulatorOptions(**(mark.kwargs if mark else {}))
    data_dir = tmp_path_factory.mktemp(f"{request.module.__name__.rsplit('.', 1)[-1]}-emulator")
    with EmulatorProcess(data_dir, options.operation_seconds, options.args()) as running:
        yield running
    if options.secrets:
        assert_no_plaintext(options.secrets, running.log)
