"""Every process started for a service ends with it: drivers built to outlive their service.

Each driver notes its processes' pids in a directory of the test's (``worker-<pid>``,
``daemon-<pid>``); the test then ends the service or the emulator and waits, with a
generous deadline, until each noted process is gone. Processes are found by what they
wrote, never by whether they answer.
"""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from mms_pulumi.emulator.process import EmulatorProcess
from tests.emulator.conftest import KUBE_CONFIG, Api

GONE_DEADLINE_SECONDS = 60.0

DRIVER = """\
import os
import pathlib
import time

PIDS = pathlib.Path({pids!r})


def note(role):
    (PIDS / f"{{role}}-{{os.getpid()}}").write_text("")


def init():
    note("worker")
{body}


def run(data):
    return data
"""

HANGS = "    time.sleep(3600)"
DAEMONISES = """\
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            note("daemon")
            while True:
                time.sleep(1)
        os._exit(0)
    os.wait()
    while not list(PIDS.glob("daemon-*")):
        time.sleep(0.02)
"""
WAITS_FOR_GO = """\
    while not (PIDS / "go").exists():
        time.sleep(0.05)
"""


@pytest.fixture
def pids(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "pids"
    directory.mkdir()
    yield directory
    (directory / "go").touch()  # release any driver still waiting
    for pid in _noted(directory):
        if (process := _running(pid)) is not None:
            process.kill()


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    running = EmulatorProcess(tmp_path / "data", operation_seconds=0.05)
    running.start()
    try:
        yield running
    finally:
        if running.running:
            running.stop()


def _noted(directory: Path, role: str = "") -> list[int]:
    return sorted(
        int(path.name.rsplit("-", 1)[1])
        for path in directory.glob(f"{role}*-*")
        if path.name.rsplit("-", 1)[1].isdigit()
    )


def _running(pid: int) -> psutil.Process | None:
    try:
        process = psutil.Process(pid)
        return None if process.status() == psutil.STATUS_ZOMBIE else process
    except psutil.NoSuchProcess:
        return None


def _wait_for(what: str, check: object, deadline: float = GONE_DEADLINE_SECONDS) -> None:
    assert callable(check)
    stop = time.monotonic() + deadline
    while not check():
        assert time.monotonic() < stop, f"timed out waiting until {what}"
        time.sleep(0.05)


def _image_with(api: Api, tmp_path: Path, pids: Path, body: str, name: str) -> str:
    driver = tmp_path / f"{name}.py"
    driver.write_text(DRIVER.format(pids=str(pids), body=textwrap.indent(body, "")))
    model = api.register_model()
    manifest = api.call(
        "POST",
        "manifests",
        api.manifest_body(
            [model["id"]],
            assets=[{"id": "score", "url": driver.as_uri(), "mimeType": "application/x-python"}],
        ),
    ).json()
    return str(api.build_image(manifest["id"])["id"])


def _start_service(api: Api, name: str, image_id: str) -> str:
    body = {
        "name": name,
        "imageId": image_id,
        "kubeConfig": KUBE_CONFIG,
        "acrImagePullSecret": "acr-pull",
    }
    accepted = api.call("POST", "services", body)
    assert accepted.status_code == 202, accepted.text
    operation_path = accepted.headers["Operation-Location"]
    operation = api.call("GET", f"{api.base_url}{operation_path}").json()
    return str(operation["resourceLocation"].rsplit("/", 1)[1])


def _all_gone(pids: list[int]) -> bool:
    return all(_running(pid) is None for pid in pids)


def _hanging_service(
    emulator: EmulatorProcess, tmp_path: Path, pids: Path, name: str
) -> tuple[psutil.Process, psutil.Process]:
    """A service whose driver's ``init()`` never returns: its worker and keeper, once the
    worker runs driver code."""
    api = Api(emulator.base_url, name)
    _start_service(api, name, _image_with(api, tmp_path, pids, HANGS, name))
    _wait_for("the driver's init() runs", lambda: _noted(pids, "worker"))
    worker = psutil.Process(_noted(pids, "worker")[0])
    return worker, psutil.Process(worker.ppid())


def test_a_driver_whose_init_hangs_does_not_survive_kill_9_of_the_emulator(
    emulator: EmulatorProcess, tmp_path: Path, pids: Path
) -> None:
    worker, keeper = _hanging_service(emulator, tmp_path, pids, "hangs")
    emulator.kill()
    _wait_for("the scoring process is gone", lambda: _all_gone([worker.pid, keeper.pid]))


def test_a_driver_that_double_forks_and_setsids_is_stopped_by_delete(
    emulator: EmulatorProcess, tmp_path: Path, pids: Path
) -> None:
    api = Api(emulator.base_url, "daemon")
    image = _image_with(api, tmp_path, pids, DAEMONISES, "daemon")
    service = api.create_service("daemon", image)
    daemon = _noted(pids, "daemon")
    assert daemon and _running(daemon[0]) is not None
    assert os.getsid(daemon[0]) != os.getsid(_noted(pids, "worker")[0])  # its own session
    assert api.call("DELETE", f"services/{service['id']}").status_code == 200
    _wait_for("the daemon is gone", lambda: _all_gone(daemon + _noted(pids, "worker")))


def test_a_daemonised_driver_process_does_not_survive_kill_9_of_the_emulator(
    emulator: EmulatorProcess, tmp_path: Path, pids: Path
) -> None:
    api = Api(emulator.base_url, "daemon9")
    api.create_service("daemon9", _image_with(api, tmp_path, pids, DAEMONISES, "daemon"))
    everything = _noted(pids)
    assert len(everything) == 2
    emulator.kill()
    _wait_for("every process of the service is gone", lambda: _all_gone(everything))


def test_a_delete_racing_an_update_leaves_no_process_running(
    emulator: EmulatorProcess, tmp_path: Path, pids: Path
) -> None:
    api = Api(emulator.base_url, "race")
    service = api.create_service("race", api.build_image()["id"])
    slow = _image_with(api, tmp_path, pids, WAITS_FOR_GO, "slow")
    update = {"imageId": slow, "acrImagePullSecret": "acr-pull"}
    updating = api.call("PUT", f"services/{service['id']}", update)
    assert updating.status_code == 202, updating.text
    _wait_for("the update's scoring process runs", lambda: _noted(pids, "worker"))
    started = _noted(pids, "worker")
    stats = api.session.get(f"{emulator.base_url}/_emulator/stats", timeout=10).json()
    assert stats["processes"] == 2  # the serving one and the one the update starts
    assert api.call("DELETE", f"services/{service['id']}").status_code == 200
    (pids / "go").touch()  # had it survived, its init() would now return and it would serve
    _wait_for("the update's process is gone", lambda: _all_gone(started))
    operation = api.wait(updating)
    assert operation["state"] != "Succeeded"

    def nothing_left() -> bool:
        stats = api.session.get(f"{emulator.base_url}/_emulator/stats", timeout=10).json()
        children = psutil.Process(emulator.pid).children(recursive=True)
        return stats["processes"] == 0 and stats["backends"] == 0 and not children

    _wait_for("the emulator runs and records no scoring process", nothing_left)


def test_a_process_left_behind_by_a_crash_is_stopped_by_the_next_emulator(
    emulator: EmulatorProcess, tmp_path: Path, pids: Path
) -> None:
    worker, keeper = _hanging_service(emulator, tmp_path, pids, "left")
    keeper.suspend()  # frozen, it cannot notice the emulator going: only its record can
    emulator.kill()
    assert _running(keeper.pid) is not None
    emulator.start()  # the same data directory
    _wait_for("the recorded process is gone", lambda: _all_gone([keeper.pid, worker.pid]))


def test_stopping_the_emulator_while_a_service_starts_ends_it_and_the_start_resumes(
    emulator: EmulatorProcess, tmp_path: Path, pids: Path
) -> None:
    api = Api(emulator.base_url, "stopping")
    image = _image_with(api, tmp_path, pids, HANGS, "stopping")
    body = {"name": "s", "imageId": image, "kubeConfig": KUBE_CONFIG, "acrImagePullSecret": "a"}
    accepted = api.call("POST", "services", body)
    _wait_for("the driver's init() runs", lambda: _noted(pids, "worker"))
    first = _noted(pids, "worker")
    assert emulator.stop() == 0  # SIGTERM: not killed after its timeout
    assert _all_gone(first)
    emulator.start()
    api = Api(emulator.base_url, "stopping")
    operation = api.call("GET", f"{api.base_url}{accepted.headers['Operation-Location']}")
    assert operation.json()["state"] == "Running"  # cut short, not failed: it runs again
    _wait_for("the start runs again", lambda: len(_noted(pids, "worker")) == 2)
