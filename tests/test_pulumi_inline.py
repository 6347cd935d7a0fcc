"""scripts/pulumi_inline.py's decisions, without a CLI: which commands get a language runtime
and ``--client``, and that every other command is handed to the CLI untouched."""

from __future__ import annotations

import pytest

from scripts.pulumi_inline import PROGRAM_COMMANDS, command_of, main


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["up", "--yes"], "up"),
        (["--cwd", "examples/replicas", "preview", "--diff"], "preview"),
        (["-C", "dir", "-v", "9", "refresh"], "refresh"),
        (["--color=never", "destroy", "--yes"], "destroy"),
        (["--non-interactive", "stack", "output"], "stack"),
        (["--help"], None),
        ([], None),
    ],
)
def test_the_command_is_the_first_word_that_is_no_flag_or_flag_value(
    args: list[str], command: str | None
) -> None:
    assert command_of(args) == command


def test_the_commands_that_run_the_program_and_their_aliases() -> None:
    assert {"up", "update", "preview", "pre", "refresh", "destroy", "down"} == PROGRAM_COMMANDS


def test_a_command_that_runs_no_program_goes_to_the_cli_as_it_is() -> None:
    ran: list[tuple[str, list[str]]] = []
    main(
        ["config", "set", "mms:endpoint", "http://127.0.0.1:1"],
        execvp=lambda f, a: ran.append((f, a)),
    )
    assert ran == [("pulumi", ["pulumi", "config", "set", "mms:endpoint", "http://127.0.0.1:1"])]
