"""The real Pulumi CLI run from Python the way scripts/pulumi runs it: for the end-to-end
tests and the benchmarks.

``scripts/install-pulumi --env`` is the one place that says where the CLI is, which route
programs take and which offline switches the CLI gets; this module parses it. On the
``inline`` route a program command goes through ``scripts/pulumi_inline.py`` under the
project's venv (the process it starts becomes the CLI, so signals sent to ``Popen.pid``
reach the CLI itself); on the ``language-host`` route the CLI is run directly.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
# Every process a CLI of ours starts inherits this variable: how the callers find what is
# left of them (by identity, read from /proc/<pid>/environ), whoever its parent is now.
RUN_MARKER = "MMS_E2E_RUN"


def marked_processes(run: str) -> list[str]:
    """Processes whose environment carries ``RUN_MARKER=run``: pid and command line."""
    found = []
    needle = f"{RUN_MARKER}={run}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone, or not ours to read
            continue
        if argv:  # a zombie has no command line: it has ended
            found.append(f"{entry.name} {argv.strip()}")
    return found


def marked_processes_left(run: str, patience: float = 30.0) -> list[str]:
    """The processes carrying ``RUN_MARKER=run`` that are still running once they have had
    ``patience`` seconds to end (a deadline for something that happens, not a measure)."""
    deadline = time.monotonic() + patience
    while (left := marked_processes(run)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@functools.cache
def cli_environment() -> dict[str, str] | str:
    """``KEY=VALUE`` lines of ``scripts/install-pulumi --env``, or why there is no CLI."""
    result = subprocess.run(
        [str(ROOT / "scripts" / "install-pulumi"), "--env"],
        capture_output=True,
        text=True,
        timeout=3600,  # a first run builds the CLI from its modules
        check=False,
    )
    if result.returncode != 0:
        return result.stderr.strip() or f"scripts/install-pulumi exited {result.returncode}"
    pairs = (line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return dict(pairs)


def example_python(project: Path) -> Path:
    """The example's own venv python (scripts/bootstrap builds it)."""
    return project / ".venv" / "bin" / "python"


@dataclass
class Cli:
    """``pulumi`` on one project, with state in ``backend`` and its own PULUMI_HOME."""

    project: Path
    home: Path
    backend: Path
    tools: Mapping[str, str]
    run_marker: str
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        python = example_python(self.project)
        return {
            **os.environ,
            **self.tools,
            "PULUMI_HOME": str(self.home),
            "PULUMI_BACKEND_URL": self.backend.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": "e2e-passphrase",
            # The dynamic-provider launcher (and the language host) run this python.
            "PULUMI_PYTHON_CMD": str(python),
            RUN_MARKER: self.run_marker,
            **self.extra_env,
        }

    def argv(self, args: Sequence[str]) -> list[str]:
        if self.tools["MMS_PULUMI_ROUTE"] == "inline":
            return [
                str(example_python(self.project)),
                str(ROOT / "scripts" / "pulumi_inline.py"),
                *args,
            ]
        return [shutil.which("pulumi", path=self.tools["PATH"]) or "pulumi", *args]

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> Result:
        """Run ``pulumi ARGS --non-interactive``; an AssertionError showing both streams on a
        non-zero exit unless ``check`` is false."""
        completed = subprocess.run(
            self.argv([*args, "--non-interactive"]),
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        result = Result(list(args), completed.returncode, completed.stdout, completed.stderr)
        if check:
            assert result.code == 0, result.describe()
        return result

    def start(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        """Start ``pulumi ARGS --non-interactive`` in the background, both streams to
        ``log``; the returned process *is* the CLI (signals sent to it reach the CLI)."""
        with log.open("wb") as out:
            return subprocess.Popen(
                self.argv([*args, "--non-interactive"]),
                cwd=self.project,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def exported(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self.run("stack", "export").stdout)
        return state


@dataclass(frozen=True)
class Result:
    args: list[str]
    code: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (
            f"pulumi {' '.join(self.args)} exited {self.code}\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )
