"""The ``2017-06-01-privatepreview`` API (``hostingAccounts``) under the generation-neutral
names ``v2017_09`` uses too, so code written against one reads the other.

The models are defined in ``mms_pulumi.schema``; this module names them and holds the
rules that read this generation's bodies (which fields make two objects the same).
"""

from __future__ import annotations

from mms_pulumi.schema import (
    CreateImageRequest,
    CreateManifestRequest,
    CreateServiceRequest,
    Image,
    Manifest,
    Model,
    RegisterModelRequest,
    Service,
    TargetRuntime,
    UpdateServiceRequest,
)


def manifest_of(image: Image) -> str | None:
    """The manifest an image was built from."""
    return image.manifest_id


def same_image(image: Image, request: CreateImageRequest) -> bool:
    """Whether ``image`` is what ``request`` builds: the same manifest, type, description,
    and registry user and location (MMS never says the password back)."""
    registry = image.registry_info
    return (
        manifest_of(image) == request.manifest_id
        and image.image_type == request.image_type
        and (image.description or "") == (request.description or "")
        and registry is not None
        and (registry.user, registry.location)
        == (request.registry_info.user, request.registry_info.location)
    )


def same_manifest(manifest: Manifest, request: CreateManifestRequest) -> bool:
    """Whether ``manifest`` is what ``request`` makes: the same models, assets, runtime,
    driver and description (and name, where both have one: it is only a label here)."""
    return (
        (manifest.model_ids, manifest.model_type, manifest.assets)
        == (request.model_ids, request.model_type, request.assets)
        and manifest.target_runtime == request.target_runtime
        and manifest.driver_program == request.driver_program
        and manifest.description == request.description
        and (request.name is None or manifest.name in (None, request.name))
    )


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
