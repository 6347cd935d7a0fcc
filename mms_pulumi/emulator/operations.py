"""Async operations: created with a 202, moved NotStarted → Running → Succeeded/Failed.

An operation is a row; a runner thread drives every unfinished one, so an operation in
flight when the emulator stops completes after it restarts on the same data directory
(keeping its original deadline). The state shown never runs ahead of the work: an
operation ends at ``created + operation_seconds`` or when its work is done, whichever
is later.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from mms_pulumi.emulator.actions import Action, WorkPayload
from mms_pulumi.emulator.errors import error_body
from mms_pulumi.emulator.faults import FaultInjector
from mms_pulumi.emulator.store import OperationRecord, Store
from mms_pulumi.emulator.work import Outcome, Worker
from mms_pulumi.schema import ErrorBody, Operation, OperationState

logger = logging.getLogger("mms_pulumi.emulator")

# The share of an operation's time it spends NotStarted before it shows Running.
NOT_STARTED_SHARE = 0.1
TICK_SECONDS = 0.02


def utc(epoch: float) -> datetime:
    """Epoch seconds as an aware UTC datetime (the wire's ISO-8601 UTC once serialized)."""
    return datetime.fromtimestamp(epoch, UTC)


def start_due(record: OperationRecord, now: float) -> bool:
    """Whether a NotStarted operation should start its work now."""
    return now >= record.created + NOT_STARTED_SHARE * (record.not_before - record.created)


def finish_due(record: OperationRecord, now: float, work_done: bool) -> bool:
    """Whether an operation may reach its terminal state now."""
    return work_done and now >= record.not_before


def operation_body(record: OperationRecord) -> dict[str, Any]:
    """The operation as ``GET operations/{id}`` answers it (``endTime`` null until it ends)."""
    operation = Operation(
        id=record.id,
        state=record.state,
        operation_type=record.operation_type,
        resource_location=record.resource_location,
        created_time=utc(record.created),
        end_time=utc(record.ended) if record.ended is not None else None,
        error=ErrorBody.model_validate(record.error) if record.error is not None else None,
    )
    return operation.model_dump(
        mode="json", by_alias=True, exclude={"error"} if record.error is None else set()
    )


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
        # One pool per kind of work: image builds wait on downloads (a slow sender can hold
        # one for the whole download deadline), and they must not keep a service from
        # deploying or rolling.
        self._pools = {
            kind: ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"mms-{kind}")
            for kind in {action.resource_kind for action in Action}
        }
        self._inflight: dict[str, tuple[OperationRecord, Future[Outcome]]] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mms-operations", daemon=True)

    def start(self) -> None:
        """Begin driving operations (including ones left unfinished by an earlier run)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop driving: no operation finishes from now on, and work not begun never will;
        unfinished operations resume when the emulator starts again. ``join`` waits for the
        work already running."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)

    def join(self) -> None:
        """Wait for the work still running after ``stop`` (its outcome is not recorded)."""
        for pool in self._pools.values():
            pool.shutdown(wait=True)

    def new_operation(
        self,
        action: Action,
        scope: str,
        base_path: str,
        resource_id: str,
        payload: WorkPayload | None = None,
    ) -> OperationRecord:
        """A NotStarted operation, not stored yet: store it with its object, then ``wake()``.

        Taking the record here also takes one injected failure (``fail_next_operations``)
        when one is pending.
        """
        operation_type, resource_kind = action.operation_type, action.resource_kind
        now = self._clock()
        record = OperationRecord(
            id=str(uuid.uuid4()),
            scope=scope,
            operation_type=operation_type,
            action=action,
            resource_kind=resource_kind,
            resource_id=resource_id,
            resource_location=f"{base_path}/{resource_kind}/{resource_id}",
            created=now,
            not_before=now + self._seconds,
            payload=dataclasses.replace(
                payload or WorkPayload(),
                base_path=base_path,
                inject_failure=self._faults.take_operation_failure(),
            ),
        )
        return record

    def wake(self) -> None:
        """Look at operations now (one was just stored) rather than at the next tick."""
        self._wake.set()

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
        unfinished = self._store.unfinished_operations()
        # Operations removed under us (``/_emulator/reset``) are forgotten once their work ends.
        present = {record.id for record in unfinished}
        for gone in [i for i, (_, f) in self._inflight.items() if i not in present and f.done()]:
            del self._inflight[gone]
        for stored in unfinished:
            record, future = self._inflight.get(stored.id, (stored, None))
            if record.state == OperationState.NOT_STARTED:
                if not start_due(record, now):
                    continue
                record.move_to(OperationState.RUNNING)
                self._store.save_operation(record)
            if future is None:
                future = self._pools[record.resource_kind].submit(self._worker.run, record)
                self._inflight[record.id] = (record, future)
            held = self._faults.holding_operations(record.resource_kind)
            if finish_due(record, now, future.done()) and not held:
                self._finish(record, future)

    def _finish(self, record: OperationRecord, future: Future[Outcome]) -> None:
        try:
            outcome = future.result()
        except Exception as err:  # a bug in the work itself must still end the operation
            # The exception text stays in the log: it can name internal paths.
            logger.exception("operation %s crashed (%s)", record.id, type(err).__name__)
            outcome = Outcome(
                ok=False,
                error=error_body(
                    500,
                    "The emulator failed while running the operation (an internal error; "
                    f"its log names operation {record.id}).",
                    code="InternalError",
                ),
            )
        now = self._clock()
        record.move_to(OperationState.SUCCEEDED if outcome.ok else OperationState.FAILED)
        record.ended = now
        record.error = outcome.error
        body = self._worker.finish(record, outcome, utc(now))
        if body is None:
            self._store.save_operation(record)
        else:
            self._store.save_operation_and_object(
                record, record.resource_kind, record.resource_id, body
            )
        self._inflight.pop(record.id, None)
