"""Fixtures of the end-to-end tests: the real Pulumi CLI, an emulator, a stack per test.

The CLI comes from scripts/install-pulumi (built from the Go module proxy on first use and
cached per user). Where it cannot be had the tests skip with its reason, except under CI,
where a missing CLI fails them: CI promises the real engine's verdict, not a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mms_pulumi.emulator.process import EmulatorProcess
from scripts.pulumi_cli import (
    EXAMPLES,
    Cli,
    cli_environment,
    example_python,
    marked_processes_left,
)
from tests.support import account_config


@pytest.fixture(scope="session")
def cli_tools() -> dict[str, str]:
    tools = cli_environment()
    if isinstance(tools, str):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs the real Pulumi CLI: {tools}")
        pytest.skip(f"no Pulumi CLI: {tools}")
    return tools


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(tmp_path / "emulator", operation_seconds=0.3) as mms:
        yield mms


StackFactory = Callable[..., Cli]


@pytest.fixture
def stack(
    cli_tools: dict[str, str], emulator: EmulatorProcess, tmp_path: Path
) -> Iterator[StackFactory]:
    """``stack("quickstart", **config)``: a new stack of that example against the test's
    emulator, with its config set (``secret__key=value`` sets a secret, ``plaintext__key``
    a value the CLI would take for one, in plain text); destroyed and
    removed afterwards."""
    made: list[Cli] = []
    run = uuid.uuid4().hex

    def make(example: str, **config: str) -> Cli:
        project = EXAMPLES / example
        if not example_python(project).exists():
            pytest.fail(f"{project}/.venv is missing: run scripts/bootstrap {project}")
        backend = tmp_path / f"state-{example}"
        backend.mkdir(exist_ok=True)
        cli = Cli(
            project=project,
            home=tmp_path / "pulumi-home",
            backend=backend,
            tools=cli_tools,
            run_marker=run,
        )
        cli.run("stack", "init", f"e2e-{uuid.uuid4().hex[:8]}")
        for key, value in account_config(emulator.base_url, "e2e").items():
            cli.run("config", "set", key, value)
        for key, value in config.items():
            if key.startswith("secret__"):
                cli.run("config", "set", "--secret", key.removeprefix("secret__"), value)
            elif key.startswith("plaintext__"):  # what the CLI would call a secret, kept plain
                cli.run("config", "set", "--plaintext", key.removeprefix("plaintext__"), value)
            else:
                cli.run("config", "set", key, value)
        made.append(cli)
        return cli

    yield make
    for cli in made:
        cli.run("destroy", "--yes", check=False)
        cli.run("stack", "rm", "--yes", "--force", check=False)
    # Every process the CLI started (the inline route's language runtime, the dynamic-provider
    # plugin) ends with the command that started it.
    left = marked_processes_left(run)
    assert left == [], f"processes the Pulumi CLI started are still running: {left}"
