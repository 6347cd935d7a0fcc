"""The emulator as a process: flags, token, durability across kill -9, clean shutdown."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from mms_pulumi.emulator.actions import Action
from mms_pulumi.emulator.operations import finish_due, start_due
from mms_pulumi.emulator.process import EmulatorProcess, EmulatorStartError, ensure_emulator
from mms_pulumi.emulator.store import OperationRecord
from mms_pulumi.schema import OperationType
from tests.emulator.conftest import KUBE_CONFIG, Api
from tests.support import free_port


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
        operation_type=OperationType.IMAGE,
        action=Action.BUILD_IMAGE,
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


def test_access_log_has_one_line_per_request_and_no_secrets(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path, 0.1, ["--token", "tok-3f9a"]) as running:
        api = Api(running.base_url, "secrets", token="tok-3f9a")
        image = api.build_image()
        body = {
            "name": "s",
            "imageId": image["id"],
            "kubeConfig": KUBE_CONFIG,
            "acrImagePullSecret": "pull-7c1e",
        }
        api.wait(api.call("POST", "services", body))
        api.call("POST", "images", {**api.image_body(image["manifestId"]), "imageType": "OCI"})
        # With --token the emulator's own routes want it too.
        stats = requests.get(
            f"{running.base_url}/_emulator/stats",
            headers={"Authorization": "Bearer tok-3f9a"},
            timeout=10,
        ).json()
        # The stats request is counted once it has been answered: after its own answer.
        expected = sum(stats["requests"].values()) + 1

        def access_lines() -> list[str]:
            return [line for line in running.log.splitlines() if "emulator.access" in line]

        deadline = time.monotonic() + 30  # the stderr reader is a thread: wait for it
        while len(access_lines()) < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        log = running.log
    access = [line for line in log.splitlines() if "mms_pulumi.emulator.access" in line]
    assert len(access) == expected
    line = next(a for a in access if " POST " in a and "/services " in a)
    assert re.search(
        r"POST /api/subscriptions/sub/resourceGroups/rg/.*/services 202 [0-9a-f-]{36} [\d.]+ms$",
        line,
    )
    for secret in ("tok-3f9a", "kube-token", "reg-secret", "pull-7c1e", "Bearer", "api-version"):
        assert secret not in log, secret


def test_start_failure_quotes_the_emulator_stderr(tmp_path: Path) -> None:
    emulator = EmulatorProcess(tmp_path, 0.1, ["--page-size", "-3"])
    with pytest.raises(EmulatorStartError) as raised:
        emulator.start()
    assert "exited with code 2" in str(raised.value)
    assert "--page-size" in str(raised.value)
    assert not emulator.running


def test_ensure_emulator_reuses_a_running_one_and_starts_a_detached_one(tmp_path: Path) -> None:
    port = free_port()
    with EmulatorProcess(tmp_path / "first", 0.1, port=port) as running:
        assert ensure_emulator(tmp_path / "first", port) == running.base_url
        # Another data directory's emulator on the port is not reused: its objects differ.
        with pytest.raises(EmulatorStartError, match="another project's emulator"):
            ensure_emulator(tmp_path / "other", port)
        health = requests.get(f"{running.base_url}/_emulator/health", timeout=5).json()
        assert health["pid"] == running.pid
    fresh = free_port()
    url = ensure_emulator(tmp_path / "detached", port=fresh, operation_seconds=0.1)
    try:
        assert url == f"http://127.0.0.1:{fresh}"
        health = requests.get(f"{url}/_emulator/health", timeout=5).json()
        assert Path(health["dataDir"]) == (tmp_path / "detached").resolve()
        assert health["operationSeconds"] == 0.1
        assert (tmp_path / "detached" / "emulator.log").exists()
    finally:
        os.kill(health["pid"], signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _answers(url):
            time.sleep(0.1)


def test_acknowledged_service_create_survives_kill_9_and_completes(tmp_path: Path) -> None:
    emulator = EmulatorProcess(tmp_path, 1.0)
    emulator.start()
    try:
        api = Api(emulator.base_url, "crash")
        image = api.build_image()
        body = {
            "name": "s",
            "imageId": image["id"],
            "kubeConfig": KUBE_CONFIG,
            "acrImagePullSecret": "p",
        }
        accepted = api.call("POST", "services", body)
        assert accepted.status_code == 202
        emulator.kill()
        emulator.restart()
        api = Api(emulator.base_url, "crash")
        operation = api.wait(accepted)
        assert operation["state"] == "Succeeded"
        service_id = operation["resourceLocation"].rsplit("/", 1)[1]
        assert api.call("GET", f"services/{service_id}").json()["state"] == "Succeeded"
        assert api.call("POST", "services", body).status_code == 409
    finally:
        emulator.stop()


def _answers(url: str) -> bool:
    try:
        requests.get(f"{url}/_emulator/health", timeout=1)
    except requests.RequestException:
        return False
    return True


def test_a_restart_reclaims_build_leftovers_and_unused_bundles(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with EmulatorProcess(data, 0.05, ["--no-scoring"]) as running:
        Api(running.base_url, "gc").build_image()
    bundles_dir = data / "bundles"
    (used,) = [p for p in bundles_dir.iterdir() if not p.name.startswith(".")]
    for leftover in (bundles_dir / ".staging-crashed", bundles_dir / ("f" * 64)):
        (leftover / "tree").mkdir(parents=True)
        (leftover / "tree" / "model.pkl").write_bytes(b"x" * 1024)
    with EmulatorProcess(data, 0.05, ["--no-scoring"]):
        assert [p.name for p in bundles_dir.iterdir()] == [used.name]
