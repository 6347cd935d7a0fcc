"""Widening a thread pool that has already served calls, and the guards around it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from mms_pulumi.resources._workers import sdk_version_checked, start_workers, wanted_workers


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
    assert sdk_version_checked("3.272.0")
    assert not sdk_version_checked("4.0.0")
    assert not sdk_version_checked("dev")
