"""Our waiting against the peers' strategies, side by side in one run.

Each strategy is a small pure schedule (``floor`` and ``next_delay``, the
``mms_pulumi.client.Schedule`` protocol) handed to the same ``MmsClient``, so only the
waiting differs. The peers, read in their sources:

- **2017 CLI** (azure-cli-ml 0.1.0a20 ``_util.poll_mms_async_operation``): looks at once,
  then ``time.sleep(MMS_ASYNC_OPERATION_POLLING_INTERVAL_SECONDS)`` (5, ``_constants.py``)
  between looks.
- **azure-core** (``azure.core.polling.base_polling.LROBasePolling``): before every look it
  sleeps the last answer's ``Retry-After`` or, without one, its ``polling_interval``
  (default 30 s).
- **Terraform** (terraform-plugin-sdk ``helper/retry`` ``StateChangeConf.WaitForStateContext``):
  refreshes at once, then waits 100 ms doubled before each next refresh, capped at 10 s.

For every operation length, all strategies (and a 50 ms "oracle" that sees each state
change almost at once, standing for the service's own time) run at the same time against
one emulator, each in its own hosting account: one image build, then one service
deployment from it. A strategy's ratio is its wall time over the oracle's.
"""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mms_pulumi.client import MmsClient, PollSchedule, Schedule
from mms_pulumi.emulator.process import EmulatorProcess

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart"
TOKEN = "peers-benchmark-token"
KUBE = (
    '{"apiVersion":"v1","kind":"Config","clusters":[],"users":[],"contexts":[],'
    '"current-context":"c"}'
)


@dataclass(frozen=True)
class FixedSchedule:
    """Look after ``floor`` seconds, then every ``interval`` seconds (the 2017 CLI: 0, 5)."""

    interval: float
    floor: float = 0.0

    def next_delay(
        self, elapsed: float, *, retry_after: float | None = None, remaining: float | None = None
    ) -> float:
        """``interval``, ignoring ``Retry-After`` as the CLI did; never past the deadline."""
        return _within(self.interval, remaining)


@dataclass(frozen=True)
class RetryAfterSchedule:
    """azure-core's LRO polling: ``Retry-After`` when the service sends one, else a fixed
    ``interval`` (30 s) before every look, the first one included."""

    interval: float = 30.0

    @property
    def floor(self) -> float:
        """The first look waits the interval too (no Retry-After on the 202 here)."""
        return self.interval

    def next_delay(
        self, elapsed: float, *, retry_after: float | None = None, remaining: float | None = None
    ) -> float:
        """``Retry-After`` if given, else the interval."""
        return _within(self.interval if retry_after is None else retry_after, remaining)


@dataclass(frozen=True)
class ExponentialSchedule:
    """Terraform's waiter: at once, then ``initial`` doubled before each look, capped.

    Pure in ``elapsed``: the n-th wait is the one whose cumulative sum first passes the
    time already waited, so the schedule needs no state of its own.
    """

    initial: float = 0.1
    factor: float = 2.0
    cap: float = 10.0
    floor: float = 0.0

    def next_delay(
        self, elapsed: float, *, retry_after: float | None = None, remaining: float | None = None
    ) -> float:
        """The wait after the look at ``elapsed`` (100 ms times 2, 4, 8, ... capped at 10 s)."""
        wait, waited = self.initial * self.factor, 0.0
        while waited + wait <= elapsed + 1e-9 and wait < self.cap:
            waited += wait
            wait = min(self.cap, wait * self.factor)
        return _within(wait, remaining)


def _within(delay: float, remaining: float | None) -> float:
    return max(0.0, delay if remaining is None else min(delay, max(0.0, remaining)))


STRATEGIES: dict[str, Schedule] = {
    "mms-pulumi (ours)": PollSchedule(),
    "2017 CLI: fixed 5 s": FixedSchedule(interval=5.0),
    "azure-core: 30 s": RetryAfterSchedule(),
    "Terraform: 2x to 10 s": ExponentialSchedule(),
}
ORACLE = FixedSchedule(interval=0.05, floor=0.05)


@dataclass
class CountingSchedule:
    """A schedule that counts the looks made (the first one, plus one per ``next_delay``)."""

    inner: Schedule
    looks: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def floor(self) -> float:
        with self._lock:
            self.looks += 1
        return self.inner.floor

    def next_delay(
        self, elapsed: float, *, retry_after: float | None = None, remaining: float | None = None
    ) -> float:
        with self._lock:
            self.looks += 1
        return self.inner.next_delay(elapsed, retry_after=retry_after, remaining=remaining)


@dataclass(frozen=True)
class PeerResult:
    """One strategy's image build + service deployment."""

    wall: float
    looks: int


def _deploy(base_url: str, schedule: CountingSchedule) -> float:
    """Register a model and manifest (untimed), then time one image build and one service
    deployment waited on with ``schedule``."""
    account = f"peer-{uuid.uuid4().hex[:8]}"
    with MmsClient(base_url, "bench", "rg", account, TOKEN, schedule=schedule) as mms:
        model = mms.register_model(
            {
                "name": "churn",
                "url": (QUICKSTART / "churn-model.json").as_uri(),
                "mimeType": "application/json",
            }
        )
        manifest = mms.create_manifest(
            {
                "modelIds": [model.id],
                "modelType": "Registered",
                "driverProgram": "score",
                "assets": [
                    {"id": "score", "url": (QUICKSTART / "score.py").as_uri(), "mimeType": "x"}
                ],
                "targetRuntime": {"runtimeType": "ScikitPython", "properties": {}},
            }
        )
        started = time.perf_counter()
        image = mms.begin_create_image(
            {
                "manifestId": manifest.id,
                "imageType": "Docker",
                "registryInfo": {"user": "u", "location": "acr.local", "password": "p"},
            }
        ).result(timeout=900)
        mms.begin_create_service(
            {
                "name": f"svc-{account}",
                "imageId": image.id,
                "kubeConfig": KUBE,
                "acrImagePullSecret": "pull",
            }
        ).result(timeout=900)
        return time.perf_counter() - started


def run_side_by_side(
    seconds: float, strategies: dict[str, Schedule] | None = None
) -> dict[str, PeerResult]:
    """Every strategy (and the oracle, key ``"oracle"``) at once, operations of ``seconds``."""
    chosen = {**(strategies or STRATEGIES), "oracle": ORACLE}
    results: dict[str, PeerResult] = {}
    errors: list[BaseException] = []
    extra = ["--token", TOKEN, "--log-level", "warning"]
    with (
        tempfile.TemporaryDirectory() as data,
        EmulatorProcess(Path(data), operation_seconds=seconds, extra_args=extra) as emulator,
    ):

        def one(name: str, schedule: Schedule) -> None:
            counting = CountingSchedule(schedule)
            try:
                wall = _deploy(emulator.base_url, counting)
            except BaseException as err:  # reported after the join, with the strategy
                errors.append(err)
                return
            results[name] = PeerResult(wall, counting.looks)

        threads = [threading.Thread(target=one, args=item) for item in chosen.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise RuntimeError(f"a strategy failed: {errors[0]!r}") from errors[0]
    return results


def peers_rows(durations: list[float]) -> list[tuple[str, str]]:
    """The peers table as (label, value) rows: wall, ratio to the oracle, looks."""
    rows: list[tuple[str, str]] = []
    for seconds in durations:
        results = run_side_by_side(seconds)
        oracle = results.pop("oracle")
        rows.append(
            (
                f"{seconds:g} s operations: service's own time (50 ms looks)",
                f"{oracle.wall:.1f} s, {oracle.looks} looks",
            )
        )
        for name, result in results.items():
            rows.append(
                (
                    f"  {name}",
                    f"{result.wall:.1f} s = {result.wall / oracle.wall:.2f}x, {result.looks} looks",
                )
            )
    return rows


def schedule_looks(schedule: Any, until: float) -> list[float]:
    """Seconds after the 202 at which ``schedule`` looks, up to the first at/after ``until``
    (pure: what the table's look counts follow from)."""
    times = [schedule.floor]
    while times[-1] < until:
        step = schedule.next_delay(times[-1])
        if step <= 0:
            break
        times.append(times[-1] + step)
    return times
