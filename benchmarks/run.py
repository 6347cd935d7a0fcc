"""Figures for how long `pulumi up` and `pulumi preview` take with mms-pulumi, measured
through the real plugin.

Run from the repository root: ``.venv/bin/python -m benchmarks.run`` (about 6 minutes;
``--quick`` skips the 10 s operations and the 64-chain widths, ``--long`` adds 60 s
operations to the peers table, ``--no-peers`` leaves that table out).

``--no-engine`` leaves out the figures through the real Pulumi CLI (``engine``: the
preview of a 200-resource stack against no-op dynamic resources, 16 chains, the quickstart).
The figures are also written to ``docs/figures.md`` with the commit they were measured at
(``--no-docs``: printed only), with the counts of the reliability fleet under injected faults
(``--no-reliability`` leaves it out).

Prints one table: our waiting against the peers' strategies side by side (``peers``), the
overhead of a model → manifest → image → service chain over the emulator's own operation
time with polls and requests, wall time and CPU per process for 1 to 64 parallel chains
with the plugin's stock 4 workers and widened, the preview's cost per resource layer by
layer (``preview``), the providers' cold start in the plugin, and the emulator's GET
throughput.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import requests

from benchmarks import engine as real_engine
from benchmarks.peers import peers_rows
from benchmarks.plugin import Plugin, serialized_provider
from benchmarks.preview import preview_profile
from benchmarks.reliability import fleet_rows
from benchmarks.report import FIGURES_PAGE, write_figures
from mms_pulumi.emulator.process import EmulatorProcess
from mms_pulumi.resources import ImageProvider, ManifestProvider, ModelProvider, ServiceProvider

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart"
TOKEN = "benchmark-token"
KUBE = '{"apiVersion":"v1","kind":"Config","clusters":[],"users":[],"contexts":[]}'
PROVIDER_KINDS = ("model", "manifest", "image", "service")
PROVIDERS = {
    kind: serialized_provider(provider)
    for kind, provider in (
        ("Model", ModelProvider()),
        ("Manifest", ManifestProvider()),
        ("Image", ImageProvider()),
        ("Service", ServiceProvider()),
    )
}


@contextmanager
def stack(
    seconds: float, *, workers: int | None = None, scoring: bool = True
) -> Iterator[tuple[EmulatorProcess, Plugin]]:
    """An emulator with a set operation time and a configured plugin process."""
    extra = ["--token", TOKEN, "--log-level", "warning"] + ([] if scoring else ["--no-scoring"])
    env = {} if workers is None else {"MMS_PULUMI_PLUGIN_WORKERS": str(workers)}
    with (
        tempfile.TemporaryDirectory() as data,
        EmulatorProcess(Path(data), operation_seconds=seconds, extra_args=extra) as emulator,
        Plugin(Path(data), env=env) as plugin,
    ):
        plugin.configure({"mms:token": TOKEN, "mms:operationTimeout": "900"}, {"mms:token"})
        yield emulator, plugin


def chain(emulator: EmulatorProcess, plugin: Plugin, tag: str) -> None:
    """One model → manifest → image → service chain, created as `pulumi up` would."""
    account = {
        "endpoint": emulator.base_url,
        "subscription_id": "bench",
        "resource_group": "rg",
        "hosting_account": f"acct-{tag}",
    }

    def create(kind: str, **inputs: Any) -> str:
        urn = f"urn:pulumi:bench::bench::pulumi-python:dynamic/mms:{kind}::{kind.lower()}-{tag}"
        props = {**inputs, "account": account, "__provider": PROVIDERS[kind]}
        checked, failures = plugin.check(urn, {}, props)
        assert not failures, failures
        ident, _ = plugin.create(urn, checked)
        return ident

    model = create(
        "Model",
        name=f"m-{tag}",
        url=(QUICKSTART / "churn-model.json").as_uri(),
        mime_type="application/json",
    )
    manifest = create(
        "Manifest",
        model_ids=[model],
        driver_program="score",
        assets=[{"id": "score", "url": (QUICKSTART / "score.py").as_uri(), "mime_type": "x"}],
        target_runtime={"runtime_type": "ScikitPython", "properties": {}},
    )
    image = create(
        "Image",
        manifest_id=manifest,
        registry_info={"user": "u", "location": "acr.local", "password": "p"},
    )
    create(
        "Service",
        name=f"svc-{tag}",
        image_id=image,
        manifest_id=manifest,
        kube_config=KUBE,
        acr_image_pull_secret="p",
    )


def stats(emulator: EmulatorProcess) -> dict[str, Any]:
    # Control routes want the emulator's token like the API does.
    answer = requests.get(
        f"{emulator.base_url}/_emulator/stats",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    answer.raise_for_status()
    return dict(answer.json())


def overhead(seconds: float) -> dict[str, float]:
    """Wall time of one chain over the sum of its operations' times (2 * seconds)."""
    with stack(seconds) as (emulator, plugin):
        started = time.perf_counter()
        chain(emulator, plugin, uuid.uuid4().hex[:8])
        wall = time.perf_counter() - started
        counts = stats(emulator)["requests"]
    gets = counts.get("GET 200", 0)
    total = sum(counts.values())
    # Per operation: the GETs of operations/{id} plus the final GET of the resource.
    return {
        "wall": wall,
        "ratio": wall / (2 * seconds),
        "polls_per_operation": (gets - 2) / 2,
        "requests_per_resource": total / 4,
    }


@dataclass(frozen=True)
class Width:
    """Wall time of ``count`` chains at once, and the CPU seconds each process used."""

    wall: float
    plugin_cpu: float
    emulator_cpu: float  # the emulator and its children
    benchmark_cpu: float


def _cpu(process: psutil.Process, *, children: bool = False) -> float:
    times = process.cpu_times()
    total = times.user + times.system
    if children:
        total += times.children_user + times.children_system
        for child in process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child_times = child.cpu_times()
                total += child_times.user + child_times.system
    return float(total)


def width(count: int, seconds: float, workers: int | None) -> Width:
    """Wall time and CPU use for ``count`` independent chains created at once."""
    with stack(seconds, workers=workers, scoring=False) as (emulator, plugin):
        processes = psutil.Process(plugin.pid), psutil.Process(emulator.pid)
        threads = [
            threading.Thread(target=chain, args=(emulator, plugin, f"{count}-{i}"))
            for i in range(count)
        ]
        before = (_cpu(processes[0]), _cpu(processes[1], children=True), time.process_time())
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        after = (_cpu(processes[0]), _cpu(processes[1], children=True), time.process_time())
    used = [end - start for start, end in zip(before, after, strict=True)]
    return Width(wall, *used)


def preview_cost(resources: int = 200) -> float:
    """Milliseconds of Check + Diff per resource through the plugin (see ``preview``)."""
    return preview_profile(resources).grpc_plugin


# What the plugin imports when it unpickles the four providers of a stack.
PROVIDER_MODULES = ", ".join(f"mms_pulumi.resources.{kind}" for kind in PROVIDER_KINDS)
_IMPORT_PROBE = (
    "import time; t0 = time.perf_counter(); import pulumi.dynamic; t1 = time.perf_counter(); "
    f"import {PROVIDER_MODULES}; t2 = time.perf_counter(); "
    "print((t1 - t0) * 1000, (t2 - t1) * 1000)"
)


def import_time(runs: int = 7) -> tuple[float, float]:
    """Median milliseconds, each in a fresh interpreter with bytecode cached as after an
    install: ``import pulumi.dynamic``, then the four provider modules on top of it."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    samples = []
    for _ in range(runs + 1):  # the first run writes the bytecode
        answer = subprocess.run(
            [sys.executable, "-c", _IMPORT_PROBE],
            check=True,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        pulumi_ms, ours_ms = (float(part) for part in answer.stdout.split())
        samples.append((pulumi_ms, ours_ms))
    samples = samples[1:]
    return (
        statistics.median(sample[0] for sample in samples),
        statistics.median(sample[1] for sample in samples),
    )


def provider_import_is_lean() -> bool:
    """Whether the providers' import leaves FastAPI, uvicorn, azure-identity and requests
    out (a preview makes no request; the client is imported by the first create or read)."""
    probe = (
        f"import sys, {PROVIDER_MODULES};"
        "bad=[m for m in ('fastapi','uvicorn','azure.identity','requests',"
        "'mms_pulumi.emulator.app') if m in sys.modules]; sys.exit(1 if bad else 0)"
    )
    return subprocess.run([sys.executable, "-c", probe], cwd=ROOT).returncode == 0


def emulator_throughput(duration: float = 3.0, clients: int = 8) -> tuple[float, float]:
    """GET requests per second and p99 latency (ms) for one model, from ``clients`` threads."""
    with (
        tempfile.TemporaryDirectory() as data,
        EmulatorProcess(Path(data), extra_args=["--log-level", "warning"]) as emulator,
    ):
        root = f"{emulator.base_url}/api/subscriptions/s/resourceGroups/r/hostingAccounts/a"
        headers = {"Authorization": "Bearer t"}
        params = {"api-version": "2017-06-01-privatepreview"}
        model = requests.post(
            f"{root}/models",
            json={"name": "m", "url": "u", "mimeType": "t"},
            headers=headers,
            params=params,
            timeout=10,
        ).json()
        latencies: list[float] = []
        lock = threading.Lock()
        deadline = time.perf_counter() + duration

        def hammer() -> None:
            session = requests.Session()
            mine = []
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                session.get(
                    f"{root}/models/{model['id']}", headers=headers, params=params, timeout=10
                )
                mine.append((time.perf_counter() - started) * 1000)
            with lock:
                latencies.extend(mine)

        threads = [threading.Thread(target=hammer) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    latencies.sort()
    return len(latencies) / duration, latencies[int(len(latencies) * 0.99) - 1]


def engine_rows(*, quick: bool) -> list[tuple[str, str]]:
    """The figures through the real Pulumi CLI (``benchmarks.engine``)."""
    floor = real_engine.preview_floor(100 if quick else 200, small=20 if quick else 50)
    rows = [
        (
            f"real CLI: pulumi preview, unchanged stack, per resource ({floor.small} to "
            f"{floor.resources}): ours | no-op dynamic resources (the SDK's floor) | ratio",
            f"{floor.ours_ms:.1f} ms | {floor.floor_ms:.1f} ms | {floor.ratio:.2f}x",
        ),
        (
            f"  whole previews of {floor.resources} (median of 3): ours | no-op",
            f"{floor.ours[1]:.2f} s | {floor.floor[1]:.2f} s "
            f"= {floor.ours[1] / floor.floor[1]:.2f}x",
        ),
    ]
    chains = real_engine.chains(4 if quick else 16)
    rows.append(
        (
            f"real CLI: pulumi up, {chains.count} chains, {chains.seconds:g} s operations: "
            "stock 4 workers | widened | widened with --parallel "
            f"{4 * chains.count} | ideal",
            f"{chains.stock:.1f} s | {chains.widened:.1f} s | {chains.widened_parallel:.1f} s | "
            f"{chains.ideal:.0f} s",
        )
    )
    quickstart = real_engine.quickstart()
    rows.append(
        (
            f"real CLI: pulumi up --yes of the quickstart ({quickstart.seconds:g} s operations): "
            "wall / sum of operation times",
            f"{quickstart.wall:.1f} s / {quickstart.operations:.0f} s = "
            f"{quickstart.wall / quickstart.operations:.2f}",
        )
    )
    return rows


def main() -> None:
    """Measure and print every figure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="skip 10 s operations and 64 chains")
    parser.add_argument(
        "--long", action="store_true", help="add 60 s operations to the peers table (3 min more)"
    )
    parser.add_argument("--no-peers", action="store_true", help="skip the peers table")
    parser.add_argument(
        "--no-engine", action="store_true", help="skip the figures through the real Pulumi CLI"
    )
    parser.add_argument(
        "--no-reliability", action="store_true", help="skip the fleet under injected faults"
    )
    parser.add_argument(
        "--no-docs",
        action="store_true",
        help=f"do not write the figures into {FIGURES_PAGE.relative_to(ROOT)}",
    )
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []

    if not args.no_peers:
        durations = [1.0] if args.quick else [1.0, 10.0]
        rows += peers_rows(durations + ([60.0] if args.long else []))

    for seconds in [1.0] if args.quick else [1.0, 10.0]:
        figures = overhead(seconds)
        rows.append(
            (
                f"chain, {seconds:g} s operations: wall / sum of operation times",
                f"{figures['wall']:.2f} s / {2 * seconds:.0f} s = {figures['ratio']:.3f}",
            )
        )
        rows.append(
            (f"  polls per operation ({seconds:g} s)", f"{figures['polls_per_operation']:.1f}")
        )
        rows.append(
            (f"  requests per resource ({seconds:g} s)", f"{figures['requests_per_resource']:.1f}")
        )

    chain_seconds = 1.0
    for count in [1, 4, 16] if args.quick else [1, 4, 16, 64]:
        stock = width(count, chain_seconds, workers=0)
        widened = width(count, chain_seconds, workers=None)
        bound = math.ceil(count / 4) * 2 * chain_seconds
        rows.append(
            (
                f"{count} chains (1 s ops): stock 4 workers | widened | 4-worker bound | ideal",
                f"{stock.wall:.1f} s | {widened.wall:.1f} s | {bound:.0f} s | "
                f"{2 * chain_seconds:.0f} s",
            )
        )
        rows.append(
            (
                f"  widened, CPU s: plugin | emulator | benchmark (wall {widened.wall:.1f} s)",
                f"{widened.plugin_cpu:.1f} | {widened.emulator_cpu:.1f} | "
                f"{widened.benchmark_cpu:.1f} = "
                f"{widened.plugin_cpu + widened.emulator_cpu + widened.benchmark_cpu:.1f}",
            )
        )

    profile = preview_profile()
    engine = profile.engine
    rows.append(
        (
            "preview, unchanged 200-resource stack, check + diff per resource: from grpc-go",
            f"{engine.preview:.2f} ms" if engine else f"not measured: {profile.engine_missing}",
        )
    )
    rows.append(("  the same from Python's gRPC stub", f"{profile.grpc_plugin:.2f} ms"))
    rows.append(
        (
            "  two empty round trips to the plugin (GetPluginInfo): grpc-go | Python",
            f"{engine.floor:.2f} ms | {profile.grpc_floor:.2f} ms"
            if engine
            else f"- | {profile.grpc_floor:.2f} ms",
        )
    )
    rows.append(
        (
            "  the SDK's servicer, no gRPC: calls handed to a 4-thread pool | in one thread",
            f"{profile.sdk_pooled:.2f} ms | {profile.sdk_in_process:.2f} ms",
        )
    )
    rows.append(("  of which mms_pulumi's check + diff", f"{profile.ours:.2f} ms"))
    rows.append(
        (
            "  plugin CPU per resource | program side: pickling the provider per resource",
            f"{profile.plugin_cpu:.2f} ms | {profile.pickling:.3f} ms",
        )
    )
    if not args.no_engine:
        rows += engine_rows(quick=args.quick)

    pulumi_ms, ours_ms = import_time()
    rows.append(
        (
            "cold start: import pulumi.dynamic | + the four providers (bytecode cached)",
            f"{pulumi_ms:.0f} ms | +{ours_ms:.0f} ms",
        )
    )
    rows.append(
        (
            "provider import free of fastapi, uvicorn, azure-identity, requests",
            str(provider_import_is_lean()),
        )
    )
    rps, p99 = emulator_throughput()
    rows.append(("emulator: GET model, 8 clients", f"{rps:.0f} req/s, p99 {p99:.1f} ms"))
    if not args.no_reliability:
        rows += fleet_rows()

    width_col = max(len(label) for label, _ in rows)
    print(f"{'figure':<{width_col}}  value")
    print(f"{'-' * width_col}  {'-' * 40}")
    for label, value in rows:
        print(f"{label:<{width_col}}  {value}")
    print(f"\n(python {sys.version.split()[0]}, {os.cpu_count()} cores)")
    if not args.no_docs:
        command = " ".join([".venv/bin/python -m benchmarks.run", *sys.argv[1:]])
        print(f"written to {write_figures(rows, command=command).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
