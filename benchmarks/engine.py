"""Figures through the real Pulumi engine: the CLI from scripts/install-pulumi, run on
generated projects against an emulator on loopback, each figure measured side by side with
its reference in one run.

- ``preview_floor``: ``pulumi preview`` of an unchanged stack of N of our resources (Models)
  against the same stack of N no-op dynamic resources carrying the same data, whose provider
  does nothing but answer check and diff (the SDK's own floor). Per resource: the slope
  between a 50- and a 200-resource stack, so fixed costs (imports, plugin start) drop out.
- ``chains``: ``pulumi up`` of independent model → manifest → image → service chains with
  1 s operations, the plugin's stock 4 workers against the widened pool, beside the ideal
  (every chain at once: one image build and one deployment).
- ``quickstart``: ``pulumi up`` of examples/quickstart from nothing, wall time against the
  sum of its operations' times (one image build and one deployment).
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mms_pulumi.emulator.process import EmulatorProcess
from scripts.pulumi_cli import EXAMPLES, Cli, cli_environment

QUICKSTART = EXAMPLES / "quickstart"
# The program venv every generated project borrows (it holds mms_pulumi and pulumi).
VENV = QUICKSTART / ".venv"

OURS = """
import pulumi
from mms_pulumi import Model
config = pulumi.Config()
for i in range(config.require_int("count")):
    Model(f"model-{i}", name=f"m{i}", url="file:///models/m.json", mime_type="application/json")
"""

# The no-op provider lives in a module of the project, so it is pickled by reference as
# ours is (a class defined in __main__ would be pickled by value, at several times the cost).
NOOP_PROVIDER = """
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ResourceProvider

class Noop(ResourceProvider):
    # Answers check and diff and nothing else: what any dynamic resource costs.
    def check(self, olds, news):
        return CheckResult(news, [])
    def diff(self, id_, olds, news):
        return DiffResult(changes=False)
    def create(self, props):
        return CreateResult(
            "noop-" + props["name"], {**props, "version": 1, "created_at": "2017-06-01T00:00:00Z"}
        )
"""

NOOP = """
import pulumi
from pulumi.dynamic import Resource
from noop_provider import Noop

class Thing(Resource):
    def __init__(self, name, props):
        super().__init__(Noop(), name, props)

# The inputs our Model sends once checked (the account, the defaults), so the two stacks
# carry the same data and differ only in what the providers and resources do with it.
mms = pulumi.Config("mms")
account = {key: mms.require(name) for key, name in (
    ("endpoint", "endpoint"), ("subscription_id", "subscriptionId"),
    ("resource_group", "resourceGroup"), ("hosting_account", "hostingAccount"))}
account["api_version"] = "2017-06-01-privatepreview"
config = pulumi.Config()
for i in range(config.require_int("count")):
    Thing(f"model-{i}", {"name": f"m{i}", "url": "file:///models/m.json",
                         "mime_type": "application/json", "description": "", "tags": [],
                         "unpack": False, "account": account})
"""

CHAINS = """
import pulumi
from mms_pulumi import Image, Manifest, Model, Service
from mms_pulumi.local import LOCAL_KUBE_CONFIG
config = pulumi.Config()
here = "{quickstart}"
for i in range(config.require_int("count")):
    model = Model(f"model-{{i}}", name=f"m{{i}}", url=f"file://{{here}}/churn-model.json",
                  mime_type="application/json")
    manifest = Manifest(f"manifest-{{i}}", model_ids=[model.id], driver_program="score",
                        assets=[{{"id": "score", "url": f"file://{{here}}/score.py",
                                 "mime_type": "application/x-python"}}],
                        target_runtime={{"runtime_type": "ScikitPython", "properties": {{}}}})
    image = Image(f"image-{{i}}", manifest_id=manifest.id,
                  registry_info={{"user": "u", "location": "acr.local", "password": "p"}})
    Service(f"service-{{i}}", name=f"svc{{i}}", image_id=image.id, manifest_id=manifest.id,
            kube_config=LOCAL_KUBE_CONFIG, acr_image_pull_secret="p")
"""


def account(emulator: EmulatorProcess, hosting_account: str) -> dict[str, str]:
    return {
        "mms:endpoint": emulator.base_url,
        "mms:subscriptionId": "bench",
        "mms:resourceGroup": "rg",
        "mms:hostingAccount": hosting_account,
        "mms:operationTimeout": "900",
    }


def _tools() -> dict[str, str]:
    """What scripts/install-pulumi says about the CLI; an error saying why there is none."""
    tools = cli_environment()
    if isinstance(tools, str):
        raise RuntimeError(tools)
    return tools


@contextmanager
def _stack(cli: Cli, config: dict[str, str]) -> Iterator[Cli]:
    """A new stack of ``cli``'s project with ``config`` set; destroyed and removed after."""
    cli.run("stack", "init", f"bench-{uuid.uuid4().hex[:6]}")
    try:
        for key, value in config.items():
            cli.run("config", "set", key, value)
        yield cli
    finally:
        cli.run("destroy", "--yes", check=False)
        cli.run("stack", "rm", "--yes", "--force", check=False)


@contextmanager
def project(
    program: str, config: dict[str, str], env: dict[str, str] | None = None
) -> Iterator[Cli]:
    """A generated project with a new stack on its own file backend."""
    tools = _tools()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "program").mkdir()
        (root / "program" / "Pulumi.yaml").write_text(
            f"name: bench-{uuid.uuid4().hex[:6]}\nruntime: python\n"
        )
        (root / "program" / "__main__.py").write_text(program)
        (root / "program" / "noop_provider.py").write_text(NOOP_PROVIDER)
        (root / "program" / ".venv").symlink_to(VENV)
        (root / "state").mkdir()
        cli = Cli(
            project=root / "program",
            home=root / "home",
            backend=root / "state",
            tools=tools,
            run_marker=uuid.uuid4().hex,
            extra_env=dict(env or {}),
        )
        with _stack(cli, config):
            yield cli


def timed(cli: Cli, *args: str) -> float:
    started = time.perf_counter()
    cli.run(*args)
    return time.perf_counter() - started


@dataclass(frozen=True)
class PreviewFloor:
    """Median ``pulumi preview`` seconds of unchanged stacks of ``small`` and ``resources``
    resources, ours and the no-op floor's. Per resource is the slope between the two sizes:
    what one more resource costs, the fixed costs (the CLI's start, each side's imports,
    plugin launch) left out."""

    small: int
    resources: int
    ours: tuple[float, float]  # (small, resources)
    floor: tuple[float, float]

    @staticmethod
    def _slope(times: tuple[float, float], small: int, large: int) -> float:
        return (times[1] - times[0]) * 1000 / (large - small)

    @property
    def ours_ms(self) -> float:
        return self._slope(self.ours, self.small, self.resources)

    @property
    def floor_ms(self) -> float:
        return self._slope(self.floor, self.small, self.resources)

    @property
    def ratio(self) -> float:
        return self.ours_ms / self.floor_ms


def preview_floor(resources: int = 200, small: int = 50, runs: int = 3) -> PreviewFloor:
    """Median preview times of unchanged stacks, ours and the floor, at two sizes."""
    medians: dict[tuple[str, int], float] = {}
    with (
        tempfile.TemporaryDirectory() as data,
        EmulatorProcess(
            Path(data), operation_seconds=0.1, extra_args=["--log-level", "warning"]
        ) as emulator,
    ):
        for label, program in (("ours", OURS), ("floor", NOOP)):
            for count in (small, resources):
                config = {**account(emulator, f"preview-{label}-{count}"), "count": str(count)}
                with project(program, config) as cli:
                    cli.run("up", "--yes", "--skip-preview")
                    # One stack at a time, nothing else running in this process.
                    samples = [timed(cli, "preview") for _ in range(runs)]
                    medians[label, count] = statistics.median(samples)
    return PreviewFloor(
        small,
        resources,
        (medians["ours", small], medians["ours", resources]),
        (medians["floor", small], medians["floor", resources]),
    )


@dataclass(frozen=True)
class Chains:
    count: int
    seconds: float
    stock: float
    widened: float
    # The engine runs at most 4 x GOMAXPROCS steps at once unless told otherwise
    # (pkg/cmd/pulumi/operations/up.go defaultParallel): 8 on two cores.
    widened_parallel: float

    @property
    def ideal(self) -> float:
        return 2 * self.seconds


def chains(count: int = 16, seconds: float = 1.0) -> Chains:
    """``pulumi up`` of ``count`` chains from nothing, stock pool then widened."""
    walls = {}
    with (
        tempfile.TemporaryDirectory() as data,
        EmulatorProcess(
            Path(data),
            operation_seconds=seconds,
            extra_args=["--log-level", "warning", "--no-scoring"],
        ) as emulator,
    ):
        for label, workers, parallel in (
            ("stock", "0", []),
            ("widened", "", []),
            ("widened_parallel", "", ["--parallel", str(4 * count)]),
        ):
            env = {"MMS_PULUMI_PLUGIN_WORKERS": workers} if workers else {}
            config = {**account(emulator, f"chains-{label}"), "count": str(count)}
            with project(CHAINS.format(quickstart=QUICKSTART), config, env) as cli:
                walls[label] = timed(cli, "up", "--yes", "--skip-preview", *parallel)
    return Chains(count, seconds, walls["stock"], walls["widened"], walls["widened_parallel"])


@dataclass(frozen=True)
class Quickstart:
    seconds: float
    wall: float

    @property
    def operations(self) -> float:
        return 2 * self.seconds  # one image build, one deployment


def quickstart(seconds: float = 2.0) -> Quickstart:
    """``pulumi up --yes`` of examples/quickstart from nothing (its preview included)."""
    tools = _tools()
    with (
        tempfile.TemporaryDirectory() as scratch,
        EmulatorProcess(
            Path(scratch) / "emulator",
            operation_seconds=seconds,
            extra_args=["--log-level", "warning"],
        ) as emulator,
    ):
        (Path(scratch) / "state").mkdir()
        cli = Cli(
            project=QUICKSTART,
            home=Path(scratch) / "home",
            backend=Path(scratch) / "state",
            tools=tools,
            run_marker=uuid.uuid4().hex,
        )
        with _stack(cli, account(emulator, "quickstart")):
            wall = timed(cli, "up", "--yes")
    return Quickstart(seconds, wall)
