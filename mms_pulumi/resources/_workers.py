"""Widening the dynamic-provider plugin's 4-thread gRPC pool, safely and on request.

``python -m pulumi.dynamic`` serves every dynamic resource of a deployment with
``ThreadPoolExecutor(max_workers=4)``: a fifth long create (an image build, a service
deployment) waits for one of the first four to finish, and so does every Check and Diff
behind it. Our hooks spend that time waiting on MMS, not computing, so more threads help.

When the provider is first configured inside the plugin, this finds that executor and
raises its limit. It only acts when all of these hold, and otherwise leaves the plugin as
it is: the process is the plugin (``pulumi.dynamic.__main__``), the SDK version is one
whose servicer was checked to use a plain ``ThreadPoolExecutor``, exactly one such
executor with the plugin's limit of 4 exists, and ``MMS_PULUMI_PLUGIN_WORKERS`` is not
``0``. Set ``MMS_PULUMI_PLUGIN_WORKERS=N`` to choose the width (default 32).
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

WORKERS_ENV = "MMS_PULUMI_PLUGIN_WORKERS"
DEFAULT_WORKERS = 32
PLUGIN_WORKERS = 4
# Python SDK releases whose dynamic servicer was read and found to build its gRPC server on
# a plain ThreadPoolExecutor(max_workers=4).
CHECKED_SDK_MAJOR = 3
CHECKED_SDK_MINORS = range(100, 400)

_done = threading.Event()
_lock = threading.Lock()


def wanted_workers(environ: dict[str, str] | os._Environ[str]) -> int:
    """The width asked for: 0 turns widening off."""
    raw = environ.get(WORKERS_ENV, "").strip()
    if not raw:
        return DEFAULT_WORKERS
    try:
        return max(0, int(raw))
    except ValueError:
        return 0


def sdk_version_checked(version: str) -> bool:
    """Whether the installed SDK's plugin is one this code knows how to widen."""
    try:
        major, minor = (int(part) for part in version.split(".")[:2])
    except ValueError:
        return False
    return major == CHECKED_SDK_MAJOR and minor in CHECKED_SDK_MINORS


def widen_plugin_pool() -> int | None:
    """Raise the plugin's worker limit once; the new limit, or None when left alone."""
    if _done.is_set():
        return None
    with _lock:
        if _done.is_set():
            return None
        _done.set()
        workers = wanted_workers(os.environ)
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        if workers <= PLUGIN_WORKERS or getattr(spec, "name", None) != "pulumi.dynamic.__main__":
            return None
        from pulumi._version import version

        if not sdk_version_checked(str(version)):
            return None
        pools = [
            obj
            for obj in gc.get_objects()
            if isinstance(obj, ThreadPoolExecutor) and obj._max_workers == PLUGIN_WORKERS
        ]
        if len(pools) != 1:
            return None
        start_workers(pools[0], workers)
        return workers


def start_workers(pool: ThreadPoolExecutor, workers: int) -> None:
    """Raise a pool's limit and start its threads now.

    CPython starts a new worker only when its idle semaphore is empty, and that semaphore
    counts finished tasks rather than idle threads, so a pool that has already served a
    few calls would never grow past its first threads by itself.
    """
    pool._max_workers = workers
    while len(pool._threads) < workers:
        while pool._idle_semaphore.acquire(timeout=0):
            pass
        before = len(pool._threads)
        pool._adjust_thread_count()
        if len(pool._threads) == before:
            break
