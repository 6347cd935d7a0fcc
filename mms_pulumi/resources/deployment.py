"""``Deployment``: model files to a scored endpoint in one resource.

The 2017 CLI's ``az ml service create realtime -f score.py --model-file model.pkl -r
python -n churn`` registered the model, created a manifest, built an image and deployed a
service. ``Deployment`` is that command as a Pulumi component: its four children are the
package's ``Model``, ``Manifest``, ``Image`` and ``Service``, parented to it, so
``pulumi preview`` shows the tree and says which child replaces when a file changes
(local files enter as content-hashed URLs, see ``_files``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from mms_pulumi.local import (
    LOCAL_COMPUTE_RESOURCE_ID,
    LOCAL_IMAGE_PULL_SECRET,
    LOCAL_KUBE_CONFIG,
    LOCAL_REGISTRY,
    LOCAL_REGISTRY_PASSWORD,
)
from mms_pulumi.resources._base import generation_of_account, is_loopback
from mms_pulumi.resources._fields import for_generation
from mms_pulumi.resources._files import FileInput, LocalFileError, ShippedFile, ship
from mms_pulumi.resources._resource import AccountInput, placement_props
from mms_pulumi.resources.image import FIELDS as IMAGE_FIELDS
from mms_pulumi.resources.image import Image, RegistryInfoArgs
from mms_pulumi.resources.manifest import Manifest
from mms_pulumi.resources.model import Model
from mms_pulumi.resources.service import FIELDS as SERVICE_FIELDS
from mms_pulumi.resources.service import (
    AutoscalerArgs,
    ComputeResourceArgs,
    ContainerResourceReservationArgs,
    DataCollectionArgs,
    Service,
    SmokeTestArgs,
)
from mms_pulumi.schema import ApiGeneration

TYPE_TOKEN = "mms:index:Deployment"
DRIVER_ASSET_ID = "driver"  # the id the CLI gave the driver asset, and the driverProgram
DRIVER_MIME_TYPE = "application/x-python"
ASSET_MIME_TYPE = "application/octet-stream"
MODEL_MIME_TYPE = "application/json"  # what the CLI always sent (mms-api.md §3, model)
ASSET_ID_CHARS = 32  # the CLI's asset ids were file names cut to 32 characters

# The CLI's -r flags and the wire values they meant (azure-cli-ml a20 and a27
# `mms_runtime_mapping`; mms-api.md §9). Wire values are accepted as they are.
CLI_RUNTIMES = {
    "spark-py": "SparkPython",
    "cntk-py": "CNTKPython",
    "scikit-py": "ScikitPython",
    "tlc": "Tlc37",
    "python": "Python",
}
DEFAULT_RUNTIME = {ApiGeneration.V2017_06: "scikit-py", ApiGeneration.V2017_09: "python"}


@dataclass(frozen=True)
class DeploymentArgs:
    """Everything one ``Deployment`` needs.

    ``model``, ``driver``, each of ``assets`` and the dependency files are URLs, local
    paths (a directory is packed and unpacked at build, as the CLI did) or Pulumi assets
    (``FileAsset``, ``FileArchive``, ``RemoteAsset``, ``RemoteArchive``). ``runtime`` is a
    CLI flag (``python``, ``spark-py``, ``scikit-py``, ``cntk-py``, ``tlc``) or a wire value.
    The service settings are those of the account's API generation: ``registry_info``,
    ``kube_config`` and ``acr_image_pull_secret`` for 2017-06; ``compute_resource`` and the
    replica and monitoring settings for 2017-09. On the local emulator the registry,
    kubeconfig, pull secret and compute resource may be left out (it uses none of them).
    """

    name: pulumi.Input[str]
    model: FileInput
    driver: FileInput
    runtime: str | None = None
    assets: Sequence[FileInput] = ()
    pip_requirements: FileInput | None = None
    conda_env_file: FileInput | None = None
    model_name: pulumi.Input[str] | None = None
    model_mime_type: pulumi.Input[str] = MODEL_MIME_TYPE
    description: pulumi.Input[str] | None = None
    tags: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None
    registry_info: pulumi.Input[RegistryInfoArgs | Mapping[str, Any]] | None = None
    kube_config: pulumi.Input[str] | None = None
    acr_image_pull_secret: pulumi.Input[str] | None = None
    compute_resource: ComputeResourceArgs | Mapping[str, Any] | None = None
    num_replicas: pulumi.Input[int] | None = None
    autoscaler: pulumi.Input[AutoscalerArgs | Mapping[str, Any]] | None = None
    container_resource_reservation: (
        pulumi.Input[ContainerResourceReservationArgs | Mapping[str, Any]] | None
    ) = None
    max_concurrent_requests_per_container: pulumi.Input[int] | None = None
    app_insights_enabled: pulumi.Input[bool] | None = None
    data_collection: pulumi.Input[DataCollectionArgs | Mapping[str, Any]] | None = None
    primary_key_version: pulumi.Input[str] | None = None
    secondary_key_version: pulumi.Input[str] | None = None
    smoke_test: SmokeTestArgs | Mapping[str, Any] | None = None
    account: AccountInput = None


# The service inputs a Deployment takes as they are, read off the Service's own input
# declarations: every one but those it derives (the image and manifest it makes, the
# account and name it shares with the other children).
DERIVED_SERVICE_INPUTS = frozenset({"name", "account", "image_id", "manifest_id"})
SERVICE_PASS_THROUGH = tuple(
    spec.name
    for spec in SERVICE_FIELDS
    if spec.name not in DERIVED_SERVICE_INPUTS
    and spec.name in {field.name for field in dataclasses.fields(DeploymentArgs)}
)


def wire_runtime(runtime: str | None, generation: ApiGeneration) -> str:
    """The ``runtimeType`` a CLI flag (or a wire value, kept as it is) stands for."""
    chosen = runtime or DEFAULT_RUNTIME[generation]
    return CLI_RUNTIMES.get(chosen, chosen)


def asset_id(shipped: ShippedFile) -> pulumi.Input[str]:
    """An extra asset's id: its file name cut to 32 characters, as the CLI made it."""
    if isinstance(shipped.name, pulumi.Output):
        return shipped.name.apply(lambda name: name[:ASSET_ID_CHARS])
    return str(shipped.name)[:ASSET_ID_CHARS]


def with_local_defaults(args: DeploymentArgs, generation: ApiGeneration) -> DeploymentArgs:
    """On the local emulator, what MMS needs but the emulator never uses may be left out:
    the registry, kubeconfig and pull secret (2017-06) or the compute resource (2017-09)."""
    stand_ins = {
        "compute_resource": args.compute_resource or {"id": LOCAL_COMPUTE_RESOURCE_ID},
        "registry_info": args.registry_info
        or {**LOCAL_REGISTRY, "password": pulumi.Output.secret(LOCAL_REGISTRY_PASSWORD)},
        "kube_config": args.kube_config or pulumi.Output.secret(LOCAL_KUBE_CONFIG),
        "acr_image_pull_secret": args.acr_image_pull_secret or LOCAL_IMAGE_PULL_SECRET,
    }
    # Only the stand-ins of the account's generation, as its inputs declare them.
    return dataclasses.replace(
        args, **for_generation((*IMAGE_FIELDS, *SERVICE_FIELDS), stand_ins, generation)
    )


def compute_resource_id(compute: ComputeResourceArgs | Mapping[str, Any] | None) -> Any:
    """The compute resource's id, which a 2017-09 image targets too."""
    if isinstance(compute, ComputeResourceArgs):
        return compute.id
    if isinstance(compute, Mapping):
        return compute.get("id")
    return None


class Deployment(pulumi.ComponentResource):
    """A model, its manifest, image and service: model files to a scored endpoint.

    ``Deployment("churn", DeploymentArgs(...))`` or ``Deployment("churn", name=..., ...)``.
    Outputs: ``scoring_uri``, ``service_id``, ``image_id``, ``manifest_id``, ``model_id``,
    ``model_version``, ``state``, and the scoring keys ``primary_key`` and
    ``secondary_key`` (secret; 2017-09 services have them). The children are ``model``,
    ``manifest``, ``image`` and ``service``.
    """

    model: Model
    manifest: Manifest
    image: Image
    service: Service
    scoring_uri: pulumi.Output[str | None]
    service_id: pulumi.Output[str]
    image_id: pulumi.Output[str]
    manifest_id: pulumi.Output[str]
    model_id: pulumi.Output[str]
    model_version: pulumi.Output[Any]
    state: pulumi.Output[str | None]
    primary_key: pulumi.Output[str | None]
    secondary_key: pulumi.Output[str | None]

    def __init__(
        self,
        resource_name: str,
        args: DeploymentArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Any,
    ) -> None:
        args = dataclasses.replace(args, **kwargs) if args else DeploymentArgs(**kwargs)
        super().__init__(TYPE_TOKEN, resource_name, None, opts)
        placed = placement_props(args.account)["account"]
        generation = generation_of_account(placed)
        endpoint = str(placed.get("endpoint") or "")
        local = is_loopback(endpoint)

        def shipped(field: str, value: FileInput) -> ShippedFile:
            try:
                return ship(field, value, endpoint_is_local=local, endpoint=endpoint)
            except LocalFileError as err:
                raise LocalFileError(f"Deployment {resource_name}: {err}") from None

        model_file = shipped("model", args.model)
        driver_file = shipped("driver", args.driver)
        extras = [shipped(f"assets[{index}]", value) for index, value in enumerate(args.assets)]
        properties = {
            key: shipped(key, value).url
            for key, value in (
                ("pip_requirements", args.pip_requirements),
                ("conda_env_file", args.conda_env_file),
            )
            if value is not None
        }
        child = pulumi.ResourceOptions(parent=self)
        account = args.account
        if local:
            args = with_local_defaults(args, generation)

        self.model = Model(
            f"{resource_name}-model",
            name=args.model_name or model_file.name,
            url=model_file.url,
            mime_type=args.model_mime_type,
            unpack=True if model_file.unpack else None,
            description=args.description,
            tags=args.tags,
            account=account,
            opts=child,
        )
        assets: list[dict[str, Any]] = [
            {"id": DRIVER_ASSET_ID, "url": driver_file.url, "mime_type": DRIVER_MIME_TYPE},
            *(
                {
                    "id": asset_id(extra),
                    "url": extra.url,
                    "mime_type": ASSET_MIME_TYPE,
                    **({"unpack": True} if extra.unpack else {}),
                }
                for extra in extras
            ),
        ]
        self.manifest = Manifest(
            f"{resource_name}-manifest",
            name=args.name,
            model_ids=[self.model.id],
            driver_program=DRIVER_ASSET_ID,
            assets=assets,
            target_runtime={
                "runtime_type": wire_runtime(args.runtime, generation),
                "properties": properties,
            },
            description=args.description,
            account=account,
            opts=child,
        )
        # What the component derives for the image goes only where the image's inputs
        # declare it (a 2017-09 image is named and targets the service's compute); what the
        # user gave goes as given, so the image's check names an input of the other API.
        derived = for_generation(
            IMAGE_FIELDS,
            {"name": args.name, "compute_resource_id": compute_resource_id(args.compute_resource)},
            generation,
        )
        self.image = Image(
            f"{resource_name}-image",
            manifest_id=self.manifest.id,
            registry_info=args.registry_info,
            description=args.description,
            account=account,
            opts=child,
            **derived,
        )
        # A 2017-06 service names its manifest (the seed's update needs it).
        manifest = for_generation(SERVICE_FIELDS, {"manifest_id": self.manifest.id}, generation)
        self.service = Service(
            f"{resource_name}-service",
            name=args.name,
            image_id=self.image.id,
            manifest_id=manifest.get("manifest_id"),
            account=account,
            opts=child,
            **{name: getattr(args, name) for name in SERVICE_PASS_THROUGH},
        )
        outputs: dict[str, pulumi.Output[Any]] = {
            "scoring_uri": self.service.scoring_uri,
            "service_id": self.service.id,
            "image_id": self.image.id,
            "manifest_id": self.manifest.id,
            "model_id": self.model.id,
            "model_version": self.model.version,
            "state": self.service.state,
            "primary_key": self.service.primary_key,
            "secondary_key": self.service.secondary_key,
        }
        for output, value in outputs.items():
            setattr(self, output, value)
        self.register_outputs(outputs)


__all__ = ["Deployment", "DeploymentArgs"]
