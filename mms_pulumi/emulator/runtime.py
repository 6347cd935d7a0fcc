"""Scoring processes of local services: start, stop; nothing else.

Each running service is one or more ``python -m mms_pulumi.emulator.scoring`` processes,
each started in its own process group with a link to the emulator (``handoff``) and no
port: the emulator hands it the connections it serves. Everything it and its driver print
goes to the service's log file. A process is ready once it says ``READY`` on its link,
after ``init()`` has returned and it serves. The process started is a keeper
(``scoring.keeper``) under which the driver runs: every process the driver starts stays
its descendant, and it stops them all when it stops or the emulator is gone. A process is
known by pid *and* start time (so a pid reused by another program is never signalled),
and a stop reaches every descendant, in its group or not.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from mms_pulumi.emulator.handoff import (
    BusyTable,
    Kind,
    LinkClosed,
    link_pair,
    receive_record,
    send_settings,
)
from mms_pulumi.emulator.replicas import Replica
from mms_pulumi.emulator.scoring.keeper import stop_tree

START_TIMEOUT_SECONDS = 120.0
STOP_GRACE_SECONDS = 10.0
CHECK_TIMEOUT_SECONDS = 120.0


class BackendError(Exception):
    """A scoring process could not start; the message is the driver's own last line."""


@dataclass(frozen=True)
class ProcessIdentity:
    """A process as the OS knows it: pid plus start time (a pid alone can be reused)."""

    pid: int
    created: float

    @classmethod
    def of(cls, pid: int) -> ProcessIdentity | None:
        """The running process ``pid``, or ``None`` when there is none."""
        try:
            return cls(pid, psutil.Process(pid).create_time())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None

    def running(self) -> psutil.Process | None:
        """The process, if it still runs and is the same one (not a reused pid)."""
        try:
            process = psutil.Process(self.pid)
            if abs(process.create_time() - self.created) > 0.01:
                return None
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
            return process
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None


@dataclass
class Backend:
    """One running scoring process."""

    replica: Replica  # the link its connections are handed over on
    process: subprocess.Popen[bytes]
    log_path: Path
    identity: ProcessIdentity
    started_at: float = field(default_factory=time.time)

    @property
    def pid(self) -> int:
        """Process id (also its process group id)."""
        return self.process.pid

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process.poll() is None


def _command(bundle: Path, driver: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mms_pulumi.emulator.scoring",
        "--bundle",
        str(bundle),
        "--driver",
        driver,
        *extra,
    ]


def check_driver(bundle: Path, driver: str, *, timeout: float = CHECK_TIMEOUT_SECONDS) -> None:
    """Import the driver in a child process and check its contract; raise with the reason.
    Whatever the import started is stopped with it."""
    extra = ("--parent-pid", str(os.getpid()))
    process = subprocess.Popen(
        _command(bundle, driver, "--check", *extra),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=_child_env(),
    )
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process(process, grace=1.0)
        process.communicate()
        raise BackendError(f"driver program {driver}: import took over {timeout:.0f} s") from None
    if process.returncode != 0:
        text = stderr.decode("utf-8", "replace")
        raise BackendError(_last_line(text) or f"driver check exited {process.returncode}")


def start_backend(
    bundle: Path,
    driver: str,
    name: str,
    log_path: Path,
    settings: dict[str, Any],
    *,
    timeout: float = START_TIMEOUT_SECONDS,
    on_started: Callable[[ProcessIdentity], None] = lambda _identity: None,
) -> Backend:
    """Start a scoring process with ``settings`` (``EmulatorSettings.for_replica``) and
    wait until it is ready, or raise with its last line.

    ``on_started`` hears of the process as soon as it exists, before any driver code runs
    (the keeper forks the worker first), so it can be recorded for a stop after a crash.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    link, their_link = link_pair()
    busy, busy_fd = BusyTable.new()
    replica = Replica(link, busy)
    extra = (
        *("--name", name, "--parent-pid", str(os.getpid())),
        *("--link-fd", str(their_link.fileno()), "--busy-fd", str(busy_fd)),
    )
    try:
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                _command(bundle, driver, *extra),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                env=_child_env(),
                pass_fds=(their_link.fileno(), busy_fd),
            )
    except BaseException:
        replica.close()
        raise
    finally:
        their_link.close()
        os.close(busy_fd)
    identity = ProcessIdentity.of(process.pid)
    try:
        if identity is not None:
            on_started(identity)
        send_settings(link, settings)
        ready = _wait_ready(process, link, timeout)
    except LinkClosed:
        ready = False
    except BaseException:
        stop_process(process)
        replica.close()
        raise
    if not ready or identity is None:
        stop_process(process)
        replica.close()
        raise BackendError(
            _last_line(log_path.read_text(errors="replace")) or "scoring process did not start"
        )
    return Backend(replica=replica, process=process, log_path=log_path, identity=identity)


def _wait_ready(process: subprocess.Popen[bytes], link: socket.socket, timeout: float) -> bool:
    """Whether the process said ``READY`` on its link within ``timeout``; ``False`` if it
    exited (its link closed) or took too long."""
    deadline = time.monotonic() + timeout
    poll = select.poll()  # not select(): the link's descriptor may be past 1024
    poll.register(link, select.POLLIN)
    while (left := deadline - time.monotonic()) > 0:
        if poll.poll(min(left, 0.5) * 1000):
            kind, _value, descriptor = receive_record(link)  # LinkClosed when it exited
            if descriptor is not None:
                os.close(descriptor)
            return kind is Kind.READY
        if process.poll() is not None:
            return False
    return False


def stop_process(process: subprocess.Popen[bytes], *, grace: float = STOP_GRACE_SECONDS) -> None:
    """Stop a scoring process we started, with everything its driver started."""
    identity = ProcessIdentity.of(process.pid) if process.poll() is None else None
    if identity is not None:
        stop_identity(identity, grace=grace)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def stop_identity(identity: ProcessIdentity, *, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM the process, its group and every descendant (in-flight requests finish),
    then SIGKILL whatever is left after ``grace``. Only the very process recorded is
    touched: a pid now used by another program is left alone."""
    root = identity.running()
    if root is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(root.pid, signal.SIGTERM)
    stop_tree(root, include_root=True, grace=grace)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # The scoring process imports this package; make sure it can even when run from a checkout.
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
