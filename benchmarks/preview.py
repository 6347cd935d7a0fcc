"""What `pulumi preview` costs per resource, and where the time goes.

A preview of an existing stack sends each resource a Check (state inputs, program inputs)
and a Diff (state outputs, checked inputs) and nothing else, one resource after another:
the engine's step generator calls them inline unless ``PULUMI_PARALLEL_DIFF`` is set
(pulumi/pulumi ``pkg/resource/deploy/step_generator.go``, the ``!sg.deployment.opts.
ParallelDiff`` branch before ``diffResource``; ``Options.ParallelDiff`` in ``deployment.go``,
off by default), so each resource costs two round trips in series. The engine is Go: its share
is building and reading the protobuf messages, which the benchmark therefore builds before
the clock starts (a Python serializer in the timed loop would measure the benchmark). The
stack is 200 resources, 50 each of Model, Manifest, Image and Service, all unchanged.

Layers are timed on the same requests: over gRPC through the real plugin process (what a
preview pays), the SDK's servicer in this process with each call handed to a thread pool
as the plugin's server does, the same servicer in one thread (its (de)serialization plus
ours, no network), and our providers' ``check`` and ``diff`` alone. The gRPC figure is
taken twice: from this process's Python stub, and, where Go and grpc-go are installed,
from a Go client that dials and calls as the engine does (``benchmarks/engine_client``),
which leaves out the Python stub's own CPU. The program side's per-resource cost, pickling
the provider into ``__provider``, is timed separately: it is paid while the program runs,
in both preview and up.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import types
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pulumi.dynamic
from google.protobuf import empty_pb2, struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2

from benchmarks import engine_client
from benchmarks.engine_client import EngineClientFigures, EngineClientUnavailable
from benchmarks.plugin import Plugin
from mms_pulumi.resources import ImageProvider, ManifestProvider, ModelProvider, ServiceProvider
from mms_pulumi.resources._base import MmsProvider
from mms_pulumi.resources._pickling import reset_sdk_pickler_patch

KUBE = (
    '{"apiVersion":"v1","kind":"Config","clusters":[{"name":"c","cluster":{"server":'
    '"https://k"}}],"users":[{"name":"u","user":{"token":"t"}}],"contexts":[{"name":"c",'
    '"context":{"cluster":"c","user":"u"}}],"current-context":"c"}'
)
ACCOUNT = {
    "endpoint": "http://127.0.0.1:9",  # nothing listens: check and diff make no call
    "subscription_id": "s",
    "resource_group": "r",
    "hosting_account": "a",
}
PROVIDERS: dict[str, MmsProvider] = {
    "Model": ModelProvider(),
    "Manifest": ManifestProvider(),
    "Image": ImageProvider(),
    "Service": ServiceProvider(),
}
OUTPUTS: dict[str, dict[str, Any]] = {
    "Model": {"version": 1.0, "created_at": "2017-06-01T00:00:00Z"},
    "Manifest": {"created_time": "2017-06-01T00:00:00Z"},
    "Image": {"creation_state": "Succeeded", "image_location": "acr.local/i:1"},
    "Service": {"state": "Succeeded", "scoring_uri": "http://127.0.0.1:9/score"},
}


def program_inputs(kind: str, index: int) -> dict[str, Any]:
    """The inputs a quickstart-shaped program gives one resource, as the plugin gets them:
    secrets unwrapped, since the plugin's Configure answers ``acceptSecrets: false``."""
    inputs: dict[str, dict[str, Any]] = {
        "Model": {"name": f"m{index}", "url": "file:///m.json", "mime_type": "application/json"},
        "Manifest": {
            "model_ids": [f"model-{index}"],
            "driver_program": "score",
            "assets": [{"id": "score", "url": "file:///score.py", "mime_type": "x-python"}],
            "target_runtime": {"runtime_type": "ScikitPython", "properties": {}},
        },
        "Image": {
            "manifest_id": f"manifest-{index}",
            "registry_info": {"user": "u", "location": "acr.local", "password": "p"},
        },
        "Service": {
            "name": f"svc{index}",
            "image_id": f"image-{index}",
            "manifest_id": f"manifest-{index}",
            "kube_config": KUBE,
            "acr_image_pull_secret": "acr-pull",
        },
    }
    return {
        **inputs[kind],
        "account": ACCOUNT,
        "__provider": str(serialize_provider(PROVIDERS[kind])),
    }


def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    return asyncio.run(rpc.serialize_properties(dict(values), {}))


@dataclass(frozen=True)
class Requests:
    """One resource's preview, already encoded as the engine would send it."""

    urn: str
    check: provider_pb2.CheckRequest
    diff_olds: struct_pb2.Struct  # the state's outputs
    resource_id: str


def stack_requests(resources: int) -> list[Requests]:
    """Every resource's Check request and Diff olds, from a first (untimed) check."""
    kinds = list(PROVIDERS)
    built = []
    for index in range(resources):
        reset_sdk_pickler_patch()
        kind = kinds[index % len(kinds)]
        urn = f"urn:pulumi:bench::bench::pulumi-python:dynamic/mms:{kind}::{kind}{index}"
        news = program_inputs(kind, index)
        checked = PROVIDERS[kind].check({}, news).inputs
        state = {**checked, **OUTPUTS[kind], "__provider": news["__provider"]}
        request = provider_pb2.CheckRequest(urn=urn, olds=_struct(checked), news=_struct(news))
        built.append(Requests(urn, request, _struct(state), f"id-{index}"))
    return built


def _preview(check: Callable[[Any], Any], diff: Callable[[Any], Any], stack: list[Requests]) -> int:
    """Check then Diff each resource; the number of resources the diff called changed."""
    changed = 0
    for item in stack:
        answer = check(item.check)
        assert not answer.failures, answer.failures
        request = provider_pb2.DiffRequest(
            id=item.resource_id, urn=item.urn, olds=item.diff_olds, news=answer.inputs
        )
        if diff(request).changes == provider_pb2.DiffResponse.DIFF_SOME:
            changed += 1
    return changed


def _timed(run: Callable[[], object], resources: int, rounds: int = 3) -> float:
    """Best of ``rounds`` runs, in milliseconds per resource (after one warm-up run)."""
    run()
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best * 1000 / resources


def sdk_servicer() -> Any:
    """The SDK plugin's servicer, in this process. ``pulumi/dynamic/__main__.py`` calls
    ``main()`` at import (no ``__name__`` guard), so its source runs here without that
    last line: the same Check and Diff code the plugin process runs."""
    source = Path(pulumi.dynamic.__file__).with_name("__main__.py").read_text()
    body, call = source.rstrip().rsplit("\n", 1)
    assert call.strip() == "main()", "pulumi.dynamic.__main__ changed shape; update the benchmark"
    module = types.ModuleType("pulumi_dynamic_plugin")
    exec(compile(body, "pulumi/dynamic/__main__.py", "exec"), module.__dict__)
    servicer = module.DynamicResourceProviderServicer()
    servicer.Configure(provider_pb2.ConfigureRequest(args=_struct({})), None)
    return servicer


@dataclass(frozen=True)
class PreviewProfile:
    """Milliseconds per resource of each layer of a preview."""

    grpc_plugin: float  # through the plugin process, from this process's Python stub
    plugin_cpu: float  # the plugin process's CPU time for it (its gRPC server included)
    grpc_floor: float  # two empty round trips (GetPluginInfo) to the same plugin
    sdk_pooled: float  # the SDK's servicer, each call handed to a 4-thread pool, no gRPC
    sdk_in_process: float  # the SDK's servicer in one thread (its (de)serialization + ours)
    ours: float  # our providers' check and diff alone
    pickling: float  # program side: pickling the provider into __provider
    # The same preview and floor from grpc-go, as the engine calls; None with the reason.
    engine: EngineClientFigures | None = None
    engine_missing: str = ""


def _ours(stack: list[Requests]) -> Iterator[tuple[MmsProvider, dict[str, Any], dict[str, Any]]]:
    for item in stack:
        kind = item.urn.rsplit("::", 1)[-1].rstrip("0123456789")
        olds = dict(rpc.deserialize_properties(item.check.olds, keep_unknowns=True))
        news = dict(rpc.deserialize_properties(item.check.news, keep_unknowns=True))
        state = dict(rpc.deserialize_properties(item.diff_olds, keep_unknowns=True))
        yield PROVIDERS[kind], {"olds": olds, "news": news}, state


def preview_profile(resources: int = 200) -> PreviewProfile:
    """Time a preview of an unchanged ``resources``-resource stack, layer by layer."""
    stack = stack_requests(resources)
    with tempfile.TemporaryDirectory() as data, Plugin(Path(data)) as plugin:
        plugin.configure({}, set())
        assert _preview(plugin.stub.Check, plugin.stub.Diff, stack) == 0
        through_grpc = _timed(
            lambda: _preview(plugin.stub.Check, plugin.stub.Diff, stack), resources
        )
        process = psutil.Process(plugin.pid)
        before = process.cpu_times()
        _preview(plugin.stub.Check, plugin.stub.Diff, stack)
        after = process.cpu_times()
        plugin_cpu = (after.user + after.system - before.user - before.system) * 1000 / resources
        empty = empty_pb2.Empty()
        floor = _timed(
            lambda: [plugin.stub.GetPluginInfo(empty) for _ in range(2 * resources)], resources
        )
        engine: EngineClientFigures | None = None
        engine_missing = ""
        try:
            engine = _from_go(plugin, stack, Path(data))
        except EngineClientUnavailable as err:
            engine_missing = str(err)
    servicer = sdk_servicer()
    in_process = _timed(
        lambda: _preview(
            lambda r: servicer.Check(r, None), lambda r: servicer.Diff(r, None), stack
        ),
        resources,
    )
    # The plugin's server runs each call on a thread of its pool (pulumi/dynamic/__main__.py
    # main(): ThreadPoolExecutor(max_workers=4)) and waits for it: the same servicer calls,
    # handed over one at a time, show what the hand-offs alone add.
    with ThreadPoolExecutor(max_workers=4) as pool:
        pooled = _timed(
            lambda: _preview(
                lambda r: pool.submit(servicer.Check, r, None).result(),
                lambda r: pool.submit(servicer.Diff, r, None).result(),
                stack,
            ),
            resources,
        )
    calls = list(_ours(stack))

    def ours() -> None:
        for provider, check, state in calls:
            checked = provider.check(check["olds"], check["news"]).inputs
            provider.diff("id", state, checked)

    provider = ModelProvider()

    def pickle_one() -> str:
        # What each resource's constructor does (MmsResource: build_props, then the SDK).
        reset_sdk_pickler_patch()
        return str(serialize_provider(provider))

    return PreviewProfile(
        grpc_plugin=through_grpc,
        plugin_cpu=plugin_cpu,
        grpc_floor=floor,
        sdk_pooled=pooled,
        sdk_in_process=in_process,
        ours=_timed(ours, resources),
        pickling=_timed(lambda: [pickle_one() for _ in range(resources)], resources),
        engine=engine,
        engine_missing=engine_missing,
    )


def _from_go(plugin: Plugin, stack: list[Requests], workdir: Path) -> EngineClientFigures:
    """The preview and floor from the Go client, on requests this plugin has answered once:
    each Diff carries the inputs its Check returned, as the engine's would. The Go client's
    answers are read back and must be the unchanged preview's."""
    requests: list[bytes] = []
    for item in stack:
        checked = plugin.stub.Check(item.check)
        diff = provider_pb2.DiffRequest(
            id=item.resource_id, urn=item.urn, olds=item.diff_olds, news=checked.inputs
        )
        requests += [item.check.SerializeToString(), diff.SerializeToString()]
    binary = engine_client.build(workdir)
    figures, answers = engine_client.run(binary, plugin.address, requests, workdir)
    for check_answer, diff_answer in zip(answers[::2], answers[1::2], strict=True):
        failures = provider_pb2.CheckResponse.FromString(check_answer).failures
        assert not failures, failures
        changes = provider_pb2.DiffResponse.FromString(diff_answer).changes
        assert changes != provider_pb2.DiffResponse.DIFF_SOME, "the Go client's diff changed"
    return figures
