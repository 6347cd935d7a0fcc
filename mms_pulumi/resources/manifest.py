"""``Manifest``: the models, driver program, assets and runtime an image is built from.

Manifests are immutable and have no delete in MMS: any change creates a new manifest. In
2017-09 (``mms:apiVersion``) a manifest needs a ``name`` and a ``driver_program``, its
runtime is ``Python`` or ``SparkPython``, and its ``properties`` are a string map.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic as dynamic
from pydantic.alias_generators import to_camel

from mms_pulumi import schema
from mms_pulumi.resources._base import (
    ACCOUNT_DOC,
    EMULATOR_KEY,
    ImmutableMmsProvider,
    canonical,
    generation_of_account,
    inputs_of,
    iso,
    placement,
    wire_request,
)
from mms_pulumi.resources._fields import FieldSpec, OnChange, contains_unknown
from mms_pulumi.resources._resource import AccountInput, MmsResource, build_props
from mms_pulumi.schema import (
    ApiGeneration,
    Asset,
    FieldProblem,
    TargetRuntime,
)
from mms_pulumi.schema_2017_09 import (
    Manifest2017_09,
    TargetRuntime2017_09,
)
from mms_pulumi.wire import DIALECTS

FIELDS = (
    FieldSpec("model_ids", doc="at least one model id of the same account"),
    FieldSpec("assets", doc="files besides the models (`AssetArgs`): the driver, schemas"),
    FieldSpec(
        "target_runtime",
        doc="`{runtime_type, properties}` (`TargetRuntimeArgs`); 2017-06's properties are "
        "only `pip_requirements` and `conda_env_file` (URLs), 2017-09's a string map",
    ),
    FieldSpec("driver_program", default=None, doc="the id of the asset holding `score.py`"),
    FieldSpec("description", default=""),
    FieldSpec(
        "name",
        default=None,
        doc="a label in 2017-06 (sent as the 2017 clients did); in 2017-09 manifests are "
        "versioned per name",
    ),
    FieldSpec("account", doc=ACCOUNT_DOC),
    FieldSpec(EMULATOR_KEY, OnChange.IGNORE),
)
OUTPUTS = ("created_time",)
MODEL_TYPE = "Registered"


@dataclass(frozen=True)
class AssetArgs:
    """A file the image needs besides the models: the driver program, a schema, a dependency."""

    id: pulumi.Input[str]
    url: pulumi.Input[str]
    mime_type: pulumi.Input[str]
    unpack: pulumi.Input[bool] | None = None


@dataclass(frozen=True)
class RuntimePropertiesArgs:
    """Where the image build finds its dependencies: URLs of a pip or conda file."""

    pip_requirements: pulumi.Input[str] | None = None
    conda_env_file: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class TargetRuntimeArgs:
    """The runtime the image is built on: SparkPython, CNTKPython, ScikitPython or TLC."""

    runtime_type: pulumi.Input[str]
    properties: RuntimePropertiesArgs | Mapping[str, Any] | None = None


def _camel_properties(runtime: Any) -> Any:
    """A 2017-09 target runtime with its ``properties`` keys as the wire spells them
    (``pip_requirements`` → ``pipRequirements``): there they are a free string map."""
    if contains_unknown(runtime) or not isinstance(runtime, Mapping):
        return runtime
    properties = runtime.get("properties")
    if not isinstance(properties, Mapping):
        return dict(runtime)
    return {**runtime, "properties": {to_camel(k): v for k, v in properties.items()}}


class ManifestProvider(ImmutableMmsProvider):
    """Creates manifests; every change is a new manifest."""

    kind = "manifest"
    request_models = {g: dialect.create_manifest for g, dialect in DIALECTS.items()}
    fields = FIELDS
    fixed_wire = {"model_type": MODEL_TYPE}

    def normalize(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Fill nested defaults so recorded state and live reads compare equal."""
        assets = inputs.get("assets")
        if isinstance(assets, list):
            inputs["assets"] = [canonical(Asset, asset) for asset in assets]
        generation = generation_of_account(inputs.get("account"))
        inputs["target_runtime"] = _RUNTIMES[generation].canonical(inputs.get("target_runtime"))
        if inputs["target_runtime"] is None:
            del inputs["target_runtime"]
        return inputs

    def problems(self, inputs: Mapping[str, Any]) -> list[FieldProblem]:
        """The wire rules, plus: the driver program must be one of the assets."""
        problems = super().problems(inputs)
        driver, assets = inputs.get("driver_program"), inputs.get("assets")
        if isinstance(driver, str) and isinstance(assets, list) and not contains_unknown(assets):
            ids = [asset.get("id") for asset in assets if isinstance(asset, Mapping)]
            if driver not in ids:
                listed = ", ".join(repr(i) for i in ids) or "none"
                problems.append(
                    FieldProblem(
                        ("driver_program",),
                        f"must be the id of one of the assets (got {driver!r}; assets: {listed})",
                    )
                )
        return problems

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        """Create the manifest; MMS checks that every model id is registered in the account."""
        client = self.client(props)
        manifest = client.create_manifest(wire_request(self, props))
        return dynamic.CreateResult(manifest.id, self._outputs(props, manifest))

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        """Fetch the live manifest; a vanished one reads as deleted."""
        client = self.client(props)
        getter: Callable[[str], schema.Manifest | Manifest2017_09] = client.get_manifest
        manifest = self.get_live(id_, props, getter)
        if manifest is None:
            return dynamic.ReadResult(id_="", outs={})
        runtime = _RUNTIMES[generation_of_account(props.get("account"))].read(manifest)
        live = self.normalize(
            {
                "model_ids": list(manifest.model_ids),
                "assets": [a.model_dump(mode="json", by_alias=False) for a in manifest.assets],
                "target_runtime": runtime,
                "driver_program": manifest.driver_program,
                "description": manifest.description,
                "name": manifest.name,
                **placement(props),
            }
        )
        live = {key: value for key, value in live.items() if value is not None}
        return dynamic.ReadResult(id_, self._outputs(live, manifest), inputs_of(FIELDS, live))

    @staticmethod
    def _outputs(
        inputs: Mapping[str, Any], manifest: schema.Manifest | Manifest2017_09
    ) -> dict[str, Any]:
        return {**inputs_of(FIELDS, inputs), "created_time": iso(manifest.created_time)}


class Manifest(MmsResource, module="mms", name="Manifest"):
    """An MMS manifest: registered models plus the driver program and assets that serve them."""

    provider_class = ManifestProvider
    output_names = OUTPUTS

    model_ids: pulumi.Output[list[str]]
    assets: pulumi.Output[list[dict[str, Any]]]
    target_runtime: pulumi.Output[dict[str, Any]]
    driver_program: pulumi.Output[str | None]
    description: pulumi.Output[str]
    name: pulumi.Output[str | None]
    account: pulumi.Output[dict[str, str]]
    created_time: pulumi.Output[str | None]

    def __init__(
        self,
        resource_name: str,
        *,
        model_ids: pulumi.Input[Sequence[pulumi.Input[str]]],
        assets: pulumi.Input[Sequence[AssetArgs | Mapping[str, Any]]],
        target_runtime: pulumi.Input[TargetRuntimeArgs | Mapping[str, Any]],
        driver_program: pulumi.Input[str] | None = None,
        description: pulumi.Input[str] | None = None,
        name: pulumi.Input[str] | None = None,
        account: AccountInput = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Create a manifest; ``driver_program`` is the id of the asset holding ``score.py``."""
        inputs = {
            "model_ids": model_ids,
            "assets": assets,
            "target_runtime": target_runtime,
            "driver_program": driver_program,
            "description": description,
            "name": name,
        }
        props = build_props(inputs, OUTPUTS, account)
        super().__init__(ManifestProvider(), resource_name, props, opts)


__all__ = [
    "AssetArgs",
    "Manifest",
    "ManifestProvider",
    "RuntimePropertiesArgs",
    "TargetRuntimeArgs",
]


@dataclass(frozen=True)
class _Runtime:
    """How a generation's target runtime is written canonically and read back."""

    canonical: Callable[[Any], Any]
    read: Callable[[Any], Any]


def _read_runtime_2017_09(manifest: Manifest2017_09) -> dict[str, Any]:
    wire = manifest.target_runtime or {}
    return {"runtime_type": wire.get("runtimeType"), "properties": wire.get("properties") or {}}


_RUNTIMES = {
    ApiGeneration.V2017_06: _Runtime(
        canonical=lambda runtime: canonical(TargetRuntime, runtime),
        read=lambda manifest: manifest.target_runtime.model_dump(mode="json", by_alias=False),
    ),
    ApiGeneration.V2017_09: _Runtime(
        # Canonical like 2017-06's: an absent ``properties`` is the empty map MMS keeps.
        canonical=lambda runtime: canonical(TargetRuntime2017_09, _camel_properties(runtime)),
        read=_read_runtime_2017_09,
    ),
}
