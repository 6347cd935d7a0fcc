"""Live services: which scoring process serves each service, and switching between them.

The route table is what the scoring proxy reads. An update starts the new backend first,
switches the route once it is healthy, then stops the old one after a short grace, so a
client calling the scoring URI throughout sees no failed request.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from mms_pulumi.emulator.runtime import (
    Backend,
    ProcessIdentity,
    start_backend,
    stop_identity,
    stop_process,
)
from mms_pulumi.emulator.store import Store

# Requests already sent to the old backend get this long to reach it before it is stopped
# (it then drains whatever it accepted).
SWITCH_GRACE_SECONDS = 0.5


class ServiceHost:
    """Scoring processes of one emulator instance."""

    def __init__(self, store: Store, logs_dir: Path) -> None:
        self._store = store
        self._logs_dir = logs_dir
        self._lock = threading.Lock()
        self._routes: dict[str, Backend] = {}
        self._stopping: list[threading.Thread] = []

    def port_of(self, service_id: str) -> int | None:
        """The port serving a service now, or ``None``."""
        with self._lock:
            backend = self._routes.get(service_id)
        return backend.port if backend is not None and backend.alive() else None

    def start(self, service_id: str, name: str, bundle: Path, driver: str) -> Backend:
        """Start (but do not route to) a backend for a service; raises ``BackendError``."""
        log = self._logs_dir / f"{service_id}.log"
        return start_backend(bundle, driver, name, log)

    def route(self, service_id: str, backend: Backend) -> None:
        """Send the service's traffic to ``backend``; the previous one is stopped after a grace."""
        with self._lock:
            previous = self._routes.get(service_id)
            self._routes[service_id] = backend
        self._store.set_backend(service_id, backend.pid, backend.port, backend.identity.created)
        if previous is not None and previous is not backend:
            self._retire(previous)

    def discard(self, backend: Backend) -> None:
        """Stop a backend that never served (a failed update)."""
        stop_process(backend.process)

    def stop(self, service_id: str) -> None:
        """Stop a service's backend (delete) and forget it."""
        with self._lock:
            backend = self._routes.pop(service_id, None)
        if backend is not None:
            stop_process(backend.process)
        self._store.clear_backend(service_id)

    def stop_stale(self) -> None:
        """Stop backends an earlier emulator process left running (after a crash): only
        the recorded processes themselves, never a program that now has the same pid."""
        for _service_id, (pid, _port, created) in self._store.backends().items():
            if created is not None:
                stop_identity(ProcessIdentity(pid, created), grace=2.0)

    def stop_all(self) -> None:
        """Stop every backend (emulator shutdown); recorded ones restart with the emulator."""
        with self._lock:
            backends = list(self._routes.values())
            self._routes.clear()
            retiring = list(self._stopping)
        for backend in backends:
            stop_process(backend.process)
        for thread in retiring:
            thread.join(timeout=15)

    def _retire(self, backend: Backend) -> None:
        def retire() -> None:
            time.sleep(SWITCH_GRACE_SECONDS)
            stop_process(backend.process)

        thread = threading.Thread(target=retire, name="retire-backend", daemon=True)
        with self._lock:
            self._stopping = [t for t in self._stopping if t.is_alive()] + [thread]
        thread.start()
