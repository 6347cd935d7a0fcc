"""Scoring processes of local services: start, health-check, stop; nothing else.

Each running service is one ``python -m mms_pulumi.emulator.scoring`` process bound to a
free loopback port, started in its own process group so a stop reaches anything the
driver spawned. A backend is healthy once ``init()`` has returned (the process prints its
port only then) and ``GET /`` answers 200.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT_SECONDS = 120.0
STOP_GRACE_SECONDS = 10.0
CHECK_TIMEOUT_SECONDS = 120.0


class BackendError(Exception):
    """A scoring process could not start; the message is the driver's own last line."""


@dataclass
class Backend:
    """One running scoring process."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    started_at: float = field(default_factory=time.time)

    @property
    def url(self) -> str:
        """Base URL of the process on loopback."""
        return f"http://127.0.0.1:{self.port}"

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
    """Import the driver in a child process and check its contract; raise with the reason."""
    try:
        result = subprocess.run(
            _command(bundle, driver, "--check"),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_child_env(),
        )
    except subprocess.TimeoutExpired:
        raise BackendError(f"driver program {driver}: import took over {timeout:.0f} s") from None
    if result.returncode != 0:
        raise BackendError(_last_line(result.stderr) or f"driver check exited {result.returncode}")


def start_backend(
    bundle: Path,
    driver: str,
    name: str,
    log_path: Path,
    *,
    timeout: float = START_TIMEOUT_SECONDS,
) -> Backend:
    """Start a scoring process and wait until it is healthy, or raise with its last line."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            _command(bundle, driver, "--name", name),
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
            env=_child_env(),
        )
    port = _read_port(process, timeout)
    if port is None:
        stop_process(process)
        raise BackendError(
            _last_line(log_path.read_text(errors="replace")) or "scoring process did not start"
        )
    backend = Backend(port=port, process=process, log_path=log_path)
    if not wait_healthy(backend.url, timeout=10.0):
        stop_process(process)
        raise BackendError(f"scoring process on port {port} did not answer its health check")
    return backend


def _read_port(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    assert process.stdout is not None
    found: list[int] = []

    def read() -> None:
        assert process.stdout is not None
        line = process.stdout.readline()
        try:
            found.append(int(json.loads(line)["port"]))
        except (ValueError, KeyError, TypeError):
            return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return found[0] if found else None


def wait_healthy(url: str, *, timeout: float, sleep: Callable[[float], None] = time.sleep) -> bool:
    """Poll ``GET /`` until it answers 200 or the time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        sleep(0.05)
    return False


def stop_process(process: subprocess.Popen[bytes], *, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM the process group (in-flight requests finish), then SIGKILL after ``grace``."""
    if process.poll() is not None:
        return
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    if process.stdout is not None:
        process.stdout.close()


def stop_pid(pid: int, *, grace: float = STOP_GRACE_SECONDS) -> None:
    """Stop a scoring process known only by pid (one left by an earlier emulator run)."""
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return
        time.sleep(0.05)
    _signal_group(pid, signal.SIGKILL)


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists"; reap it if it is ours.
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return finished == 0


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
