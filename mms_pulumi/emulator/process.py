"""Start an emulator from Python (tests, the quickstart) without importing FastAPI.

``EmulatorProcess`` runs one in a child process for the length of a ``with`` block;
``ensure_emulator`` reuses one already answering on a port, or starts a detached one.
Neither FastAPI nor uvicorn is imported (only the schema, for the health answer): the
Pulumi program and the provider import this to start an emulator on demand.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from types import TracebackType

from mms_pulumi.emulator.settings import FILE_ROOTS_ENV
from mms_pulumi.local import DEFAULT_OPERATION_SECONDS, DEFAULT_PORT
from mms_pulumi.schema import EmulatorHealth

STARTUP_TIMEOUT_SECONDS = 60.0
EXIT_WAIT_SECONDS = 10.0  # for the exit code of an emulator that closed its stdout
# How much of the emulator's stderr a start failure quotes.
STDERR_TAIL_LINES = 30


class EmulatorStartError(RuntimeError):
    """The emulator did not come up; the message ends with its last log lines."""


class EmulatorProcess:
    """An emulator in a child process: ``with EmulatorProcess(dir) as mms: mms.base_url``.

    Runs ``python -m mms_pulumi.emulator --port 0 --data-dir D --operation-seconds S``
    followed by ``extra_args``; ``kill`` is a crash, ``stop`` a clean shutdown, ``restart``
    starts again on the same data directory (perhaps on another port).
    """

    def __init__(
        self,
        data_dir: Path | str,
        operation_seconds: float = DEFAULT_OPERATION_SECONDS,
        extra_args: list[str] | None = None,
        *,
        port: int = 0,
        env: dict[str, str] | None = None,
        startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.operation_seconds = operation_seconds
        self.port = port
        self.extra_args = list(extra_args or [])
        self.env = env
        self.startup_timeout = startup_timeout
        self.base_url = ""
        self._process: subprocess.Popen[str] | None = None
        self._stderr: deque[str] = deque(maxlen=200)
        self._drain: threading.Thread | None = None

    def __enter__(self) -> EmulatorProcess:
        self.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        """Process id of the running emulator; raises ``RuntimeError`` when there is none."""
        if self._process is None:
            raise RuntimeError("the emulator is not running (start it first)")
        return self._process.pid

    @property
    def log(self) -> str:
        """The emulator's recent stderr (access log and warnings)."""
        return "".join(self._stderr)

    @property
    def running(self) -> bool:
        """Whether the emulator process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> str:
        """Start the emulator and wait until it prints its URL; returns the URL.

        Raises ``EmulatorStartError`` (quoting the end of its stderr) when it exits or
        stays silent for ``startup_timeout`` seconds.
        """
        command = [
            sys.executable,
            "-m",
            "mms_pulumi.emulator",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--operation-seconds",
            str(self.operation_seconds),
            *self.extra_args,
        ]
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(self.env or {}), "PYTHONUNBUFFERED": "1"},
        )
        self._stderr.clear()
        self._drain = threading.Thread(target=self._drain_stderr, daemon=True)
        self._drain.start()
        self.base_url = self._wait_for_url()
        return self.base_url

    def _drain_stderr(self) -> None:
        process = self._process
        assert process is not None and process.stderr is not None
        for line in process.stderr:
            self._stderr.append(line)

    def _wait_for_url(self) -> str:
        process = self._process
        assert process is not None and process.stdout is not None
        found: list[str] = []

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith("http"):
                    found.append(line.strip())
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(self.startup_timeout)
        if found:
            return found[0]
        exited = process.poll()
        if exited is None and not reader.is_alive():
            # Its stdout closed without a URL: it is exiting. Wait for the code rather than
            # racing the exit (on a loaded machine the reap comes a moment later).
            with contextlib.suppress(subprocess.TimeoutExpired):
                exited = process.wait(timeout=EXIT_WAIT_SECONDS)
        self.kill()
        if self._drain is not None:
            self._drain.join(timeout=5)  # so the tail below is complete
        tail = "".join(list(self._stderr)[-STDERR_TAIL_LINES:]) or "(no output)\n"
        if exited is not None:
            reason = f"exited with code {exited} before it was ready"
        else:
            reason = f"did not start within {self.startup_timeout:g} s"
        raise EmulatorStartError(f"the emulator {reason}; the end of its stderr:\n{tail}")

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait (it stops its services first); returns the exit code."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self._process = None
        return process.returncode

    def kill(self) -> None:
        """SIGKILL: a crash, for durability tests."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        self._process = None

    def restart(self) -> str:
        """Start again on the same data directory (after ``kill`` or ``stop``)."""
        self.stop()
        return self.start()


def is_emulator(base_url: str, timeout: float = 1.0) -> bool:
    """Whether an MMS emulator answers at ``base_url``."""
    return emulator_health(base_url, timeout) is not None


def emulator_health(base_url: str, timeout: float = 1.0) -> EmulatorHealth | None:
    """The health answer of the MMS emulator at ``base_url``, or ``None`` when none answers."""
    try:
        with urllib.request.urlopen(f"{base_url}/_emulator/health", timeout=timeout) as answer:
            return EmulatorHealth.model_validate_json(answer.read())
    except (OSError, ValueError):  # pydantic's ValidationError is a ValueError
        return None


def _check_same_data_dir(base_url: str, health: EmulatorHealth, data_dir: Path) -> None:
    served = health.data_dir
    if served is not None and Path(served).resolve() != data_dir.resolve():
        raise EmulatorStartError(
            f"the emulator on {base_url} keeps its data in {served}, not in {data_dir}: "
            "another project's emulator holds the port. Stop it, or give this project "
            "another port with `pulumi config set mms:emulatorPort <port>`"
        )


def _file_roots_for(data_dir: Path) -> list[str]:
    """``--file-root`` flags for an on-demand emulator: the project (the data directory's
    parent), the working directory and the home directory, unless the environment names
    them (``MMS_EMULATOR_FILE_ROOTS``, which the emulator then reads itself)."""
    if os.environ.get(FILE_ROOTS_ENV):
        return []
    roots = dict.fromkeys([data_dir.resolve().parent, Path.cwd(), Path.home()])
    return [flag for root in roots for flag in ("--file-root", str(root))]


def ensure_emulator(
    data_dir: Path | str,
    port: int = DEFAULT_PORT,
    operation_seconds: float = DEFAULT_OPERATION_SECONDS,
    *,
    startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
) -> str:
    """The URL of an emulator on ``port``: the one already running, or a new detached one.

    One already running on another data directory is refused (``EmulatorStartError``): its
    objects are not the ones this caller recorded.

    A new one keeps running after this process exits (stop it with SIGTERM; its pid is in
    ``GET /_emulator/health``); its output goes to ``data_dir/emulator.log``. Raises
    ``EmulatorStartError`` when it does not come up, quoting the end of that log.
    """
    base_url = f"http://127.0.0.1:{port}"
    data_dir = Path(data_dir)
    health = emulator_health(base_url)
    if health is not None:
        _check_same_data_dir(base_url, health, data_dir)
        return base_url
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "emulator.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mms_pulumi.emulator",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
                "--operation-seconds",
                str(operation_seconds),
                *_file_roots_for(data_dir),
            ],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if is_emulator(base_url):
            return base_url
        if process.poll() is not None:
            raise EmulatorStartError(
                f"the emulator for {base_url} exited with code {process.returncode} "
                f"(is the port taken by something else?); the end of {log_path}:\n"
                f"{_tail(log_path)}"
            )
        time.sleep(0.1)
    raise EmulatorStartError(
        f"the emulator did not answer on {base_url} within {startup_timeout:g} s; "
        f"the end of {log_path}:\n{_tail(log_path)}"
    )


def _tail(path: Path, lines: int = STDERR_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)\n"
    return "".join(text.splitlines(keepends=True)[-lines:]) or "(empty)\n"
