"""Figures for how long `pulumi up` takes with mms-pulumi, measured through the real plugin.

Run from the repository root: ``.venv/bin/python -m benchmarks.run`` (about 3 minutes;
``--quick`` skips the 10 s operations and the 64-chain widths).

Prints one table: the overhead ratio of a model → manifest → image → service chain over
the emulator's own operation time, polls per operation and requests per resource, wall
time for 1 to 64 parallel chains with the plugin's stock 4 workers and widened, preview cost
per resource, cold start of the provider in the plugin, and the emulator's GET throughput.
"""

from __future__ import annotations

import argparse
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
from pathlib import Path
from typing import Any

import requests

from benchmarks.plugin import Plugin, serialized_provider
from mms_pulumi.emulator.process import EmulatorProcess
from mms_pulumi.resources import ImageProvider, ManifestProvider, ModelProvider, ServiceProvider

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart"
TOKEN = "benchmark-token"
KUBE = '{"apiVersion":"v1","kind":"Config","clusters":[],"users":[],"contexts":[]}'
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
    return dict(requests.get(f"{emulator.base_url}/_emulator/stats", timeout=10).json())


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


def width(count: int, seconds: float, workers: int | None) -> float:
    """Wall time for ``count`` independent chains created at once."""
    with stack(seconds, workers=workers, scoring=False) as (emulator, plugin):
        threads = [
            threading.Thread(target=chain, args=(emulator, plugin, f"{count}-{i}"))
            for i in range(count)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started


def preview_cost(resources: int = 200) -> float:
    """Milliseconds of Check + Diff per resource (no network: the emulator is not running)."""
    account = {
        "endpoint": "http://127.0.0.1:9",
        "subscription_id": "s",
        "resource_group": "r",
        "hosting_account": "a",
    }
    with tempfile.TemporaryDirectory() as data, Plugin(Path(data)) as plugin:
        plugin.configure({}, set())
        started = time.perf_counter()
        for index in range(resources):
            urn = f"urn:pulumi:bench::bench::pulumi-python:dynamic/mms:Model::m{index}"
            props = {
                "name": f"m{index}",
                "url": "file:///m",
                "mime_type": "a/b",
                "account": account,
                "__provider": PROVIDERS["Model"],
            }
            checked, _ = plugin.check(urn, props, props)
            plugin.diff(f"id{index}", urn, {**checked, "version": 1}, checked)
        return (time.perf_counter() - started) * 1000 / resources


def import_time(statement: str, runs: int = 5) -> float:
    """Median milliseconds for a fresh interpreter to run an import."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True, cwd=ROOT)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def provider_import_is_lean() -> bool:
    """Whether importing the package leaves FastAPI, uvicorn and azure-identity out."""
    probe = (
        "import sys, mms_pulumi, mms_pulumi.resources, mms_pulumi.client;"
        "bad=[m for m in ('fastapi','uvicorn','azure.identity','mms_pulumi.emulator.app') "
        "if m in sys.modules]; sys.exit(1 if bad else 0)"
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


def main() -> None:
    """Measure and print every figure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="skip 10 s operations and 64 chains")
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []

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
                f"{stock:.1f} s | {widened:.1f} s | {bound:.0f} s | {2 * chain_seconds:.0f} s",
            )
        )

    rows.append(("preview: check + diff per resource (200 resources)", f"{preview_cost():.2f} ms"))
    pulumi_ms = import_time("import pulumi.dynamic")
    ours_ms = import_time("import pulumi.dynamic, mms_pulumi.resources, mms_pulumi.client")
    rows.append(
        (
            "cold start: import pulumi.dynamic | + mms_pulumi providers and client",
            f"{pulumi_ms:.0f} ms | {ours_ms:.0f} ms (+{ours_ms - pulumi_ms:.0f} ms)",
        )
    )
    rows.append(
        ("provider import free of fastapi, uvicorn, azure-identity", str(provider_import_is_lean()))
    )
    rps, p99 = emulator_throughput()
    rows.append(("emulator: GET model, 8 clients", f"{rps:.0f} req/s, p99 {p99:.1f} ms"))

    width_col = max(len(label) for label, _ in rows)
    print(f"{'figure':<{width_col}}  value")
    print(f"{'-' * width_col}  {'-' * 40}")
    for label, value in rows:
        print(f"{label:<{width_col}}  {value}")
    print(f"\n(python {sys.version.split()[0]}, {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
