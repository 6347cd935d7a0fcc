"""Run the real Pulumi CLI on a project whose Python program this process serves.

    <venv>/bin/python scripts/pulumi_inline.py <pulumi arguments...>

The route scripts/pulumi takes when the Python language host (`pulumi-language-python`) is
not installed; scripts/install-pulumi explains why it may be missing. The CLI is told the
address of a language runtime that is already running with `--client`, the hidden flag the
Automation API uses for inline programs (pkg/cmd/pulumi/operations/io.go,
readProjectForUpdate: the project's runtime becomes "client"; pkg/engine/plugin_host.go,
connectToLanguageRuntime). Everything else is the real CLI and engine: its arguments, output,
exit code, signal handling, state and the dynamic-provider plugin it launches.

How it runs, so that the process the caller started *is* the CLI:
  1. fork: the child starts the language runtime (the SDK's Automation API server) on a
     loopback port, tells the parent the port through a pipe, and serves until the CLI ends;
  2. the parent execs `pulumi <arguments> --client=127.0.0.1:PORT` in its own place, so a
     SIGINT or SIGKILL sent to the pid the caller holds reaches the CLI itself, exactly as
     with the language-host route.
The server ignores SIGINT (a Ctrl-C reaches the whole foreground process group: the CLI
decides what it means) and ends with the CLI's process, however that ends (PR_SET_PDEATHSIG,
and a check of its parent as a second guard). It must: it holds the CLI's stdout and stderr,
so a caller reading them to the end would wait for it.

The program is run as pulumi-language-python-exec runs it: the engine's RunRequest names the
project root, the program directory and its entry point; the server changes to the program
directory and runs the entry point with runpy as `__main__`.

Commands that run no program (stack, config, state...) exec the CLI directly.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import runpy
import signal
import sys
import time
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Any

# The CLI commands that take --client (the same four the Automation API passes it to).
PROGRAM_COMMANDS = frozenset({"up", "update", "preview", "pre", "refresh", "destroy", "down"})


def command_of(args: Sequence[str]) -> str | None:
    """The CLI subcommand named in ``args``: the first word that is not a flag or a flag's
    value. Global flags that take a value are listed; every other flag is taken as boolean
    or written ``--flag=value``."""
    takes_value = {"--cwd", "-C", "--color", "--tracing", "--profiling", "--memprofilerate",
                   "-v", "--verbose"}  # fmt: skip
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in takes_value:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def run_program(root_directory: str, program_directory: str, entry_point: str) -> None:
    """The program as the Python language host runs it (pulumi-language-python-exec:
    ``--pwd`` is the program directory, ``runpy.run_path(PROGRAM, run_name="__main__")``)."""
    import pulumi.runtime.settings

    # The Automation API server resets the settings without the root directory, which
    # pulumi.get_root_directory() returns; the engine sent it in the RunRequest.
    pulumi.runtime.settings.SETTINGS.root_directory = root_directory
    os.chdir(program_directory)
    runpy.run_path(os.path.join(program_directory, entry_point or "."), run_name="__main__")


def serve(port_out: int) -> None:
    """In the forked child: serve the language runtime until the parent (the CLI) ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    # The kernel ends this process when the CLI's process ends, however it ends.
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the CLI ended before the request took effect
        os._exit(0)

    import grpc
    from pulumi.automation._server import LanguageServer
    from pulumi.runtime.proto import language_pb2_grpc

    class ProjectLanguageServer(LanguageServer):
        """The Automation API's server, running the project's entry point from each
        RunRequest's program info instead of a fixed function."""

        def __init__(self) -> None:
            super().__init__(program=lambda: None)

        def Run(self, request: Any, context: Any) -> Any:
            info = request.info
            program_directory = info.program_directory or request.pwd
            self.program = lambda: run_program(
                info.root_directory or program_directory, program_directory, info.entry_point
            )
            return super().Run(request, context)  # type: ignore[no-untyped-call]

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(ProjectLanguageServer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    os.write(port_out, f"{port}\n".encode())
    os.close(port_out)
    # A second guard where there is no PR_SET_PDEATHSIG: orphaned, this process has a new
    # parent. No signal handler and no lock here: nothing a signal can interrupt halfway.
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def main(argv: Sequence[str], execvp: Callable[[str, list[str]], Any] = os.execvp) -> None:
    args = list(argv)
    if command_of(args) not in PROGRAM_COMMANDS:
        execvp("pulumi", ["pulumi", *args])
        return
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    if os.fork() == 0:
        os.close(read_end)
        try:
            serve(write_end)
        finally:
            os._exit(1)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        port = pipe.readline().strip()
    if not port.isdigit():
        sys.exit("scripts/pulumi_inline.py: the language runtime did not start (see above)")
    execvp("pulumi", ["pulumi", *args, f"--client=127.0.0.1:{port}"])


if __name__ == "__main__":
    main(sys.argv[1:])
