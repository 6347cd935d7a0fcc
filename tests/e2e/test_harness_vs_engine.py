"""The harness checked against the real engine: the same scripted steps through
``tests/harness`` and through the Pulumi CLI, comparing what each asked of the provider and
what each stored.

The CLI's side comes from ``PULUMI_DEBUG_GRPC=<file>``: every engine→plugin call as a JSON
line (sdk/go/common/env/env.go DebugGRPC; pkg/resource/plugin/context.go
NewContextWithRoot adds sdk/go/pulumi-internal/rpcdebug's client interceptor to each plugin
dial; a unary call writes a ``request_started`` line then a ``response_completed`` one,
protobufs rendered by protojson with lowerCamelCase names). The harness records its calls
itself (``Result.calls``).

Compared, per operation and per resource: the order of provider methods, and the keys of
the properties each call carried; after each operation, the stored resources (type, id,
input keys, output keys). Differences the engine is entitled to are listed in KNOWN with
their reason; anything else fails.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mms_pulumi.emulator.process import EmulatorProcess
from scripts.pulumi_cli import EXAMPLES as EXAMPLES_DIR
from tests.e2e.conftest import StackFactory
from tests.e2e.test_examples import EXAMPLES, Example
from tests.harness import Engine
from tests.harness.results import Result
from tests.support import account_config

pytestmark = pytest.mark.e2e

RESOURCE_METHODS = ("Check", "Diff", "Create", "Update", "Read", "Delete")
# The property map of each request whose keys are compared (protojson name, harness name).
PROPERTY_MAP = {
    "Check": ("news", "news"),
    "Diff": ("news", "news"),
    "Create": ("properties", "properties"),
    "Update": ("news", "news"),
    "Read": ("properties", "properties"),
    "Delete": ("properties", "properties"),
}

# (operation, resource, what) the two may differ in, with why. Empty: none found.
KNOWN: dict[tuple[str, str, str], str] = {}


@dataclass(frozen=True)
class Call:
    method: str
    keys: tuple[str, ...]


Calls = dict[str, list[Call]]  # resource name → its calls, in order


def engine_calls(log: Path) -> Calls:
    """The provider calls of one CLI operation, from its PULUMI_DEBUG_GRPC file."""
    found: Calls = {}
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        method = entry["method"].rsplit("/", 1)[-1]
        if (
            not entry["method"].startswith("/pulumirpc.ResourceProvider/")
            or method not in RESOURCE_METHODS
            or entry.get("progress") != "request_started"
        ):
            continue
        request = entry.get("request") or {}
        name = str(request.get("urn", "")).rsplit("::", 1)[-1]
        keys = tuple(sorted((request.get(PROPERTY_MAP[method][0]) or {}).keys()))
        found.setdefault(name, []).append(Call(method, keys))
    return found


def harness_calls(result: Result) -> Calls:
    found: Calls = {}
    for phase in (result.preview, result):
        if phase is None:
            continue
        for call in phase.calls:
            if call.method not in RESOURCE_METHODS:
                continue
            sent = call.args.get(PROPERTY_MAP[call.method][1]) or {}
            found.setdefault(call.name, []).append(Call(call.method, tuple(sorted(sent))))
    return found


def stored(
    resources: list[Mapping[str, Any]],
) -> dict[str, tuple[str, bool, tuple[str, ...], tuple[str, ...]]]:
    """name → (type, has an id, input keys, output keys) of the custom resources in state."""
    return {
        str(r["urn"]).rsplit("::", 1)[-1]: (
            str(r["type"]),
            bool(r.get("id")),
            tuple(sorted(r.get("inputs") or {})),
            tuple(sorted(r.get("outputs") or {})),
        )
        for r in resources
        if r.get("custom", True) and not str(r["type"]).startswith("pulumi:providers:")
    }


def compare(operation: str, ours: Calls, theirs: Calls) -> list[str]:
    problems = []
    for name in sorted(set(ours) | set(theirs)):
        mine = [c.method for c in ours.get(name, [])]
        real = [c.method for c in theirs.get(name, [])]
        if mine != real and (operation, name, "methods") not in KNOWN:
            problems.append(f"{operation} {name}: harness {mine}, engine {real}")
        for a, b in zip(ours.get(name, []), theirs.get(name, []), strict=False):
            if a.keys != b.keys and (operation, name, f"{a.method} keys") not in KNOWN:
                problems.append(
                    f"{operation} {name} {a.method}: harness keys {a.keys}, engine {b.keys}"
                )
    return problems


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: example.name)
def test_harness_and_engine_agree(
    example: Example, stack: StackFactory, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """Per example: up, its in-place edit, its replacing edit, refresh, destroy."""
    cli = stack(example.name, **example.config)
    project = f"mms-{example.name}"
    plain = {k: v for k, v in example.config.items() if not k.startswith("secret__")}
    secret = {k.removeprefix("secret__"): v for k, v in example.config.items() if k not in plain}
    # Another account of the same emulator: the two runs' objects cannot meet.
    harness = Engine(
        EXAMPLES_DIR / example.name,
        project=project,
        stack="differential",
        config={
            **account_config(emulator.base_url, "harness"),
            "mms:operationTimeout": "120",
            **{f"{project}:{key}": value for key, value in {**plain, **secret}.items()},
        },
        secret_keys={f"{project}:{key}" for key in secret},
        state_path=tmp_path / "harness-state.json",
    )
    cli.run("config", "set", "mms:operationTimeout", "120")
    steps: list[tuple[str, dict[str, str]]] = [
        ("up", {}),
        ("up", {example.in_place.key: example.in_place.value}),
        ("up", {example.replace.key: example.replace.value}),
        ("refresh", {}),
        ("destroy", {}),
    ]
    problems: list[str] = []
    for index, (operation, edits) in enumerate(steps):
        label = f"{index}:{operation}"
        for key, value in edits.items():
            harness.config[f"{project}:{key}"] = value
            cli.run("config", "set", key, value)
        # The CLI's refresh previews first, as its up does (the harness's default is
        # --skip-preview: the tests that use it count one pass of reads).
        ours = (
            harness.refresh(skip_preview=False)
            if operation == "refresh"
            else (getattr(harness, operation)())
        )
        log = tmp_path / f"grpc-{index}.jsonl"
        cli.extra_env["PULUMI_DEBUG_GRPC"] = str(log)
        cli.run(operation, "--yes")
        del cli.extra_env["PULUMI_DEBUG_GRPC"]
        problems += compare(label, harness_calls(ours), engine_calls(log))

        theirs = stored(cli.exported()["deployment"].get("resources") or [])
        mine = stored(
            [
                {
                    "urn": r.urn,
                    "type": r.type,
                    "id": r.id,
                    "inputs": r.inputs,
                    "outputs": r.outputs,
                    "custom": r.custom,
                }
                for r in harness.load().values()
            ]
        )
        if mine != theirs and (label, "*", "state") not in KNOWN:
            problems.append(f"{label} state: harness {mine}, engine {theirs}")
    assert problems == [], "\n".join(problems)
