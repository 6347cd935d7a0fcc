"""Live services: which scoring process serves each service, switching and supervising them.

The route table is what each service's scoring port (``ports``) and the emulator's own
scoring road read. An update starts the new backend first, switches the route once it is
ready, then stops the old one after a short grace (it finishes the calls it has), so a
client calling the scoring URI throughout sees no failed request.

A supervisor restarts a routed backend that exits (a driver crash, an out-of-memory kill)
with exponential backoff; meanwhile ``status`` says ``restarting``, and ``failed`` once
several restarts in a row have failed (it keeps trying at the longest interval).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from mms_pulumi.emulator.ports import ScoringPorts
from mms_pulumi.emulator.replicas import Replica
from mms_pulumi.emulator.runtime import (
    Backend,
    BackendError,
    ProcessIdentity,
    start_backend,
    stop_identity,
    stop_process,
)
from mms_pulumi.emulator.settings import EmulatorSettings
from mms_pulumi.emulator.store import Store

# Requests already sent to the old backend get this long to reach it before it is stopped
# (it then drains whatever it accepted).
SWITCH_GRACE_SECONDS = 0.5
SUPERVISE_SECONDS = 0.25
RESTART_FIRST_DELAY = 0.5
RESTART_MAX_DELAY = 30.0
# Failed restarts in a row after which a service reports Failed (it keeps being retried).
RESTARTS_BEFORE_FAILED = 5
STOP_JOIN_SECONDS = 15.0

logger = logging.getLogger("mms_pulumi.emulator")


# How much of a service's log the control route and the console show: its end.
LOG_TAIL_BYTES = 64 * 1024


class Health(Enum):
    """How a service's scoring process is doing."""

    SERVING = "serving"
    RESTARTING = "restarting"
    FAILED = "failed"


def restart_delay(failures: int) -> float:
    """Seconds before the next restart after ``failures`` failed ones: 0.5, 1, 2 … 30."""
    return min(RESTART_MAX_DELAY, RESTART_FIRST_DELAY * float(2 ** min(failures, 16)))


@dataclass(frozen=True)
class Spec:
    """How to start a service's scoring process again."""

    name: str
    bundle: Path
    driver: str


@dataclass(frozen=True)
class ReplicaView:
    """One replica of a service as the console shows it."""

    index: int
    pid: int
    port: int | None  # the service's scoring port, which every replica serves
    started_at: float
    alive: bool
    failed_restarts: int


@dataclass
class Restarts:
    """A service whose scoring process exited: failed restarts so far, the next attempt."""

    failures: int = 0
    next_at: float = 0.0


class ServiceHost:
    """Scoring processes of one emulator instance: each service has a set of replicas
    (one unless 2017-09 ``numReplicas`` asks for more) served round robin.

    Every process started is recorded in the store the moment it exists and forgotten only
    once stopped, and is known here from start to stop, routed or not: a service's stop
    (its delete) reaches the processes an update is still starting, and a service once
    stopped gets no new process, so a delete racing an update leaves nothing running.
    """

    def __init__(self, store: Store, settings: EmulatorSettings) -> None:
        self._store = store
        self._settings = settings
        self._logs_dir = settings.logs_dir
        # Each service's scoring port, handing its connections to the replicas routed.
        self.ports = ScoringPorts(settings.host, self.replica_of, self._hung)
        self.ports.start()
        self._lock = threading.Lock()
        self._routes: dict[str, list[Backend]] = {}
        self._turn: dict[str, int] = {}
        self._specs: dict[int, Spec] = {}  # by backend pid, until routed
        self._starting: dict[ProcessIdentity, str] = {}  # → service: not healthy yet
        self._unrouted: dict[str, list[Backend]] = {}  # started, not (yet) routed
        self._deleted: set[str] = set()  # services stopped for good: no new processes
        self._service_specs: dict[str, Spec] = {}
        self._restarts: dict[tuple[str, int], Restarts] = {}  # (service, replica index)
        self._stopping: list[threading.Thread] = []
        self._halt = threading.Event()
        self._supervisor: threading.Thread | None = None

    def replica_of(self, service_id: str) -> Replica | None:
        """The replica to send the next request to (round robin over the live ones), or
        ``None`` when none is serving."""
        with self._lock:
            live = [b for b in self._routes.get(service_id, []) if b.alive()]
            if not live:
                return None
            turn = self._turn.get(service_id, 0)
            self._turn[service_id] = turn + 1
            return live[turn % len(live)].replica

    def _hung(self, replica: Replica) -> None:
        """Kill a replica whose driver hangs (its call was answered 504): the supervisor
        starts it again. Off the scoring ports' thread, which must not wait."""
        with self._lock:
            found = [b for group in self._routes.values() for b in group if b.replica is replica]
        for backend in found:
            threading.Thread(
                target=stop_identity,
                args=(backend.identity,),
                kwargs={"grace": 0.5},
                name="stop-hung-backend",
                daemon=True,
            ).start()

    def replica_count(self, service_id: str) -> int:
        """How many scoring processes the service has (live or being restarted)."""
        with self._lock:
            return len(self._routes.get(service_id, []))

    def status(self, service_id: str) -> Health | None:
        """How the service's scoring processes are doing; ``None`` when it has none. It
        serves while any replica does."""
        with self._lock:
            backends = list(self._routes.get(service_id, []))
            failures = [
                restarts.failures
                for (service, _), restarts in self._restarts.items()
                if service == service_id
            ]
        if not backends:
            return None
        if any(backend.alive() for backend in backends):
            return Health.SERVING
        if failures and min(failures) >= RESTARTS_BEFORE_FAILED:
            return Health.FAILED
        return Health.RESTARTING

    def replicas_view(self, service_id: str) -> list[ReplicaView]:
        """Every replica of the service: process, port, whether it runs, failed restarts."""
        with self._lock:
            backends = list(self._routes.get(service_id, []))
            failures = {
                index: restarts.failures
                for (service, index), restarts in self._restarts.items()
                if service == service_id
            }
        port = self.ports.port(service_id)
        return [
            ReplicaView(
                index=index,
                pid=backend.pid,
                port=port,
                started_at=backend.started_at,
                alive=backend.alive(),
                failed_restarts=failures.get(index, 0),
            )
            for index, backend in enumerate(backends)
        ]

    def log_tail(self, service_id: str, max_bytes: int = LOG_TAIL_BYTES) -> str:
        """The end of the service's log, at most ``max_bytes`` (empty when it has none)."""
        path = self.log_path(service_id)
        try:
            with path.open("rb") as log:
                log.seek(max(0, path.stat().st_size - max_bytes))
                return log.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_path(self, service_id: str) -> Path:
        """The service's log: its scoring processes' output, the driver's prints included."""
        return self._logs_dir / f"{service_id}.log"

    def start(self, service_id: str, name: str, bundle: Path, driver: str) -> Backend:
        """Start (but do not route to) a backend for a service; raises ``BackendError``."""
        with self._lock:
            refused = self._refuses(service_id)
        if refused:
            raise BackendError("the service was deleted or the emulator is stopping")
        started: list[ProcessIdentity] = []

        def record(identity: ProcessIdentity) -> None:
            self._store.add_process(service_id, identity.pid, identity.created)
            started.append(identity)
            with self._lock:
                self._starting[identity] = service_id
                refused = self._refuses(service_id)
            if refused:  # stopped meanwhile: the start fails
                self._stop_identity(identity)

        # The replica checks keys itself, from the store: a service from before keys gets
        # them now, as its first call would have made them.
        self._store.keys_made(service_id)
        try:
            backend = start_backend(
                bundle,
                driver,
                name,
                self.log_path(service_id),
                self._settings.for_replica(service_id),
                on_started=record,
            )
        finally:
            with self._lock:
                for identity in started:
                    self._starting.pop(identity, None)
        with self._lock:
            refused = self._refuses(service_id)
            if not refused:
                self._specs[backend.pid] = Spec(name, bundle, driver)
                self._unrouted.setdefault(service_id, []).append(backend)
        if refused:  # deleted, or the emulator began to stop, while this process started
            self._stop_backend(backend)
            raise BackendError("the service was deleted or the emulator is stopping")
        self.ports.watch(service_id, backend.replica)
        return backend

    def _refuses(self, service_id: str) -> bool:
        """Whether no new process may run for the service (deleted, or the emulator stops);
        lock held."""
        return service_id in self._deleted or self._halt.is_set()

    def start_replicas(
        self, service_id: str, name: str, bundle: Path, driver: str, count: int
    ) -> list[Backend]:
        """Start ``count`` backends (at least one); all or none (``BackendError``)."""
        started: list[Backend] = []
        try:
            for _ in range(max(1, count)):
                started.append(self.start(service_id, name, bundle, driver))
        except BaseException:
            for backend in started:
                self.discard(backend)
            raise
        return started

    def supervise(self) -> None:
        """Start restarting routed backends that exit (once; stopped by ``stop_all``)."""
        if self._supervisor is None:
            self._supervisor = threading.Thread(
                target=self._supervise, name="supervise-services", daemon=True
            )
            self._supervisor.start()

    def _supervise(self) -> None:
        while not self._halt.wait(SUPERVISE_SECONDS):
            try:
                self._restart_exited(time.monotonic())
            except Exception:  # keep supervising the others; log this one
                logger.exception("service supervision failed")

    def _restart_exited(self, now: float) -> None:
        with self._lock:
            exited = [
                (service_id, index, self._service_specs.get(service_id))
                for service_id, backends in self._routes.items()
                for index, backend in enumerate(backends)
                if not backend.alive()
            ]
        for service_id, index, spec in exited:
            key = (service_id, index)
            with self._lock:
                restarts = self._restarts.setdefault(key, Restarts(next_at=now))
            if spec is None or now < restarts.next_at or self._halt.is_set():
                continue
            if restarts.failures == 0:
                logger.warning("service %s: a scoring process exited; restarting", service_id)
            try:
                backend = self.start(service_id, spec.name, spec.bundle, spec.driver)
            except BackendError as err:
                restarts.failures += 1
                restarts.next_at = time.monotonic() + restart_delay(restarts.failures)
                logger.warning(
                    "service %s: restart %d failed: %s", service_id, restarts.failures, err
                )
                continue
            with self._lock:
                backends = self._routes.get(service_id)
                replaced = backends is not None and index < len(backends)
                if replaced and backends is not None:
                    backends[index] = backend
                self._forget_unrouted(service_id, backend)
                self._restarts.pop(key, None)
            if replaced:
                self._record(service_id)
            else:  # deleted or rolled meanwhile
                self._stop_backend(backend)

    def route(self, service_id: str, backends: Backend | list[Backend]) -> None:
        """Send the service's traffic to ``backends``; the previous ones are stopped after a
        grace."""
        new = [backends] if isinstance(backends, Backend) else list(backends)
        with self._lock:
            deleted = service_id in self._deleted
            previous = [] if deleted else self._routes.get(service_id, [])
            if not deleted:
                self._routes[service_id] = new
            for backend in new:
                spec = self._forget_unrouted(service_id, backend)
                if spec is not None and not deleted:
                    self._service_specs[service_id] = spec
            for key in [k for k in self._restarts if k[0] == service_id]:
                del self._restarts[key]
        if deleted:  # the service was deleted while these started
            for backend in new:
                self._stop_backend(backend)
            return
        recorded = self._store.replicas().get(service_id, [])
        self.ports.open(service_id, preferred=recorded[0][1] if recorded else None)
        with self._lock:
            deleted = service_id in self._deleted
        if deleted:  # its delete ran while the port opened: it found none to close
            self.ports.close(service_id)
            return
        self._record(service_id)
        for old in previous:
            if old not in new:
                self._retire(old)

    def _record(self, service_id: str) -> None:
        with self._lock:
            backends = list(self._routes.get(service_id, []))
        # Each row keeps the service's port, so a restarted emulator opens the same one.
        port = self.ports.port(service_id) or 0
        self._store.set_replicas(service_id, [(b.pid, port, b.identity.created) for b in backends])

    def discard(self, backend: Backend) -> None:
        """Stop a backend that never served (a failed update)."""
        with self._lock:
            for service_id, started in self._unrouted.items():
                if backend in started:
                    self._forget_unrouted(service_id, backend)
                    break
        self._stop_backend(backend)

    def _forget_unrouted(self, service_id: str, backend: Backend) -> Spec | None:
        """Drop a backend from the started-not-routed ones (lock held); its spec."""
        started = self._unrouted.get(service_id, [])
        if backend in started:
            started.remove(backend)
        if not started:
            self._unrouted.pop(service_id, None)
        return self._specs.pop(backend.pid, None)

    def _stop_backend(self, backend: Backend) -> None:
        stop_process(backend.process)
        self._store.remove_process(backend.identity.pid, backend.identity.created)

    def _stop_identity(self, identity: ProcessIdentity) -> None:
        """Stop a process still starting (its ``start`` then fails)."""
        stop_identity(identity, grace=1.0)
        self._store.remove_process(identity.pid, identity.created)

    def _take_starting(self, service_id: str | None) -> list[ProcessIdentity]:
        """Processes of the service (of every one, for ``None``) still starting; lock held."""
        return [i for i, s in self._starting.items() if service_id is None or s == service_id]

    def service_ids(self) -> list[str]:
        """Every service with a process here, routed or still starting."""
        with self._lock:
            return sorted(set(self._routes) | set(self._unrouted))

    def stop(self, service_id: str) -> None:
        """Stop a service for good (its delete): its routed backends, the ones an update is
        still starting, and any it would start later."""
        with self._lock:
            self._deleted.add(service_id)
            starting = self._take_starting(service_id)
            backends = self._routes.pop(service_id, []) + self._unrouted.pop(service_id, [])
            for backend in backends:
                self._specs.pop(backend.pid, None)
            self._service_specs.pop(service_id, None)
            self._turn.pop(service_id, None)
            for key in [k for k in self._restarts if k[0] == service_id]:
                del self._restarts[key]
        self.ports.close(service_id)
        for identity in starting:
            self._stop_identity(identity)
        for backend in backends:
            self._stop_backend(backend)
        self._store.clear_replicas(service_id)

    def stop_stale(self) -> None:
        """Stop scoring processes an earlier emulator process left running (after a crash):
        every one recorded, routed or not, with all its descendants; only the recorded
        processes themselves, never a program that now has the same pid."""
        recorded = {(pid, created) for _service, pid, created in self._store.processes()}
        for processes in self._store.replicas().values():
            recorded |= {(pid, created) for pid, _port, created in processes}
        for pid, created in sorted(recorded):
            stop_identity(ProcessIdentity(pid, created), grace=2.0)
            self._store.remove_process(pid, created)

    def stop_all(self) -> None:
        """Stop every backend (emulator shutdown), those still starting first, so work
        waiting on them ends; recorded ones restart with the emulator."""
        with self._lock:
            self._halt.set()
            starting = self._take_starting(None)
        for identity in starting:
            self._stop_identity(identity)
        if self._supervisor is not None:
            self._supervisor.join(timeout=STOP_JOIN_SECONDS)
        with self._lock:
            groups = [*self._routes.values(), *self._unrouted.values()]
            backends = [b for group in groups for b in group]
            self._routes.clear()
            self._unrouted.clear()
            retiring = list(self._stopping)
        for backend in backends:
            self._stop_backend(backend)
        for thread in retiring:
            thread.join(timeout=STOP_JOIN_SECONDS)
        self.ports.stop()

    def _retire(self, backend: Backend) -> None:
        def retire() -> None:
            time.sleep(SWITCH_GRACE_SECONDS)
            self._stop_backend(backend)

        thread = threading.Thread(target=retire, name="retire-backend", daemon=True)
        with self._lock:
            self._stopping = [t for t in self._stopping if t.is_alive()] + [thread]
        thread.start()
