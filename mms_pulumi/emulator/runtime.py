"""Scoring processes of local services: start, health-check, stop; nothing else.

Each running service is one ``python -m mms_pulumi.emulator.scoring`` process bound to a
free loopback port, started in its own process group. Everything it and its driver print
goes to the service's log file; it writes its port and secret (``server.SECRET_HEADER``:
it answers no call without it) to a file of its own once ``init()`` has returned, and a
backend is healthy once ``GET /`` then answers 200. The process started is a keeper
(``scoring.keeper``) under which the driver runs: every process the driver starts stays
its descendant, and it stops them all when it stops or the emulator is gone. A process is
known by pid *and* start time (so a pid reused by another program is never signalled),
and a stop reaches every descendant, in its group or not.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

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

    replica: Replica  # where it listens, and the secret every call must send
    process: subprocess.Popen[bytes]
    log_path: Path
    identity: ProcessIdentity
    started_at: float = field(default_factory=time.time)

    @property
    def port(self) -> int:
        """The loopback port the process listens on."""
        return self.replica.port

    @property
    def url(self) -> str:
        """Base URL of the process on loopback (every call wants ``replica.headers``)."""
        return self.replica.url

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
    *,
    timeout: float = START_TIMEOUT_SECONDS,
    on_started: Callable[[ProcessIdentity], None] = lambda _identity: None,
) -> Backend:
    """Start a scoring process and wait until it is healthy, or raise with its last line.

    ``on_started`` hears of the process as soon as it exists, before any driver code runs
    (the keeper forks the worker first), so it can be recorded for a stop after a crash.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    port_file = log_path.with_name(f"{log_path.stem}.{uuid.uuid4().hex}.port")
    extra = ("--name", name, "--port-file", str(port_file), "--parent-pid", str(os.getpid()))
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            _command(bundle, driver, *extra),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            env=_child_env(),
        )
    identity = ProcessIdentity.of(process.pid)
    try:
        if identity is not None:
            on_started(identity)
        replica = _wait_for_port(process, port_file, timeout)
    except BaseException:
        stop_process(process)
        raise
    finally:
        port_file.unlink(missing_ok=True)
    if replica is None or identity is None:
        stop_process(process)
        raise BackendError(
            _last_line(log_path.read_text(errors="replace")) or "scoring process did not start"
        )
    backend = Backend(replica=replica, process=process, log_path=log_path, identity=identity)
    if not wait_healthy(replica, timeout=10.0):
        stop_process(process)
        raise BackendError(
            f"scoring process on port {replica.port} did not answer its health check"
        )
    return backend


def _wait_for_port(
    process: subprocess.Popen[bytes], port_file: Path, timeout: float
) -> Replica | None:
    """The port and secret the process wrote once ready; ``None`` if it exited or took too
    long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            announced = json.loads(port_file.read_text())
            return Replica(int(announced["port"]), str(announced["secret"]))
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, TypeError):
            return None
        if process.poll() is not None:
            return None
        time.sleep(0.02)
    return None


# Scoring processes are on loopback: no proxy the environment names is asked (it would see
# every probe, and a score's key with it).
_LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def wait_healthy(
    replica: Replica, *, timeout: float, sleep: Callable[[float], None] = time.sleep
) -> bool:
    """Poll ``GET /`` until it answers 200 or the time is up."""
    deadline = time.monotonic() + timeout
    probe = urllib.request.Request(f"{replica.url}/", headers=replica.headers)
    while time.monotonic() < deadline:
        try:
            with _LOOPBACK.open(probe, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        sleep(0.05)
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
