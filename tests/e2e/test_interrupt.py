"""An interrupted ``pulumi up``, through the real CLI: SIGINT, and separately SIGKILL, while an
image builds and while a service deploys; then what the CLI tells the user to type, and one
more ``up``, converge with no duplicate object and no orphaned scoring process.

The emulator holds the stage's operations (``hold_operations``) until the signal has been
sent and, for SIGINT, the CLI has said it is cancelling: no step races a clock.

What the engine does (pkg/v3 v3.274.1):
- SIGINT: backend/cancellation_scope.go NewScope prints "^C received; cancelling", the
  engine sends Cancel to providers and waits for in-flight steps (provider calls run on
  context.TODO() in resource/deploy/step.go), then ends "update canceled": nothing pending.
- SIGKILL: the checkpoint keeps the step's pending operation (backend/snapshot.go
  BeginMutation writes it before the provider call) and the file backend's lock file
  (backend/diy/lock.go) stays; the next update refuses with a message naming
  `pulumi cancel`. After it, `pulumi refresh --clear-pending-creates` drops the pending
  create (cmd/pulumi/operations/refresh.go), and `up` creates the resource again, which
  our providers resolve by adopting the object the interrupted create made.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from mms_pulumi.emulator.process import EmulatorProcess
from tests.e2e.cli import emulator_processes, scoring_processes
from tests.e2e.conftest import StackFactory

pytestmark = pytest.mark.e2e

# A deadline for things that happen, not a measure of how fast: generous on a loaded machine.
PATIENCE = 300.0


def wait_for(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def emulator_objects(emulator: EmulatorProcess) -> dict[str, int]:
    stats = requests.get(f"{emulator.base_url}/_emulator/stats", timeout=30).json()
    objects: dict[str, int] = stats["objects"]
    return {kind: objects[kind] for kind in ("models", "manifests", "images", "services")}


def hold(emulator: EmulatorProcess, kinds: list[str]) -> None:
    answer = requests.put(
        f"{emulator.base_url}/_emulator/faults", json={"hold_operations": kinds}, timeout=30
    )
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
@pytest.mark.parametrize("stage", ["images", "services"])
def test_interrupted_up_converges(
    stage: str,
    signum: signal.Signals,
    stack: StackFactory,
    emulator: EmulatorProcess,
    tmp_path: Path,
) -> None:
    cli = stack("quickstart")
    hold(emulator, [stage])
    log = tmp_path / "up.log"
    up = cli.start("up", "--yes", log=log)
    wait_for(f"an operation on {stage}", lambda: emulator_objects(emulator)[stage] == 1)

    up.send_signal(signum)
    if signum == signal.SIGINT:
        wait_for("the CLI to cancel", lambda: "^C received; cancelling" in log.read_text())
    hold(emulator, [])
    assert up.wait(timeout=PATIENCE) != 0
    said = log.read_text()

    if signum == signal.SIGINT:
        # The in-flight create finished and was recorded; the steps after it never started.
        assert "update canceled" in said, said
    else:
        # The file backend's lock outlives the killed CLI; the CLI names the way out.
        locked = cli.run("up", "--yes", check=False)
        assert locked.code != 0
        assert "the stack is currently locked" in locked.stderr + locked.stdout
        assert "pulumi cancel" in locked.stderr + locked.stdout
        cli.run("cancel", "--yes")
        cli.run("refresh", "--yes", "--clear-pending-creates")

    converged = cli.run("up", "--yes")
    assert "error" not in converged.stderr.lower(), converged.describe()
    cli.run("up", "--yes", "--expect-no-changes")
    cli.run("refresh", "--yes", "--expect-no-changes")
    assert emulator_objects(emulator) == {"models": 1, "manifests": 1, "images": 1, "services": 1}
    # One live service with one scoring process (2017-06 has no replicas), none left over:
    # a keeper and the worker under it, nothing else.
    assert len(scoring_processes(emulator)) == 1
    assert len(emulator_processes(emulator)) == 2

    cli.run("destroy", "--yes")
    # MMS has no delete for models, manifests and images: only the service goes.
    assert emulator_objects(emulator) == {"models": 1, "manifests": 1, "images": 1, "services": 0}
    assert emulator_processes(emulator) == []
