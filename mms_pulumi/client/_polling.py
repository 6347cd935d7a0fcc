"""Waiting on MMS async operations: the pure poll schedule and the poller.

The schedule is a function of the time already waited: the first check comes ``floor``
seconds after the 202 and each later one ``floor + fraction * elapsed`` after the one
before, capped at ``interval``. Because the delay never shrinks as ``elapsed`` grows, an
operation that ends at ``d`` seconds is seen by ``d + next_delay(d)`` at the latest (the
last check before it, at ``t <= d``, schedules the next at ``t + next_delay(t)``), so the
noticing delay is bounded by ``next_delay(d)`` plus one request's round trip.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Generic, Protocol, TypeVar

from mms_pulumi.client import _defaults
from mms_pulumi.client._retry import DeadlineReached
from mms_pulumi.errors import OperationFailedError, OperationTimeoutError
from mms_pulumi.schema import Operation, OperationState

T = TypeVar("T")
R = TypeVar("R")

# progress(old_state, new_state, operation): called on every observed state change; the
# first observation of a wait reports ``None`` as the old state.
Progress = Callable[[OperationState | None, OperationState, Operation], None]


class Schedule(Protocol):
    """When a poller looks at an operation: ``floor`` seconds after the 202 first, then
    ``next_delay`` after each look that found it unfinished. ``PollSchedule`` is ours;
    ``benchmarks/peers.py`` has the other tools' strategies, driving the same poller."""

    @property
    def floor(self) -> float:
        """Seconds from the 202 to the first look."""
        ...

    def next_delay(
        self, elapsed: float, *, retry_after: float | None = None, remaining: float | None = None
    ) -> float:
        """Seconds until the next look, ``elapsed`` seconds after the poller started."""
        ...


@dataclass(frozen=True)
class PollSchedule:
    """When to look again: soon at first, then a small share of the time already waited."""

    floor: float = _defaults.POLL_FLOOR
    fraction: float = _defaults.POLL_ELAPSED_FRACTION
    interval: float = _defaults.POLLING_INTERVAL

    def next_delay(
        self, elapsed: float, *, retry_after: float | None = None, remaining: float | None = None
    ) -> float:
        """Seconds until the next check; honours ``Retry-After`` but never passes the deadline."""
        delay = min(self.interval, self.floor + self.fraction * max(0.0, elapsed))
        if retry_after is not None:
            delay = max(delay, retry_after)
        if remaining is not None:
            delay = min(delay, max(0.0, remaining))
        return max(0.0, delay)

    def worst_noticing_delay(self, duration: float) -> float:
        """The longest an operation of ``duration`` seconds can be finished unnoticed."""
        return self.next_delay(duration)

    def check_times(self, until: float) -> list[float]:
        """Seconds after the 202 at which the checks happen, up to the first at/after ``until``."""
        times = [self.next_delay(0.0)]
        while times[-1] < until:
            step = self.next_delay(times[-1])
            if step <= 0:
                break  # a zero interval (tests) checks back to back; there is no schedule
            times.append(times[-1] + step)
        return times


@dataclass(frozen=True)
class Observation:
    """One look at an operation: its record, the Retry-After it came with, its request ids."""

    operation: Operation
    retry_after: float | None = None
    request_id: str | None = None
    client_request_id: str | None = None

    @property
    def state(self) -> OperationState:
        """The operation's state at this look."""
        return self.operation.state


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
        observe: Callable[[float | None], Observation],
        get_result: Callable[[Operation, float | None], T],
        schedule: Schedule,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        check_at_once: bool = False,
    ) -> None:
        self._operation_id = operation_id
        self._what = what
        self._observe = observe
        self._get_result = get_result
        self._schedule = schedule
        self._monotonic = monotonic
        self._sleep = sleep
        self._started = monotonic()
        # Just after a 202 the operation has certainly not finished: the first look waits
        # a moment. A resumed operation may be long done: look at once.
        self._first_check = self._started + (0.0 if check_at_once else schedule.floor)
        self._last: Observation | None = None
        self._result: tuple[T] | None = None

    def __repr__(self) -> str:
        state = self._last.state.value if self._last else "not yet seen"
        return f"OperationPoller({self._what}, operation {self._operation_id}, {state})"

    @property
    def operation_id(self) -> str:
        """Id of the MMS operation (or of the resource, when following one without it)."""
        return self._operation_id

    @property
    def last_operation(self) -> Operation | None:
        """The operation as last seen, without asking MMS again."""
        return self._last.operation if self._last else None

    def status(self) -> Operation:
        """Look once at the operation now."""
        self._last = self._observe(None)
        return self._last.operation

    def done(self) -> bool:
        """Whether the operation has reached a terminal state (looks again unless it had)."""
        if self._last is not None and self._last.state.is_terminal:
            return True
        return self.status().state.is_terminal

    def result(self, timeout: float | None = None, progress: Progress | None = None) -> T:
        """Wait for the operation and return the finished resource.

        Raises ``OperationFailedError`` (Failed or Cancelled, with the service's error) or,
        once ``timeout`` seconds have passed (default 30 minutes), ``OperationTimeoutError``
        carrying the operation id and the last state seen; the operation goes on in MMS.
        """
        if self._result is not None:
            return self._result[0]
        began = self._monotonic()
        deadline = began + (_defaults.OPERATION_TIMEOUT if timeout is None else max(0.0, timeout))
        previous: OperationState | None = None
        wait = min(self._first_check - began, deadline - began)
        if self._last is not None and self._last.state.is_terminal:
            wait = 0.0
        while True:
            if wait > 0:
                self._sleep(wait)
            observation = self._look(deadline, began, previous)
            if observation.state is not previous and progress is not None:
                progress(previous, observation.state, observation.operation)
            previous = observation.state
            if observation.state is OperationState.SUCCEEDED:
                get = partial(self._get_result, observation.operation, deadline)
                self._result = (self._within(began, previous, get),)
                return self._result[0]
            if observation.state.is_terminal:
                raise OperationFailedError(
                    observation.operation,
                    what=self._what,
                    request_id=observation.request_id,
                    client_request_id=observation.client_request_id,
                )
            now = self._monotonic()
            remaining = deadline - now
            if remaining <= 0:
                raise self._timeout(now - began, observation.state)
            wait = self._schedule.next_delay(
                now - self._started, retry_after=observation.retry_after, remaining=remaining
            )

    def _look(self, deadline: float, began: float, previous: OperationState | None) -> Observation:
        if previous is None and self._last is not None and self._last.state.is_terminal:
            # status() or done() already saw the end: no need to ask again.
            return self._last
        self._last = self._within(began, previous, partial(self._observe, deadline))
        return self._last

    def _within(self, began: float, previous: OperationState | None, call: Callable[[], R]) -> R:
        """Make a request of the wait (which passes the deadline down to the transport).

        A request that kept failing until no retry fitted before the deadline is, for the
        caller, the deadline passing, not a new kind of failure.
        """
        try:
            return call()
        except DeadlineReached as reached:
            raise self._timeout(self._monotonic() - began, previous) from reached.error

    def _timeout(self, waited: float, state: OperationState | None) -> OperationTimeoutError:
        return OperationTimeoutError(
            self._operation_id,
            state,
            waited,
            what=self._what,
            last_operation=self.last_operation,
            request_id=self._last.request_id if self._last else None,
            client_request_id=self._last.client_request_id if self._last else None,
        )
