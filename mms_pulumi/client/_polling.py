"""Waiting on MMS async operations: the pure poll schedule and the poller."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from mms_pulumi.client import _defaults
from mms_pulumi.errors import OperationFailedError, OperationTimeoutError
from mms_pulumi.schema import Operation, OperationState

T = TypeVar("T")

# progress(old_state, new_state, operation) is called on every observed state change.
Progress = Callable[[OperationState | None, OperationState, Operation], None]


@dataclass(frozen=True)
class PollSchedule:
    """When to look again: soon at first, then a fraction of the time already waited."""

    first: float = _defaults.FIRST_POLL_DELAY
    fraction: float = _defaults.POLL_ELAPSED_FRACTION
    interval: float = _defaults.POLLING_INTERVAL

    def next_delay(
        self, elapsed: float, *, retry_after: float | None = None, remaining: float | None = None
    ) -> float:
        """Seconds until the next check; honours ``Retry-After`` but never the deadline."""
        delay = min(max(self.first, self.fraction * elapsed), self.interval)
        if retry_after is not None:
            delay = max(delay, retry_after)
        if remaining is not None:
            delay = min(delay, max(0.0, remaining))
        return delay

    def worst_noticing_delay(self, duration: float) -> float:
        """The longest an operation of ``duration`` seconds can be finished unnoticed."""
        return min(max(self.first, self.fraction * duration), self.interval)


@dataclass(frozen=True)
class Observation:
    """One look at an operation: its state, the full record when there is one, Retry-After."""

    state: OperationState
    operation: Operation
    retry_after: float | None = None


class OperationPoller(Generic[T]):
    """Waits on one MMS async operation and returns the resource it produced.

    ``operation_id`` is known as soon as the poller exists, so a caller can record it and
    resume later with ``MmsClient.resume_image_operation`` / ``resume_service_operation``.
    """

    def __init__(
        self,
        operation_id: str,
        *,
        what: str,
        observe: Callable[[], Observation],
        fetch: Callable[[Operation], T],
        schedule: PollSchedule,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._operation_id = operation_id
        self._what = what
        self._observe = observe
        self._fetch = fetch
        self._schedule = schedule
        self._clock = clock
        self._sleep = sleep
        self._started = clock()
        self._last: Observation | None = None
        self._result: T | None = None

    @property
    def operation_id(self) -> str:
        """Id of the MMS operation (or of the resource, when adopted without one)."""
        return self._operation_id

    def status(self) -> Operation:
        """Look once at the operation now."""
        self._last = self._observe()
        return self._last.operation

    def done(self) -> bool:
        """Whether the operation has reached a terminal state (looks once)."""
        return self.status().state.is_terminal

    def result(self, timeout: float | None = None, progress: Progress | None = None) -> T:
        """Wait for the operation and return the finished resource.

        Raises ``OperationFailedError`` (Failed or Cancelled, with the service's error) or
        ``OperationTimeoutError`` (carrying the operation id and last state) after
        ``timeout`` seconds (default: 30 minutes).
        """
        if self._result is not None:
            return self._result
        limit = _defaults.OPERATION_TIMEOUT if timeout is None else timeout
        deadline = self._clock() + limit
        previous: OperationState | None = None
        while True:
            observation = self._observe()
            self._last = observation
            if observation.state is not previous and progress is not None:
                progress(previous, observation.state, observation.operation)
            previous = observation.state
            if observation.state is OperationState.SUCCEEDED:
                self._result = self._fetch(observation.operation)
                return self._result
            if observation.state.is_terminal:
                raise OperationFailedError(observation.operation, what=self._what)
            now = self._clock()
            remaining = deadline - now
            if remaining <= 0:
                raise OperationTimeoutError(
                    self._operation_id, observation.state, now - self._started, what=self._what
                )
            self._sleep(
                self._schedule.next_delay(
                    now - self._started, retry_after=observation.retry_after, remaining=remaining
                )
            )
