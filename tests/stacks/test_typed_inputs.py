"""Inputs typed ``pulumi.Input[...Args | Mapping]`` accept an ``Output`` of either, through a
real program under the SDK's mocks (a preview: check and diff only, nothing is called)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi

from mms_pulumi import Image, Manifest, RegistryInfoArgs, TargetRuntimeArgs
from tests.harness import Engine
from tests.harness.plugin import unwrap
from tests.support import account_config

# Nothing listens here: a preview of new resources makes no MMS call.
ACCOUNT = account_config("http://127.0.0.1:9", "typed", "t")


def _program() -> dict[str, Any]:
    runtime = pulumi.Output.from_input("ScikitPython").apply(
        lambda kind: TargetRuntimeArgs(runtime_type=kind)
    )
    manifest = Manifest(
        "typed-manifest",
        model_ids=["model-1"],
        assets=[{"id": "score", "url": "file:///score.py", "mime_type": "text/x-python"}],
        target_runtime=runtime,
        driver_program="score",
    )
    registry = pulumi.Output.secret("pw").apply(
        lambda password: RegistryInfoArgs(user="u", location="acr.local", password=password)
    )
    Image("typed-image", manifest_id="manifest-1", registry_info=registry)
    return {"manifest": manifest.id}


def test_outputs_of_args_dataclasses_reach_check_as_plain_data(tmp_path: Path) -> None:
    engine = Engine(
        _program,
        project="typed-inputs",
        stack="test",
        config=ACCOUNT,
        state_path=tmp_path / "state.json",
    )
    plan = engine.preview()
    assert plan.ops() == {"typed-manifest": "create", "typed-image": "create"}
    checks = {call.name: call.args for call in plan.calls if call.method == "Check"}
    runtime = unwrap(checks["typed-manifest"]["news"]["target_runtime"])
    assert runtime["runtime_type"] == "ScikitPython"
    registry = unwrap(checks["typed-image"]["news"]["registry_info"])
    assert registry["location"] == "acr.local"
