"""Starting and stopping scoring processes the way the emulator's services do."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from mms_pulumi.emulator.runtime import (
    Backend,
    BackendError,
    ProcessIdentity,
    check_driver,
    stop_identity,
    stop_process,
)
from mms_pulumi.emulator.runtime import start_backend as start
from mms_pulumi.emulator.settings import EmulatorSettings
from mms_pulumi.emulator.store import NewObject, Store

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"


def start_backend(bundle: Path, driver: str, name: str, log: Path) -> Backend:
    """A backend of service ``name``, whose store (beside its log) knows the service."""
    settings = EmulatorSettings(data_dir=log.parent / "data", file_roots=())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database)
    if store.get_any("services", name) is None:
        store.create("services", "s/g/a", lambda _version: NewObject(name, {"id": name}))
    store.close()
    return start(bundle, driver, name, log, settings.for_replica(name))


def score(backend: Backend, name: str, body: Any) -> Any:
    """``POST /score`` to the backend over a connection handed to it, as the emulator's."""
    connection = http.client.HTTPConnection("127.0.0.1", timeout=30)
    connection.sock = backend.replica.connect()
    connection.request("POST", f"/api/v1/service/{name}/score", body=json.dumps(body))
    answer = connection.getresponse()
    assert answer.status == 200, answer.read()
    document = json.loads(answer.read())
    connection.close()
    return document


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    directory = tmp_path / "bundle"
    directory.mkdir()
    shutil.copy(QUICKSTART / "score.py", directory)
    shutil.copy(QUICKSTART / "churn-model.json", directory)
    return directory


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_backend_starts_healthy_scores_and_stops(bundle: Path, tmp_path: Path) -> None:
    backend = start_backend(bundle, "score.py", "churn", tmp_path / "logs" / "churn.log")
    try:
        staying = {"customers": [{"tenure_months": 70, "monthly_charges": 20, "support_calls": 0}]}
        assert score(backend, "churn", staying)["churn"] == [False]
    finally:
        stop_process(backend.process)
    assert not backend.alive()


def test_backend_whose_init_fails_reports_the_last_line(bundle: Path, tmp_path: Path) -> None:
    (bundle / "churn-model.json").unlink()
    with pytest.raises(BackendError, match="init\\(\\) failed: FileNotFoundError"):
        start_backend(bundle, "score.py", "churn", tmp_path / "churn.log")


def test_check_driver_raises_with_the_reason(bundle: Path) -> None:
    check_driver(bundle, "score.py")
    (bundle / "bad.py").write_text("def init():\n    pass\n")
    with pytest.raises(BackendError, match="defines no run"):
        check_driver(bundle, "bad.py")


def test_a_backend_known_by_its_identity_is_stopped(bundle: Path, tmp_path: Path) -> None:
    backend = start_backend(bundle, "score.py", "churn", tmp_path / "churn.log")
    stop_identity(ProcessIdentity(backend.pid, backend.identity.created), grace=5)
    backend.process.wait(timeout=5)
    assert not _alive(backend.pid)


def test_a_reused_pid_is_never_signalled(tmp_path: Path) -> None:
    """A recorded (pid, start time) whose pid now runs another program: left alone."""
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = ProcessIdentity(other.pid, created=1.0)  # same pid, another start time
        stop_identity(stale, grace=0.5)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait(timeout=5)


PRINTING_DRIVER = """
import sys
print("loading the model", flush=True)
def init():
    print("init says hello " * 20, flush=True)
def run(data):
    for _ in range(2000):
        print("a line from run() " * 8)
    print("to stderr too", file=sys.stderr)
    return {"ok": True}
"""


def test_a_driver_that_prints_starts_and_keeps_serving(tmp_path: Path) -> None:
    """Its output goes to the service's log; no pipe fills up and stalls a request."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "score.py").write_text(PRINTING_DRIVER)
    log = tmp_path / "logs" / "printer.log"
    backend = start_backend(bundle, "score.py", "printer", log)
    try:
        for _ in range(20):  # ~3 MB of prints: a pipe would have filled long before
            assert score(backend, "printer", {}) == {"ok": True}
    finally:
        stop_process(backend.process)
    text = log.read_text()
    assert "init says hello" in text and "a line from run()" in text and "to stderr too" in text


SPAWNING_DRIVER = """
import subprocess, sys
CHILD = None
def init():
    global CHILD
    # A child in a session of its own: outside the backend's process group.
    CHILD = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True
    )
    with open("child.pid", "w") as out:
        out.write(str(CHILD.pid))
def run(data):
    return {"child": CHILD.pid}
"""


def test_stopping_a_backend_stops_what_its_driver_started_in_another_session(
    tmp_path: Path,
) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "score.py").write_text(SPAWNING_DRIVER)
    backend = start_backend(bundle, "score.py", "spawner", tmp_path / "spawner.log")
    child = int((bundle / "child.pid").read_text())
    assert _alive(child)
    stop_process(backend.process)
    assert (
        psutil.wait_procs([psutil.Process(child)], timeout=10)[1] == [] if _alive(child) else True
    )
    assert not _alive(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


def test_a_scoring_process_exits_when_its_parent_is_killed(bundle: Path, tmp_path: Path) -> None:
    """The emulator dies by ``kill -9``: its scoring processes do not outlive it."""
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from mms_pulumi.emulator.runtime import start_backend\n"
        "from mms_pulumi.emulator.settings import EmulatorSettings\n"
        f"log = Path({str(tmp_path / 'o.log')!r})\n"
        f"s = EmulatorSettings(data_dir=Path({str(tmp_path)!r}), file_roots=())\n"
        f"b = start_backend(Path({str(bundle)!r}), 'score.py', 'orphan', log,"
        " s.for_replica('orphan'))\n"
        "print(b.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    orphan = int(parent.stdout.readline())
    parent.kill()
    parent.wait(timeout=5)
    _, still = psutil.wait_procs([psutil.Process(orphan)], timeout=30)
    assert still == [], "the scoring process outlived the emulator that started it"
