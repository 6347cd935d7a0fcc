"""Wire format of the 2017-09-01-preview API (``accounts`` paths), beside ``schema.py``.

What differs from 2017-06 lives here; models, errors, operations, keys and pages are the
same bodies and stay in ``schema.py``. Every definition follows mms-api.md §5.1 (the
2017-09 reference) and §5.2 (what the official 2017-09 CLI, azure-cli-ml 0.1.0a22 to a27,
sent); the section is cited where a choice was made.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from mms_pulumi.schema import (
    MANIFEST_DESCRIPTION_MAX_LENGTH,
    TEXT_OR_EMPTY_PATTERN,
    Asset,
    ErrorBody,
    Model,
    Name,
    NonEmpty,
    OperationState,
    RequestModel,
    ResponseModel,
    ServiceName,
)

# §5.1 TargetRuntime: runtimeType is SparkPython or Python in 2017-09.
RuntimeType2017_09 = Literal["SparkPython", "Python"]
COMPUTE_TYPE = "Cluster"  # §5.1 ServiceCreateRequest.computeResource.type
Description = Annotated[
    str,
    StringConstraints(max_length=MANIFEST_DESCRIPTION_MAX_LENGTH, pattern=TEXT_OR_EMPTY_PATTERN),
]
PositiveInt = Annotated[int, Field(ge=1)]


class RegisterModelRequest2017_09(RequestModel):
    """Body of ``POST models`` in 2017-09 (§5.1 Model): the 2017-06 name and tag limits are
    not restated, and the official a27 CLI sent long file names and tags like ``my-tag``;
    only what any id refuses (empty, control characters, over 4096) is refused."""

    name: NonEmpty
    url: NonEmpty
    mime_type: NonEmpty
    description: Description | None = ""
    tags: list[NonEmpty] = Field(default_factory=list)
    unpack: bool = False


class TargetRuntime2017_09(RequestModel):
    """§5.1: ``runtimeType`` and a string → string ``properties`` map (both required; the
    CLI sent ``pipRequirements`` / ``condaEnvFile`` URLs in it, §5.2)."""

    runtime_type: RuntimeType2017_09
    properties: dict[NonEmpty, NonEmpty] = Field(default_factory=dict)


class CreateManifestRequest2017_09(RequestModel):
    """Body of ``POST manifests`` (§5.1 Manifest): ``name`` and ``driverProgram`` required."""

    name: NonEmpty
    driver_program: Name
    model_ids: list[NonEmpty] = Field(default_factory=list)
    model_type: Literal["Registered"] = "Registered"
    assets: list[Asset]
    target_runtime: TargetRuntime2017_09
    webservice_type: Literal["Realtime"] = "Realtime"  # §5.2: never sent, server default
    description: Description | None = ""


class Manifest2017_09(ResponseModel):
    """A manifest as 2017-09 answers it (§5.1): with ``name`` and ``version``."""

    id: str
    name: str | None = None
    version: int | None = None
    description: str | None = ""
    driver_program: str | None = None
    assets: list[Asset] = Field(default_factory=list)
    model_ids: list[str] = Field(default_factory=list)
    model_type: str = "Registered"
    target_runtime: dict[str, Any] | None = None
    webservice_type: str = "Realtime"
    created_time: datetime | None = None


class CreateImageRequest2017_09(RequestModel):
    """Body of ``POST images`` (§5.1 ImageRequest): no ``registryInfo`` any more."""

    name: NonEmpty
    manifest_id: NonEmpty
    image_type: Literal["Docker"]
    compute_resource_id: NonEmpty
    description: Description | None = ""


class Image2017_09(ResponseModel):
    """An image as 2017-09 answers it (§5.1): the manifest embedded, name and version."""

    id: str
    name: str | None = None
    version: int | None = None
    description: str | None = ""
    image_type: str = "Docker"
    manifest: Manifest2017_09 | None = None
    compute_resource_id: str | None = None
    created_time: datetime | None = None
    creation_state: OperationState | None = None
    image_location: str | None = None
    image_build_log_uri: str | None = None
    error: ErrorBody | None = None


class ComputeResource(RequestModel):
    """Where a service runs: the ML compute environment's ARM id (§5.1)."""

    id: NonEmpty
    type: Literal["Cluster"] = "Cluster"


class AutoScaler(RequestModel):
    """§5.1 ``autoScaler``: bounds of the replica count and what drives it."""

    autoscale_enabled: bool = False
    min_replicas: Annotated[int, Field(ge=0)] = 1
    max_replicas: PositiveInt = 10
    refresh_period_in_seconds: PositiveInt = 1
    target_utilization: Annotated[int, Field(ge=0, le=100)] = 70

    @model_validator(mode="after")
    def _bounds(self) -> AutoScaler:
        if self.min_replicas > self.max_replicas:
            raise PydanticCustomError(
                "replica_bounds", "minReplicas must not be more than maxReplicas"
            )
        return self


class ContainerResourceReservation(RequestModel):
    """§5.1: Kubernetes quantity strings (``"0.1"``, ``"1Gi"``)."""

    cpu: NonEmpty | None = None
    memory: NonEmpty | None = None


class DataCollection(RequestModel):
    """§5.1 ``dataCollection``: where model inputs and outputs are collected."""

    storage_enabled: bool = False
    event_hub_enabled: bool = False


class ServiceSettings(RequestModel):
    """What both create and update take (§5.1 ServiceCreateRequest / ServiceUpdateRequest)."""

    num_replicas: Annotated[int, Field(ge=0)] | None = None
    autoscaler: Annotated[AutoScaler | None, Field(alias="autoScaler")] = None
    container_resource_reservation: ContainerResourceReservation | None = None
    max_concurrent_requests_per_container: PositiveInt | None = None
    app_insights_enabled: bool | None = None
    data_collection: DataCollection | None = None

    @model_validator(mode="after")
    def _replicas_or_autoscale(self) -> ServiceSettings:
        if self.num_replicas is not None and self.autoscaler and self.autoscaler.autoscale_enabled:
            # §5.1: "cannot be specified if Autoscaler is enabled"; §5.2: the CLI drops it.
            raise PydanticCustomError(
                "replicas_with_autoscale",
                "numReplicas cannot be given while autoScaler.autoscaleEnabled is true",
            )
        return self


class CreateServiceRequest2017_09(ServiceSettings):
    """Body of ``POST services`` (§5.1 ServiceCreateRequest)."""

    name: ServiceName
    image_id: NonEmpty
    compute_resource: ComputeResource


class UpdateServiceRequest2017_09(ServiceSettings):
    """Body of ``PUT services/{id}`` (§5.1 ServiceUpdateRequest): ``imageId`` optional."""

    image_id: NonEmpty | None = None


class SettingsEcho(ResponseModel):
    """The 2017-09 settings as a service answer echoes them (wire objects kept as given)."""

    compute_resource: dict[str, Any] | None = None
    num_replicas: int | None = None
    autoscaler: Annotated[dict[str, Any] | None, Field(alias="autoScaler")] = None
    container_resource_reservation: dict[str, Any] | None = None
    max_concurrent_requests_per_container: int | None = None
    app_insights_enabled: bool | None = None
    data_collection: dict[str, Any] | None = None


class Service2017_09(SettingsEcho):
    """A service as 2017-09 answers it (§5.1 ServiceResponse): the image (with its
    manifest), the manifest and models embedded, and the settings echoed."""

    id: str
    name: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    state: OperationState | None = None
    scoring_uri: str | None = None
    image_id: str | None = None
    image: Image2017_09 | None = None
    manifest: Manifest2017_09 | None = None
    models: list[Model] = Field(default_factory=list)
    error: ErrorBody | None = None


class Deployment(ResponseModel):
    """One rollout of an image to a service (§5.1 Deployment); ``expiredAt`` once a later
    one replaced it."""

    id: str
    image_id: str
    service_name: str
    status: str
    created_at: datetime | None = None
    expired_at: datetime | None = None


__all__ = [
    "COMPUTE_TYPE",
    "AutoScaler",
    "ComputeResource",
    "ContainerResourceReservation",
    "CreateImageRequest2017_09",
    "CreateManifestRequest2017_09",
    "CreateServiceRequest2017_09",
    "DataCollection",
    "Deployment",
    "Image2017_09",
    "Manifest2017_09",
    "RegisterModelRequest2017_09",
    "Service2017_09",
    "ServiceSettings",
    "SettingsEcho",
    "TargetRuntime2017_09",
    "UpdateServiceRequest2017_09",
]
