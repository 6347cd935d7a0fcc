"""Widening a thread pool that has already served calls, and the guards around it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from mms_pulumi.resources._workers import (
    refusal,
    sdk_version_checked,
    start_workers,
    wanted_workers,
)


def test_widened_pool_runs_more_than_four_at_once_even_after_serving_calls() -> None:
    pool = ThreadPoolExecutor(max_workers=4)
    for future in [pool.submit(lambda: None) for _ in range(20)]:
        future.result()
    start_workers(pool, 16)
    running, peak, lock = [0], [0], threading.Lock()

    def task() -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1

    for future in [pool.submit(task) for _ in range(16)]:
        future.result()
    pool.shutdown()
    assert peak[0] == 16


def test_switch_and_version_guard() -> None:
    assert wanted_workers({}) == 32
    assert wanted_workers({"MMS_PULUMI_PLUGIN_WORKERS": "0"}) == 0
    assert wanted_workers({"MMS_PULUMI_PLUGIN_WORKERS": "junk"}) == 0
    # Exactly the releases whose plugin source was read: 3.216.0 to 3.272.x.
    assert sdk_version_checked("3.216.0")
    assert sdk_version_checked("3.272.0")
    assert not sdk_version_checked("3.215.0")
    assert not sdk_version_checked("3.273.0")
    assert not sdk_version_checked("3.399.0")
    assert not sdk_version_checked("4.0.0")
    assert not sdk_version_checked("dev")


def test_refusal_names_every_surprise_and_allows_the_checked_case() -> None:
    pool = ThreadPoolExecutor(max_workers=4)
    try:
        assert refusal("3.272.0", [pool]) is None
        assert "3.273.0" in str(refusal("3.273.0", [pool]))
        assert "3.216 to 3.272" in str(refusal("3.300.1", [pool]))
        assert "found 0" in str(refusal("3.272.0", []))
        assert "found 2" in str(refusal("3.272.0", [pool, pool]))

        class Bare:
            _max_workers = 4

        assert "lacks _threads" in str(refusal("3.272.0", [Bare()]))  # type: ignore[list-item]
    finally:
        pool.shutdown()


def test_a_failed_widening_leaves_the_stock_limit() -> None:
    class Broken(ThreadPoolExecutor):
        def _adjust_thread_count(self) -> None:
            raise RuntimeError("changed internals")

    pool = Broken(max_workers=4)
    try:
        with pytest.raises(RuntimeError, match="changed internals"):
            start_workers(pool, 32)
        assert pool._max_workers == 4
    finally:
        pool.shutdown()


def test_an_unchecked_sdk_keeps_the_stock_pool_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys
    import types

    import pulumi._version

    from mms_pulumi.resources import _workers

    plugin_main = types.ModuleType("__main__")
    plugin_main.__spec__ = types.SimpleNamespace(name="pulumi.dynamic.__main__")  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, "__main__", plugin_main)
    monkeypatch.setattr(pulumi._version, "version", "3.400.0")
    monkeypatch.setattr(_workers, "_done", threading.Event())
    monkeypatch.delenv("MMS_PULUMI_PLUGIN_WORKERS", raising=False)
    pool = ThreadPoolExecutor(max_workers=4)
    try:
        assert _workers.widen_plugin_pool() is None
        assert _workers.widen_plugin_pool() is None  # once per process
        assert pool._max_workers == 4
    finally:
        pool.shutdown()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("mms: kept the plugin's 4 worker threads: pulumi 3.400.0")
