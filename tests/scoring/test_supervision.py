"""Supervision of scoring processes: restarted with backoff, Failed after repeated failures.

The backoff is a pure function; the rest runs a real ``ServiceHost`` in this process with
shortened delays.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mms_pulumi.emulator import services
from mms_pulumi.emulator.services import Health, ServiceHost, restart_delay
from mms_pulumi.emulator.settings import EmulatorSettings
from mms_pulumi.emulator.store import Store

ONCE_DRIVER = """
from pathlib import Path
def init():
    marker = Path("started-once")
    if marker.exists():
        raise RuntimeError("refusing to start twice")
    marker.write_text("yes")
def run(data):
    return data
"""


def test_restart_delays_double_from_half_a_second_up_to_thirty() -> None:
    assert [restart_delay(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert restart_delay(10_000) == 30


def test_a_process_that_cannot_start_again_is_reported_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "RESTART_FIRST_DELAY", 0.01)
    monkeypatch.setattr(services, "RESTARTS_BEFORE_FAILED", 2)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "score.py").write_text(ONCE_DRIVER)
    store = Store(tmp_path / "mms.sqlite3")
    host = ServiceHost(store, EmulatorSettings(data_dir=tmp_path, file_roots=()))
    try:
        backend = host.start("svc", "once", bundle, "score.py")
        host.route("svc", backend)
        host.supervise()
        assert host.status("svc") is Health.SERVING
        backend.process.kill()
        backend.process.wait(timeout=10)
        deadline = time.monotonic() + 60
        seen = set()
        while time.monotonic() < deadline and host.status("svc") is not Health.FAILED:
            seen.add(host.status("svc"))
            time.sleep(0.02)
        assert host.status("svc") is Health.FAILED
        assert Health.RESTARTING in seen
        assert "refusing to start twice" in host.log_path("svc").read_text()
        host.stop("svc")
        assert host.status("svc") is None
    finally:
        host.stop_all()
        store.close()
