"""The four MMS resources, their providers, their typed nested-input classes, and the
``Deployment`` component that composes them."""

from mms_pulumi.resources.deployment import Deployment, DeploymentArgs
from mms_pulumi.resources.image import Image, ImageProvider, RegistryInfoArgs
from mms_pulumi.resources.manifest import (
    AssetArgs,
    Manifest,
    ManifestProvider,
    RuntimePropertiesArgs,
    TargetRuntimeArgs,
)
from mms_pulumi.resources.model import Model, ModelProvider
from mms_pulumi.resources.service import (
    AutoscalerArgs,
    ComputeResourceArgs,
    ContainerResourceReservationArgs,
    DataCollectionArgs,
    Service,
    ServiceProvider,
    SmokeTestArgs,
)

__all__ = [
    "AssetArgs",
    "AutoscalerArgs",
    "ComputeResourceArgs",
    "ContainerResourceReservationArgs",
    "DataCollectionArgs",
    "Deployment",
    "DeploymentArgs",
    "Image",
    "ImageProvider",
    "Manifest",
    "ManifestProvider",
    "Model",
    "ModelProvider",
    "RegistryInfoArgs",
    "RuntimePropertiesArgs",
    "Service",
    "ServiceProvider",
    "SmokeTestArgs",
    "TargetRuntimeArgs",
]
