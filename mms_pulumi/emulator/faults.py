"""Fault injection for tests: throttling, unavailability, failed operations, slow answers.

Off by default. A fault answered instead of a request is decided before the request
touches the store, so an injected 429 or 503 on a POST provably had no effect.
"""

from __future__ import annotations

import math
import random
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

# The methods of the MMS API; faults apply to all of them unless ``methods`` narrows it.
ALL_METHODS = ("GET", "POST", "PUT", "DELETE")


@dataclass
class FaultSettings:
    """What to inject; rates are fractions of requests (0..1)."""

    throttle_rate: float = 0.0
    retry_after: float | None = None
    unavailable_rate: float = 0.0
    reset_before_rate: float = 0.0
    reset_after_rate: float = 0.0
    fail_next_operations: int = 0
    delay_seconds: float = 0.0
    # The kinds whose async operations must not finish for now: each stays NotStarted or
    # Running until its kind leaves the list (tests interrupt a client mid-operation
    # without racing a clock).
    hold_operations: list[str] = field(default_factory=list)
    seed: int | None = None
    methods: list[str] = field(default_factory=lambda: list(ALL_METHODS))

    def to_json(self) -> dict[str, Any]:
        """The settings as the control endpoint shows them."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultSettings:
        """Settings from a control request; raises ``ValueError`` naming the bad setting."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        values = {**asdict(cls()), **data}
        for name in _RATES:
            values[name] = _number(name, values[name])
            if not 0.0 <= values[name] <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if values["throttle_rate"] + values["unavailable_rate"] > 1.0:
            raise ValueError("throttle_rate + unavailable_rate must not exceed 1")
        if values["reset_before_rate"] + values["reset_after_rate"] > 1.0:
            raise ValueError("reset_before_rate + reset_after_rate must not exceed 1")
        if values["retry_after"] is not None:
            values["retry_after"] = _number("retry_after", values["retry_after"], minimum=0.0)
        values["delay_seconds"] = _number("delay_seconds", values["delay_seconds"], minimum=0.0)
        failures = values["fail_next_operations"]
        if isinstance(failures, float) and failures.is_integer():
            failures = values["fail_next_operations"] = int(failures)  # JSON writers say 2.0
        if isinstance(failures, bool) or not isinstance(failures, int) or failures < 0:
            raise ValueError("fail_next_operations must be a whole number, 0 or more")
        held = values["hold_operations"]
        if not isinstance(held, list) or not set(held) <= set(OPERATION_KINDS):
            raise ValueError(
                f"hold_operations must be a list of kinds, out of {', '.join(OPERATION_KINDS)}"
            )
        seed = values["seed"]
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError("seed must be a whole number or null")
        methods = values["methods"]
        if methods is None:
            methods = list(ALL_METHODS)
        if not isinstance(methods, list) or not all(isinstance(m, str) and m for m in methods):
            raise ValueError('methods must be a list of HTTP methods, e.g. ["GET", "POST"]')
        values["methods"] = [m.upper() for m in methods]
        return cls(**values)


# The kinds of object that async operations make (``actions.Action.resource_kind``).
OPERATION_KINDS = ("images", "services")

_RATES = ("throttle_rate", "unavailable_rate", "reset_before_rate", "reset_after_rate")


# The longest delay or Retry-After a fault may ask for: longer would hang every request.
MAX_FAULT_SECONDS = 600.0


def _number(name: str, value: Any, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    if abs(value) > MAX_FAULT_SECONDS or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of at most {MAX_FAULT_SECONDS:g}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be {minimum:g} or more")
    return float(value)


class Reset:
    """When to drop a connection without a complete answer."""

    BEFORE = "before"  # the request is not acted on
    AFTER = "after"  # the request is acted on, the answer is lost


@dataclass(frozen=True)
class InjectedFault:
    """A fault to answer with instead of handling the request."""

    status: int
    code: str
    retry_after: float | None


class FaultInjector:
    """Decides, per request, whether to inject a fault; thread-safe and seedable."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.configure(settings or FaultSettings())

    def configure(self, settings: FaultSettings) -> None:
        """Replace the settings (and reseed the random source)."""
        with self._lock:
            self.settings = settings
            self._rng = random.Random(settings.seed)

    def for_request(self, method: str) -> InjectedFault | None:
        """The fault to answer this request with, if any."""
        with self._lock:
            settings = self.settings
            if method.upper() not in settings.methods:
                return None
            if not (settings.throttle_rate or settings.unavailable_rate):
                return None
            roll = self._rng.random()
            if roll < settings.throttle_rate:
                kind = "throttled" if settings.retry_after is None else "throttled_retry_after"
                self.counts[kind] += 1
                return InjectedFault(429, "TooManyRequests", settings.retry_after)
            if roll < settings.throttle_rate + settings.unavailable_rate:
                self.counts["unavailable"] += 1
                return InjectedFault(503, "ServiceUnavailable", settings.retry_after)
            return None

    def reset_for_request(self, method: str) -> str | None:
        """Whether to drop this request's connection, before or after acting on it."""
        with self._lock:
            settings = self.settings
            if method.upper() not in settings.methods:
                return None
            if not (settings.reset_before_rate or settings.reset_after_rate):
                return None
            roll = self._rng.random()
            if roll < settings.reset_before_rate:
                self.counts["reset_before"] += 1
                return Reset.BEFORE
            if roll < settings.reset_before_rate + settings.reset_after_rate:
                self.counts["reset_after"] += 1
                return Reset.AFTER
            return None

    def delay(self, method: str) -> float:
        """Seconds to hold this MMS answer back."""
        with self._lock:
            settings = self.settings
            if settings.delay_seconds <= 0 or method.upper() not in settings.methods:
                return 0.0
            return settings.delay_seconds

    def holding_operations(self, kind: str) -> bool:
        """Whether operations on objects of ``kind`` must not finish now."""
        with self._lock:
            return kind in self.settings.hold_operations

    def take_operation_failure(self) -> bool:
        """Whether the operation being created now must end Failed (counts one down)."""
        with self._lock:
            if self.settings.fail_next_operations <= 0:
                return False
            self.settings.fail_next_operations -= 1
            self.counts["failed_operations"] += 1
            return True
