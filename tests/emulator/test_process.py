"""The emulator as a process: flags, token, durability across kill -9, clean shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from mms_pulumi.emulator.operations import finish_due, start_due
from mms_pulumi.emulator.process import EmulatorProcess
from mms_pulumi.emulator.store import OperationRecord
from tests.emulator.conftest import Api


def test_token_flag_accepts_only_that_token(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path, extra_args=["--token", "s3cret"]) as running:
        api = Api(running.base_url, "a", token="s3cret")
        assert api.call("GET", "models").status_code == 200
        assert api.call("GET", "models", token="other").status_code == 401
    assert "s3cret" not in running.log


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    emulator = EmulatorProcess(tmp_path, operation_seconds=0.2)
    emulator.start()
    api = Api(emulator.base_url, "durable")
    model = api.register_model()
    emulator.kill()
    emulator.start()
    api = Api(emulator.base_url, "durable")
    try:
        assert api.call("GET", f"models/{model['id']}").json() == model
    finally:
        emulator.stop()


def test_operation_in_flight_completes_after_a_restart(tmp_path: Path) -> None:
    emulator = EmulatorProcess(tmp_path, operation_seconds=1.5)
    emulator.start()
    try:
        api = Api(emulator.base_url, "restart")
        manifest = api.create_manifest()
        accepted = api.call("POST", "images", api.image_body(manifest["id"]))
        location = accepted.headers["Operation-Location"]
        time.sleep(0.3)
        emulator.kill()
        emulator.start()
        api = Api(emulator.base_url, "restart")
        operation = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            operation = api.call("GET", f"{emulator.base_url}{location}").json()
            if operation["state"] == "Succeeded":
                break
            time.sleep(0.05)
        assert operation is not None and operation["state"] == "Succeeded"
    finally:
        emulator.stop()


def test_services_are_served_again_after_a_restart(tmp_path: Path) -> None:
    emulator = EmulatorProcess(tmp_path, operation_seconds=0.1)
    emulator.start()
    try:
        api = Api(emulator.base_url, "restore")
        service = api.create_service("restored", api.build_image()["id"])
        emulator.kill()
        emulator.start()
        api = Api(emulator.base_url, "restore")
        uri = api.call("GET", f"services/{service['id']}").json()["scoringUri"]
        deadline = time.monotonic() + 30
        status = 0
        while time.monotonic() < deadline and status != 200:
            status = requests.post(uri, json={"customers": []}, timeout=10).status_code
            time.sleep(0.1)
        assert status == 200
    finally:
        emulator.stop()


def test_sigterm_exits_0_and_stops_every_scoring_process(tmp_path: Path) -> None:
    emulator = EmulatorProcess(tmp_path, operation_seconds=0.1)
    emulator.start()
    api = Api(emulator.base_url, "shutdown")
    api.create_service("one", api.build_image()["id"])
    pids = [int(line.split()[0]) for line in _children(emulator.pid)]
    assert pids, "a scoring process should be running"
    assert emulator.stop() == 0
    time.sleep(0.2)
    assert [pid for pid in pids if _alive(pid)] == []


def test_concurrent_registrations_keep_versions_unique_and_gap_free(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path) as running:
        api = Api(running.base_url, "concurrent")
        versions: list[int] = []
        lock = threading.Lock()

        def register() -> None:
            for _ in range(10):
                version = api.register_model("race")["version"]
                with lock:
                    versions.append(version)

        threads = [threading.Thread(target=register) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(versions) == list(range(1, 61))


def test_prints_the_base_url_and_binds_loopback(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mms_pulumi.emulator", "--port", "0", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(f"{url}/_emulator/health", timeout=5).json()["status"] == "ok"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0


def test_state_machine_timing_is_pure() -> None:
    record = OperationRecord(
        id="o",
        scope="s",
        operation_type="Image",
        action="build",
        resource_kind="images",
        resource_id="i",
        resource_location="/x",
        created=100.0,
        not_before=110.0,
    )
    assert not start_due(record, 100.5)
    assert start_due(record, 101.0)
    assert not finish_due(record, 109.9, work_done=True)
    assert not finish_due(record, 120.0, work_done=False)
    assert finish_due(record, 110.0, work_done=True)


def _children(pid: int) -> list[str]:
    out = subprocess.run(
        ["ps", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True
    )
    return [line.strip() for line in out.stdout.splitlines() if "scoring" in line]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return finished == 0
