"""The dynamic-provider plugin ends when the Pulumi engine that started it does.

The engine starts every plugin with a pipe on its stdin and keeps the write end open for
the plugin's whole life, closing it only by ending (sdk/go/common/resource/plugin/plugin.go,
execPlugin: ``cmd.StdinPipe()``, kept as ``Plugin.Stdin``). When the engine is killed
(``kill -9`` of ``pulumi up``), nobody stops ``python -m pulumi.dynamic``: it would keep
serving an engine that is gone, and keep the provider's clients and polls alive, for ever.
So, inside the plugin, a daemon thread reads stdin; at end of file the engine has ended and
the plugin process exits. Whatever MMS operation a hook was waiting on goes on in MMS; the
next ``pulumi up`` adopts what it made (see the Image and Service providers).
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import threading
from collections.abc import Callable

PLUGIN_MODULE = "pulumi.dynamic.__main__"
ENGINE_GONE = "mms: the Pulumi engine that started this plugin has ended; the plugin exits"

_started = threading.Event()
_lock = threading.Lock()


def is_plugin_process() -> bool:
    """Whether this process is the dynamic-provider plugin (``python -m pulumi.dynamic``)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", None) == PLUGIN_MODULE


def stdin_is_engine_pipe(mode: int) -> bool:
    """Whether a stdin of this ``st_mode`` is the pipe the engine holds (a FIFO); a terminal,
    a file or ``/dev/null`` says nothing about the engine."""
    return stat.S_ISFIFO(mode)


def watch_until_closed(read: Callable[[], bytes], on_closed: Callable[[], None]) -> None:
    """Read until end of file (or a read error: the pipe is as good as closed), then call
    ``on_closed``."""
    try:
        while read():
            pass
    except OSError:
        pass
    on_closed()


def _exit_now() -> None:
    with contextlib.suppress(OSError, ValueError):  # stderr's reader was the engine, too
        print(ENGINE_GONE, file=sys.stderr, flush=True)
    os._exit(0)


def start_engine_lifeline() -> bool:
    """Start the watch once, inside the plugin only; whether it runs (now or already)."""
    if _started.is_set():
        return True
    with _lock:
        if _started.is_set():
            return True
        if not is_plugin_process():
            return False
        try:
            mode = os.fstat(0).st_mode
        except OSError:
            return False
        if not stdin_is_engine_pipe(mode):
            return False
        threading.Thread(
            target=watch_until_closed,
            args=(lambda: os.read(0, 4096), _exit_now),
            name="mms-engine-lifeline",
            daemon=True,
        ).start()
        _started.set()
        return True
