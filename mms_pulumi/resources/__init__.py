"""The four MMS resources, their providers and their typed nested-input classes."""

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
)

__all__ = [
    "AssetArgs",
    "AutoscalerArgs",
    "ComputeResourceArgs",
    "ContainerResourceReservationArgs",
    "DataCollectionArgs",
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
    "TargetRuntimeArgs",
]
