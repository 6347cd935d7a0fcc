"""Async operations: created with a 202, moved NotStarted → Running → Succeeded/Failed.

An operation is a row; a runner thread drives every unfinished one, so an operation in
flight when the emulator stops completes after it restarts on the same data directory
(keeping its original deadline). The state shown never runs ahead of the work: an
operation ends at ``created + operation_seconds`` or when its work is done, whichever
is later.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from mms_pulumi.emulator.faults import FaultInjector
from mms_pulumi.emulator.store import OperationRecord, Store
from mms_pulumi.emulator.work import Outcome, Worker

logger = logging.getLogger("mms_pulumi.emulator")

# The share of an operation's time it spends NotStarted before it shows Running.
NOT_STARTED_SHARE = 0.1
TICK_SECONDS = 0.02


def iso(epoch: float) -> str:
    """Epoch seconds as ISO-8601 UTC, the form every timestamp takes on the wire."""
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    )


def start_due(record: OperationRecord, now: float) -> bool:
    """Whether a NotStarted operation should start its work now."""
    return now >= record.created + NOT_STARTED_SHARE * (record.not_before - record.created)


def finish_due(record: OperationRecord, now: float, work_done: bool) -> bool:
    """Whether an operation may reach its terminal state now."""
    return work_done and now >= record.not_before


def operation_body(record: OperationRecord) -> dict[str, Any]:
    """The operation as ``GET operations/{id}`` answers it."""
    body: dict[str, Any] = {
        "id": record.id,
        "operationType": record.operation_type,
        "resourceLocation": record.resource_location,
        "createdTime": iso(record.created),
        "endTime": iso(record.ended) if record.ended is not None else None,
        "state": record.state,
    }
    if record.error is not None:
        body["error"] = record.error
    return body


class OperationRunner:
    """Drives every unfinished operation to its end on a background thread."""

    def __init__(
        self,
        store: Store,
        worker: Worker,
        faults: FaultInjector,
        operation_seconds: float,
        *,
        clock: Callable[[], float] = time.time,
        workers: int = 8,
    ) -> None:
        self._store = store
        self._worker = worker
        self._faults = faults
        self._seconds = operation_seconds
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mms-work")
        self._inflight: dict[str, tuple[OperationRecord, Future[Outcome]]] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mms-operations", daemon=True)

    def start(self) -> None:
        """Begin driving operations (including ones left unfinished by an earlier run)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop driving; unfinished operations resume when the emulator starts again."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def create(
        self,
        scope: str,
        operation_type: str,
        action: str,
        resource_kind: str,
        resource_id: str,
        resource_location: str,
        payload: dict[str, Any] | None = None,
        *,
        base_path: str,
    ) -> OperationRecord:
        """Record a new operation (NotStarted) and return it."""
        now = self._clock()
        record = OperationRecord(
            id=str(uuid.uuid4()),
            scope=scope,
            operation_type=operation_type,
            action=action,
            resource_kind=resource_kind,
            resource_id=resource_id,
            resource_location=resource_location,
            created=now,
            not_before=now + self._seconds,
            payload=dict(payload or {}),
        )
        if self._faults.take_operation_failure():
            record.payload["inject_failure"] = True
        record.payload["base_path"] = base_path
        self._store.insert_operation(record)
        self._wake.set()
        return record

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # keep driving other operations; log this one
                logger.exception("operation runner tick failed")
            self._wake.wait(TICK_SECONDS)
            self._wake.clear()

    def _tick(self) -> None:
        now = self._clock()
        for stored in self._store.unfinished_operations():
            record, future = self._inflight.get(stored.id, (stored, None))
            if record.state == "NotStarted":
                if not start_due(record, now):
                    continue
                record.state = "Running"
                self._store.save_operation(record)
            if future is None:
                future = self._pool.submit(self._worker.run, record)
                self._inflight[record.id] = (record, future)
            if finish_due(record, now, future.done()):
                self._finish(record, future)

    def _finish(self, record: OperationRecord, future: Future[Outcome]) -> None:
        try:
            outcome = future.result()
        except Exception as err:  # a bug in the work itself must still end the operation
            logger.exception("operation %s crashed", record.id)
            outcome = Outcome(
                ok=False,
                error={
                    "code": "InternalError",
                    "message": f"The emulator failed while running the operation: {err}",
                    "statusCode": 500,
                    "details": [],
                },
            )
        now = self._clock()
        record.state = "Succeeded" if outcome.ok else "Failed"
        record.ended = now
        record.error = outcome.error
        record.payload.pop("pending_pid", None)
        body = self._worker.finish(record, outcome, iso(now))
        if body is None:
            self._store.save_operation(record)
        else:
            self._store.save_operation_and_object(
                record, record.resource_kind, record.resource_id, body
            )
        self._inflight.pop(record.id, None)
