"""The emulator's scoring endpoints against a bare server, side by side, under ``wrk``.

    .venv/bin/python -m benchmarks.scoring            # about 3 minutes
    .venv/bin/python -m benchmarks.scoring --quick    # one round, shorter runs
    .venv/bin/python -m benchmarks.scoring --mlflow /path/to/venv   # adds mlflow models serve

Four servers answer the same driver: the **emulator**'s scoring URI of a 2017-09 service
(with its key), on the service's scoring port, where the replica answers; the same call on
the **emulator's port**, which forwards it to the replica (the road of a caller that
names the emulator's port); **the floor** (a bare uvicorn app calling the same ``run()``
in-process, ``benchmarks.scoring_floor``); and, given a virtualenv that has mlflow,
``mlflow models serve`` (one worker) of a pyfunc model calling it. Runs are
interleaved: each round runs every server once per load. It prints p50/p99 at concurrency
1, requests/s at 8 and 32, CPU per request of each process, for a 1 KB and a 1 MB body,
and the requests/s of 1 and 2 replicas of a CPU-bound driver. Needs ``wrk`` (Debian's package).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import requests

from mms_pulumi.emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parents[1]
API = "2017-09-01-preview"
TOKEN = "benchmark-token"
COMPUTE = (
    "/subscriptions/0/resourceGroups/b/providers/Microsoft.MachineLearningCompute"
    "/operationalizationClusters/bench"
)
ECHO_DRIVER = "def init():\n    pass\n\n\ndef run(data):\n    return data\n"
# About 5 ms of pure-Python work per call on this machine.
CPU_DRIVER = (
    "def init():\n    pass\n\n\n"
    "def run(data):\n"
    "    total = 0\n"
    "    for n in range(90_000):\n"
    "        total += n * n % 7\n"
    "    return {'total': total}\n"
)


@dataclass(frozen=True)
class Target:
    """A server under load: where to POST, what to send, which processes to bill."""

    name: str
    url: str
    headers: dict[str, str]
    pids: Callable[[], dict[str, list[int]]]  # role → processes
    # A body of its own in place of the 1 KB one (mlflow wants a named input); such a
    # target has no 1 MB run.
    body: Path | None = None


@dataclass(frozen=True)
class Run:
    """What one wrk run measured."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: dict[str, float]  # per request, by role

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds


# --- servers -------------------------------------------------------------------------------


class Account:
    """Raw REST against one 2017-09 account of the emulator."""

    def __init__(self, base_url: str) -> None:
        self.base = f"{base_url}/api/subscriptions/bench/resourceGroups/rg/accounts/bench"
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {TOKEN}"

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        url = path if path.startswith("http") else f"{self.base}/{path}"
        answer = self.session.request(
            method, url, json=body, params={"api-version": API}, timeout=60
        )
        answer.raise_for_status()
        return answer

    def wait(self, answer: requests.Response) -> str:
        location = f"{self.base_url}{answer.headers['Operation-Location']}"
        while True:
            operation = self.call("GET", location).json()
            if operation["state"] in ("Succeeded", "Failed", "Cancelled"):
                assert operation["state"] == "Succeeded", operation
                return str(operation["resourceLocation"].rsplit("/", 1)[1])
            time.sleep(0.05)

    def deploy(self, name: str, driver: Path, replicas: int) -> tuple[str, str]:
        """A service running ``driver`` (its model a file beside it): its scoring URI and
        primary key."""
        model_file = driver.with_name("model.json")
        model_file.write_text('{"kind": "benchmark"}')
        model = self.call(
            "POST",
            "models",
            {"name": name, "url": model_file.as_uri(), "mimeType": "application/json"},
        ).json()
        manifest = self.call(
            "POST",
            "manifests",
            {
                "name": name,
                "driverProgram": "score",
                "modelIds": [model["id"]],
                "assets": [
                    {"id": "score", "url": driver.as_uri(), "mimeType": "application/x-python"}
                ],
                "targetRuntime": {"runtimeType": "Python", "properties": {}},
            },
        ).json()
        image = self.wait(
            self.call(
                "POST",
                "images",
                {
                    "name": name,
                    "manifestId": manifest["id"],
                    "imageType": "Docker",
                    "computeResourceId": COMPUTE,
                },
            )
        )
        service = self.wait(
            self.call(
                "POST",
                "services",
                {
                    "name": name,
                    "imageId": image,
                    "computeResource": {"id": COMPUTE, "type": "Cluster"},
                    "numReplicas": replicas,
                },
            )
        )
        shown = self.call("GET", f"services/{service}").json()
        keys = self.call("GET", f"services/{service}/keys").json()
        return str(shown["scoringUri"]), str(keys["primaryKey"])


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """Every process under ``pid``."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@contextmanager
def floor_server(bundle: Path, driver: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The bare uvicorn app, until the block ends."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.scoring_floor",
            "--bundle",
            str(bundle),
            "--driver",
            driver,
            "--port",
            str(port),
        ],
        cwd=ROOT,
    )
    try:
        url = f"http://127.0.0.1:{port}/score"
        wait_for(url)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def mlflow_server(venv: Path, bundle: Path, work: Path) -> Iterator[tuple[str, int]]:
    """``mlflow models serve`` of a pyfunc model calling the echo driver (one worker)."""
    model_dir = work / "mlflow-model"
    save = (
        "import importlib.util, sys, mlflow.pyfunc\n"
        "class Echo(mlflow.pyfunc.PythonModel):\n"
        "    def predict(self, context, model_input, params=None):\n"
        "        return model_input\n"
        f"mlflow.pyfunc.save_model({str(model_dir)!r}, python_model=Echo())\n"
    )
    subprocess.run([str(venv / "bin" / "python"), "-c", save], check=True, cwd=bundle)
    port = free_port()
    process = subprocess.Popen(
        [
            str(venv / "bin" / "mlflow"),
            "models",
            "serve",
            "-m",
            str(model_dir),
            "--env-manager",
            "local",
            "-p",
            str(port),
            "-w",
            "1",
            "-h",
            "127.0.0.1",
        ],
        env={"PATH": f"{venv / 'bin'}:/usr/bin:/bin"},
    )
    try:
        url = f"http://127.0.0.1:{port}/invocations"
        wait_for(f"http://127.0.0.1:{port}/ping", method="GET", tries=600)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_for(url: str, *, method: str = "POST", tries: int = 200) -> None:
    for _ in range(tries):
        try:
            requests.request(method, url, json={"x": 1}, timeout=5)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} never answered")


# --- load ----------------------------------------------------------------------------------

LATENCY = re.compile(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
TOTAL = re.compile(r"(\d+) requests in ([\d.]+)(ms|s|m)")
ERRORS = re.compile(r"Non-2xx or 3xx responses: (\d+)")
SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def wrk(target: Target, body: Path, connections: int, seconds: float, work: Path) -> Run:
    """One wrk run against ``target`` with ``body``, billed to its processes."""
    script = work / "post.lua"
    lines = ['wrk.method = "POST"', f"wrk.body = io.open({json.dumps(str(body))}):read('*a')"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in target.headers.items()]
    script.write_text("\n".join(lines) + "\n")
    roles = target.pids()
    before = {role: cpu_seconds(pids) for role, pids in roles.items()}
    out = subprocess.run(
        [
            *("wrk", "--latency", "-s", str(script), "-d", f"{max(1, round(seconds))}s"),
            *("-t", str(min(connections, 2)), "-c", str(connections), target.url),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    after = {role: cpu_seconds(pids) for role, pids in roles.items()}
    total = TOTAL.search(out)
    assert total, out
    count = int(total.group(1))
    latencies = {p: float(v) * UNITS[u] for p, v, u in LATENCY.findall(out)}
    errors = int(m.group(1)) if (m := ERRORS.search(out)) else 0
    if socket := SOCKET_ERRORS.search(out):
        errors += sum(int(n) for n in socket.groups())
    return Run(
        requests=count,
        seconds=float(total.group(2)) * UNITS[total.group(3)] / 1000,
        p50_ms=latencies.get("50", float("nan")),
        p99_ms=latencies.get("99", float("nan")),
        errors=errors,
        cpu_ms={role: (after[role] - before[role]) * 1000 / max(count, 1) for role in roles},
    )


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


# --- the table -----------------------------------------------------------------------------


def median_run(runs: list[Run]) -> Run:
    """The run of median throughput (its latencies and CPU with it)."""
    ordered = sorted(runs, key=lambda run: run.rps)
    return ordered[len(ordered) // 2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scoring")
    parser.add_argument("--quick", action="store_true", help="one round of 3 s runs")
    parser.add_argument("--mlflow", type=Path, help="a virtualenv with mlflow installed")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("benchmarks.scoring needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    rounds, seconds = (1, 3.0) if args.quick else (3, 5.0)
    with tempfile.TemporaryDirectory(prefix="mms-scoring-bench-") as tmp:
        work = Path(tmp)
        bundle = work / "bundle"
        bundle.mkdir()
        (bundle / "score.py").write_text(ECHO_DRIVER)
        (bundle / "cpu.py").write_text(CPU_DRIVER)
        small = work / "small.json"
        small.write_text(json.dumps({"data": "x" * 1000}))
        large = work / "large.json"
        large.write_text(json.dumps({"data": "x" * 1_000_000}))
        with EmulatorProcess(
            work / "emulator",
            0.05,
            ["--token", TOKEN, "--max-body-bytes", str(2 << 20), "--file-root", str(work)],
        ) as emulator:
            account = Account(emulator.base_url)
            echo_uri, echo_key = account.deploy("echo", bundle / "score.py", 1)
            cpu1_uri, cpu1_key = account.deploy("cpu1", bundle / "cpu.py", 1)
            cpu2_uri, cpu2_key = account.deploy("cpu2", bundle / "cpu.py", 2)
            emulator_pid = emulator.pid

            def emulator_roles() -> dict[str, list[int]]:
                return {"emulator": [emulator_pid], "scoring": descendants(emulator_pid)}

            def bearer(key: str) -> dict[str, str]:
                return {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}

            # The same call on the emulator's own port, which forwards it to the replica.
            forwarded_uri = emulator.base_url + urlsplit(echo_uri).path
            with floor_server(bundle, "score.py") as (floor_url, floor):
                targets = [
                    Target("emulator", echo_uri, bearer(echo_key), emulator_roles),
                    Target("emulator's port", forwarded_uri, bearer(echo_key), emulator_roles),
                    Target(
                        "floor",
                        floor_url,
                        {"Content-Type": "application/json"},
                        lambda: {"floor": [floor.pid]},
                    ),
                ]
                with optional_mlflow(args.mlflow, bundle, work) as mlflow:
                    if mlflow is not None:
                        url, pid = mlflow
                        named = work / "mlflow.json"  # the same 1 KB string, as a named input
                        named.write_text(json.dumps({"inputs": {"data": ["x" * 1000]}}))
                        targets.append(
                            Target(
                                "mlflow",
                                url,
                                {"Content-Type": "application/json"},
                                lambda: {"mlflow": [pid, *descendants(pid)]},
                                body=named,
                            )
                        )
                    table = measure(targets, small, large, rounds, seconds, work)
            replicas = measure_replicas(
                [
                    Target("1 replica", cpu1_uri, bearer(cpu1_key), emulator_roles),
                    Target("2 replicas", cpu2_uri, bearer(cpu2_key), emulator_roles),
                ],
                small,
                rounds,
                seconds,
                work,
            )
    print_table(table, replicas, mlflow_given=args.mlflow is not None)
    return 0


@contextmanager
def optional_mlflow(
    venv: Path | None, bundle: Path, work: Path
) -> Iterator[tuple[str, int] | None]:
    """``mlflow_server`` when a virtualenv is given, else nothing."""
    if venv is None:
        yield None
        return
    with mlflow_server(venv, bundle, work) as server:
        yield server


Loads = dict[str, dict[str, Run]]  # load → target → run


def measure(
    targets: list[Target], small: Path, large: Path, rounds: int, seconds: float, work: Path
) -> Loads:
    loads = {
        "1 KB, concurrency 1": (small, 1),
        "1 KB, concurrency 8": (small, 8),
        "1 KB, concurrency 32": (small, 32),
        "1 MB, concurrency 1": (large, 1),
        "1 MB, concurrency 8": (large, 8),
    }
    runs: dict[str, dict[str, list[Run]]] = {load: {} for load in loads}
    for _ in range(rounds):
        for load, (body, connections) in loads.items():
            for target in targets:
                if target.body is not None and body is large:
                    continue
                run = wrk(target, target.body or body, connections, seconds, work)
                runs[load].setdefault(target.name, []).append(run)
    return {load: {name: median_run(r) for name, r in by.items()} for load, by in runs.items()}


def measure_replicas(
    targets: list[Target], small: Path, rounds: int, seconds: float, work: Path
) -> dict[str, Run]:
    runs: dict[str, list[Run]] = {}
    for _ in range(rounds):
        for target in targets:
            runs.setdefault(target.name, []).append(wrk(target, small, 8, seconds, work))
    return {name: median_run(r) for name, r in runs.items()}


def print_table(loads: Loads, replicas: dict[str, Run], *, mlflow_given: bool) -> None:
    print("| load | server | requests/s | p50 ms | p99 ms | CPU ms per request | errors |")
    print("|---|---|---|---|---|---|---|")
    for load, by in loads.items():
        for name, run in by.items():
            cpu = ", ".join(f"{role} {ms:.2f}" for role, ms in run.cpu_ms.items())
            print(
                f"| {load} | {name} | {run.rps:,.0f} | {run.p50_ms:.2f} | {run.p99_ms:.2f} "
                f"| {cpu} | {run.errors} |"
            )
    print()
    floor32 = loads["1 KB, concurrency 32"]["floor"].rps
    ours32 = loads["1 KB, concurrency 32"]["emulator"].rps
    print(f"- emulator / floor requests/s at concurrency 32: {ours32 / floor32:.2f} (target ≥ 0.5)")
    if "mlflow" in loads["1 KB, concurrency 32"]:
        theirs = loads["1 KB, concurrency 32"]["mlflow"].rps
        print(
            f"- emulator / mlflow requests/s at concurrency 32: {ours32 / theirs:.2f} (target ≥ 2)"
        )
    elif not mlflow_given:
        print("- mlflow: not run (give --mlflow VENV, a virtualenv with mlflow installed)")
    p50 = loads["1 KB, concurrency 1"]["emulator"].p50_ms
    print(f"- emulator p50 at concurrency 1: {p50:.2f} ms (target ≤ 0.5)")
    forwarded32 = loads["1 KB, concurrency 32"]["emulator's port"].rps
    forwarded_p50 = loads["1 KB, concurrency 1"]["emulator's port"].p50_ms
    print(
        f"- the same call on the emulator's port (forwarded): {forwarded32 / floor32:.2f} of "
        f"the floor at concurrency 32, p50 {forwarded_p50:.2f} ms at 1"
    )
    one, two = replicas["1 replica"], replicas["2 replicas"]
    print(
        f"- CPU-bound driver at concurrency 8: 1 replica {one.rps:,.0f}/s, 2 replicas "
        f"{two.rps:,.0f}/s: {two.rps / one.rps:.2f}x (target ≥ 1.7)"
    )


if __name__ == "__main__":
    sys.exit(main())
