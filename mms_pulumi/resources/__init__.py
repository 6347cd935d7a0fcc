"""The four MMS resources, their providers, their typed nested-input classes, and the
``Deployment`` component that composes them.

Names are imported on first use: the plugin unpickles one provider class and imports its
module; it needs neither the other resources nor the component.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mms_pulumi._lazy import lazy_attributes

if TYPE_CHECKING:
    from mms_pulumi.resources.deployment import (
        Deployment,
        DeploymentArgs,
    )
    from mms_pulumi.resources.image import (
        Image,
        ImageProvider,
        RegistryInfoArgs,
    )
    from mms_pulumi.resources.manifest import (
        AssetArgs,
        Manifest,
        ManifestProvider,
        RuntimePropertiesArgs,
        TargetRuntimeArgs,
    )
    from mms_pulumi.resources.model import (
        Model,
        ModelProvider,
    )
    from mms_pulumi.resources.service import (
        AutoscalerArgs,
        ComputeResourceArgs,
        ContainerResourceReservationArgs,
        DataCollectionArgs,
        Service,
        ServiceProvider,
        SmokeTestArgs,
    )

_EXPORTS = {
    "mms_pulumi.resources.deployment": (
        "Deployment",
        "DeploymentArgs",
    ),
    "mms_pulumi.resources.image": (
        "Image",
        "ImageProvider",
        "RegistryInfoArgs",
    ),
    "mms_pulumi.resources.manifest": (
        "AssetArgs",
        "Manifest",
        "ManifestProvider",
        "RuntimePropertiesArgs",
        "TargetRuntimeArgs",
    ),
    "mms_pulumi.resources.model": (
        "Model",
        "ModelProvider",
    ),
    "mms_pulumi.resources.service": (
        "AutoscalerArgs",
        "ComputeResourceArgs",
        "ContainerResourceReservationArgs",
        "DataCollectionArgs",
        "Service",
        "ServiceProvider",
        "SmokeTestArgs",
    ),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

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

__getattr__ = lazy_attributes(__name__, globals(), _MODULE_OF)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
