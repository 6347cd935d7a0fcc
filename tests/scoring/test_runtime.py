"""Starting and stopping scoring processes the way the emulator's services do."""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from pathlib import Path

import pytest

from mms_pulumi.emulator.runtime import (
    BackendError,
    check_driver,
    start_backend,
    stop_pid,
    stop_process,
)

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"


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
        request = urllib.request.Request(
            f"{backend.url}/score",
            data=json.dumps(
                {"customers": [{"tenure_months": 70, "monthly_charges": 20, "support_calls": 0}]}
            ).encode(),
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["churn"] == [False]
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


def test_stop_pid_ends_a_backend_known_only_by_pid(bundle: Path, tmp_path: Path) -> None:
    backend = start_backend(bundle, "score.py", "churn", tmp_path / "churn.log")
    stop_pid(backend.pid, grace=5)
    backend.process.wait(timeout=5)
    assert not _alive(backend.pid)
