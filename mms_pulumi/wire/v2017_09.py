"""The ``2017-09-01-preview`` API (``accounts``) under the generation-neutral names
``v2017_06`` uses too, so code written against one reads the other.

The models are defined in ``mms_pulumi.schema_2017_09`` (models themselves are the same
bodies as 2017-06's); this module names them and holds the rules that read this
generation's bodies (which fields make two objects the same).
"""

from __future__ import annotations

from mms_pulumi.schema import Model
from mms_pulumi.schema_2017_09 import CreateImageRequest2017_09 as CreateImageRequest
from mms_pulumi.schema_2017_09 import CreateManifestRequest2017_09 as CreateManifestRequest
from mms_pulumi.schema_2017_09 import CreateServiceRequest2017_09 as CreateServiceRequest
from mms_pulumi.schema_2017_09 import Image2017_09 as Image
from mms_pulumi.schema_2017_09 import Manifest2017_09 as Manifest
from mms_pulumi.schema_2017_09 import RegisterModelRequest2017_09 as RegisterModelRequest
from mms_pulumi.schema_2017_09 import Service2017_09 as Service
from mms_pulumi.schema_2017_09 import TargetRuntime2017_09 as TargetRuntime
from mms_pulumi.schema_2017_09 import UpdateServiceRequest2017_09 as UpdateServiceRequest


def manifest_of(image: Image) -> str | None:
    """The manifest an image was built from: 2017-09 embeds the manifest itself (§5.1)."""
    return image.manifest.id if image.manifest is not None else None


def same_image(image: Image, request: CreateImageRequest) -> bool:
    """Whether ``image`` is what ``request`` builds: the same name, manifest, type,
    compute resource and description."""
    return (
        manifest_of(image) == request.manifest_id
        and (image.name, image.image_type, image.compute_resource_id)
        == (request.name, request.image_type, request.compute_resource_id)
        and (image.description or "") == (request.description or "")
    )


def same_manifest(manifest: Manifest, request: CreateManifestRequest) -> bool:
    """Whether ``manifest`` is what ``request`` makes: the same name, driver, models,
    assets and description."""
    return (manifest.name, manifest.driver_program, manifest.model_ids, manifest.assets) == (
        request.name,
        request.driver_program,
        request.model_ids,
        request.assets,
    ) and manifest.description == request.description


__all__ = [
    "CreateImageRequest",
    "CreateManifestRequest",
    "CreateServiceRequest",
    "Image",
    "Manifest",
    "Model",
    "RegisterModelRequest",
    "Service",
    "TargetRuntime",
    "UpdateServiceRequest",
    "manifest_of",
    "same_image",
    "same_manifest",
]
