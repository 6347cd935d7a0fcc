"""Widening the dynamic-provider plugin's 4-thread gRPC pool, safely and on request.

``python -m pulumi.dynamic`` serves every dynamic resource of a deployment with
``ThreadPoolExecutor(max_workers=4)``: a fifth long create (an image build, a service
deployment) waits for one of the first four to finish, and so does every Check and Diff
behind it. Our hooks spend that time waiting on MMS, not computing, so more threads help.

When the provider is first configured inside the plugin, this finds that executor and
raises its limit. It only acts when all of these hold: the process is the plugin
(``pulumi.dynamic.__main__``), ``MMS_PULUMI_PLUGIN_WORKERS`` is not ``0``, the SDK is a
release whose plugin was read (below), the executor has the private fields this code
touches, and exactly one executor with the plugin's limit of 4 exists. Where the plugin
is not the one read, or anything is a surprise, the stock pool stays and the plugin prints
one line saying why: widening is an optimisation, never a reason for a deployment to fail.

Read: ``sdk/python/lib/pulumi/dynamic/__main__.py`` of pulumi 3.216.0 to 3.272.0 (the
release tags of pulumi/pulumi up to v3.259.0 and the published wheels from 3.260.0 to
3.272.0) builds its server with exactly one ``futures.ThreadPoolExecutor(max_workers=4)``.
Set ``MMS_PULUMI_PLUGIN_WORKERS=N`` to choose the width (default 32).
"""

from __future__ import annotations

import gc
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from mms_pulumi.resources._lifeline import is_plugin_process

WORKERS_ENV = "MMS_PULUMI_PLUGIN_WORKERS"
DEFAULT_WORKERS = 32
PLUGIN_WORKERS = 4
# Python SDK releases whose dynamic servicer was read and found to build its gRPC server on
# a plain ThreadPoolExecutor(max_workers=4).
CHECKED_SDK_MAJOR = 3
CHECKED_SDK_MINORS = range(216, 273)
# CPython's ThreadPoolExecutor internals that ``start_workers`` uses.
POOL_FIELDS = ("_max_workers", "_threads", "_idle_semaphore", "_adjust_thread_count")
KEPT = "mms: kept the plugin's 4 worker threads"

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
        if workers <= PLUGIN_WORKERS or not is_plugin_process():
            return None
        from pulumi._version import version

        pools = [
            obj
            for obj in gc.get_objects()
            if isinstance(obj, ThreadPoolExecutor)
            and getattr(obj, "_max_workers", None) == PLUGIN_WORKERS
        ]
        reason = refusal(str(version), pools)
        if reason is None:
            try:
                start_workers(pools[0], workers)
                return workers
            except Exception as err:  # any surprise: the stock pool, as it was
                reason = f"widening failed ({type(err).__name__}: {err})"
        print(f"{KEPT}: {reason} (MMS_PULUMI_PLUGIN_WORKERS=0 silences this)", flush=True)
        return None


def refusal(version: str, pools: list[ThreadPoolExecutor]) -> str | None:
    """Why the pool must not be widened, or None when it may (a pure decision)."""
    if not sdk_version_checked(version):
        first, last = CHECKED_SDK_MINORS[0], CHECKED_SDK_MINORS[-1]
        return (
            f"pulumi {version} is not one of the SDK releases whose plugin this version of "
            f"mms-pulumi was checked against ({CHECKED_SDK_MAJOR}.{first} to "
            f"{CHECKED_SDK_MAJOR}.{last})"
        )
    if len(pools) != 1:
        return f"expected one 4-thread executor in the plugin, found {len(pools)}"
    missing = [name for name in POOL_FIELDS if not hasattr(pools[0], name)]
    if missing:
        return f"this Python's ThreadPoolExecutor lacks {', '.join(missing)}"
    return None


def start_workers(pool: ThreadPoolExecutor, workers: int) -> None:
    """Raise a pool's limit and start its threads now.

    CPython starts a new worker only when its idle semaphore is empty, and that semaphore
    counts finished tasks rather than idle threads, so a pool that has already served a
    few calls would never grow past its first threads by itself.
    """
    limit = pool._max_workers
    pool._max_workers = workers
    try:
        _start(pool, workers)
    except BaseException:
        pool._max_workers = limit
        raise


def _start(pool: ThreadPoolExecutor, workers: int) -> None:
    while len(pool._threads) < workers:
        while pool._idle_semaphore.acquire(timeout=0):
            pass
        before = len(pool._threads)
        pool._adjust_thread_count()
        if len(pool._threads) == before:
            break
