"""The plugin's lifeline to the engine: the pure parts without sockets or sleeps, and the
whole of it in a real process whose stdin pipe is closed as a killed engine's would be."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap

from mms_pulumi.resources._lifeline import (
    ENGINE_GONE,
    is_plugin_process,
    start_engine_lifeline,
    stdin_is_engine_pipe,
    watch_until_closed,
)


def test_only_a_pipe_speaks_for_the_engine() -> None:
    assert stdin_is_engine_pipe(stat.S_IFIFO | 0o600)
    assert not stdin_is_engine_pipe(stat.S_IFCHR | 0o620)  # a terminal, /dev/null
    assert not stdin_is_engine_pipe(stat.S_IFREG | 0o644)


def test_the_watch_reads_to_the_end_then_acts() -> None:
    chunks = [b"x", b"yz", b""]
    closed: list[bool] = []
    watch_until_closed(lambda: chunks.pop(0), lambda: closed.append(True))
    assert closed == [True] and chunks == []


def test_a_read_error_counts_as_closed() -> None:
    def broken() -> bytes:
        raise OSError("EIO")

    closed: list[bool] = []
    watch_until_closed(broken, lambda: closed.append(True))
    assert closed == [True]


def test_outside_the_plugin_nothing_starts() -> None:
    assert not is_plugin_process()
    assert not start_engine_lifeline()


def test_the_plugin_exits_when_its_stdin_closes() -> None:
    """A process that looks like the plugin (``__main__`` named pulumi.dynamic.__main__),
    its stdin a pipe held by us: it keeps running while we hold it and exits, saying why,
    once we close it, as when the engine is killed."""
    program = textwrap.dedent(
        """
        import sys, threading, types
        sys.modules["__main__"].__spec__ = types.SimpleNamespace(name="pulumi.dynamic.__main__")
        from mms_pulumi.resources._lifeline import start_engine_lifeline
        assert start_engine_lifeline()
        print("serving", flush=True)
        threading.Event().wait()  # serve for ever, as the gRPC server would
        """
    )
    plugin = subprocess.Popen(
        [sys.executable, "-c", program],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=os.getcwd(),
    )
    assert plugin.stdout is not None and plugin.stdin is not None
    assert plugin.stdout.readline() == b"serving\n"
    assert plugin.poll() is None
    plugin.stdin.close()
    assert plugin.wait(timeout=60) == 0
    assert plugin.stderr is not None
    assert ENGINE_GONE in plugin.stderr.read().decode()
    plugin.stdout.close()
    plugin.stderr.close()
