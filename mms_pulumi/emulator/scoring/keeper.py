"""The keeper: the first process of every scoring process, which runs no driver code.

A driver is user code: its ``init()`` may hang, and it may start processes that double-fork
and ``setsid()`` to leave its process group. So the process the emulator starts and records
is a keeper that only does this:

- it becomes a *child subreaper* (Linux ``PR_SET_CHILD_SUBREAPER``) before anything else,
  so every process its worker starts stays its descendant however it forks, and the
  emulator's ``children(recursive=True)`` of the recorded process finds them all;
- it forks the worker, which loads the driver and serves; the keeper watches the emulator
  from before the first line of driver code, in a process the driver cannot stall;
- when the worker exits, when it is told to stop (SIGTERM), or when the emulator is gone
  (``getppid()`` changes, as it does even after ``kill -9``), it stops the worker and then
  every descendant left, and exits with the worker's status.

Elsewhere than Linux there is no subreaper: descendants that leave the process group can
outlive the service there.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from types import FrameType

import psutil

PR_SET_CHILD_SUBREAPER = 36
PARENT_CHECK_SECONDS = 0.2
WORKER_GRACE_SECONDS = 10.0  # to drain in-flight requests, as a container's stop would
LEFTOVER_GRACE_SECONDS = 2.0
EXIT_KEEPER_FAILED = 4


def become_subreaper() -> bool:
    """Make orphaned descendants of this process its children (Linux); whether it took."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def stop_tree(root: psutil.Process, *, include_root: bool, grace: float) -> None:
    """SIGTERM every descendant of ``root`` (and ``root`` if asked), SIGKILL what is left
    after ``grace``; the tree is frozen (SIGSTOP) before the kill, round after round until
    no new process appears, so a process forking as fast as it can is caught too."""
    members = _tree(root, include_root)
    for member in members:
        with contextlib.suppress(psutil.Error):
            member.terminate()
    alive = _wait_gone(members, grace)
    if not alive and not _tree(root, include_root):
        return
    frozen: dict[int, psutil.Process] = {}
    for _ in range(100):
        new = [m for m in _tree(root, include_root) if m.pid not in frozen]
        if not new:
            break
        for member in new:
            with contextlib.suppress(psutil.Error):
                member.suspend()
            frozen[member.pid] = member
    for member in frozen.values():
        with contextlib.suppress(psutil.Error):
            member.kill()
    _wait_gone(list(frozen.values()), 5.0)


def _wait_gone(members: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every member has exited; those still running after ``timeout``.

    A zombie counts as gone: where PID 1 does not reap orphans (some containers), an
    exited process whose parent is gone stays a zombie for good.
    """
    deadline = time.monotonic() + timeout
    while True:
        alive = [member for member in members if _running(member)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.02)


def _running(process: psutil.Process) -> bool:
    try:
        if process.status() != psutil.STATUS_ZOMBIE:
            return True
    except psutil.Error:
        return False
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(process.pid, os.WNOHANG)  # our own child: reap it
    return False


def _tree(root: psutil.Process, include_root: bool) -> list[psutil.Process]:
    try:
        found: list[psutil.Process] = list(root.children(recursive=True))
    except psutil.Error:
        found = []
    return ([root] if include_root and _running(root) else []) + found


def watch_parent(parent_pid: int, gone: Callable[[], None], *, name: str) -> None:
    """Call ``gone`` on a daemon thread once ``parent_pid`` is no longer this process's
    parent: the process is re-parented when its parent dies, even by ``kill -9``."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        gone()

    threading.Thread(target=watch, name=name, daemon=True).start()


def keep(run: Callable[[], int], parent_pid: int | None, *, worker_only: Sequence[int] = ()) -> int:
    """Run ``run`` in a forked worker under this keeper; the worker's exit status. The
    descriptors ``worker_only`` are closed here once forked: the worker alone holds them
    (so the emulator sees its link close the moment the worker exits).

    Call it before any thread is started: the fork copies only the calling thread.
    """
    become_subreaper()
    worker = os.fork()
    if worker == 0:  # the worker: the driver runs here
        code = 1
        try:
            code = run()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    for descriptor in worker_only:
        with contextlib.suppress(OSError):
            os.close(descriptor)
    return _watch(worker, parent_pid)


def _watch(worker: int, parent_pid: int | None) -> int:
    stopping = threading.Event()

    def stop(_signum: int = 0, _frame: FrameType | None = None) -> None:
        if stopping.is_set():
            return
        stopping.set()
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, signal.SIGTERM)

        def escalate() -> None:
            time.sleep(WORKER_GRACE_SECONDS)
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)

        threading.Thread(target=escalate, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if parent_pid is not None:

        def emulator_gone() -> None:
            print("the emulator is gone; stopping", file=sys.stderr, flush=True)
            stop()

        watch_parent(parent_pid, emulator_gone, name="watch-emulator")
    status = _reap_until(worker)
    stop_tree(psutil.Process(), include_root=False, grace=LEFTOVER_GRACE_SECONDS)
    _reap_all()
    return status


def _reap_until(worker: int) -> int:
    """Reap children (orphans reparented here included) until the worker exits; its code."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return EXIT_KEEPER_FAILED  # not reached: the worker is our child until reaped
        if pid == worker:
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else 128 - code  # killed by a signal, as a shell says


def _reap_all() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] != 0:
            pass
