"""Stored objects as the schema's response models, so no emulator module spells a JSON key.

An object is stored as its wire body (what ``GET`` answers) plus a few private keys that
start with ``_`` (which operation drives it, where its bundle is); ``read`` turns a stored
body into a response model, ``stored`` and ``patched`` turn models back into bodies, and
``public`` strips the private keys before an answer leaves the emulator.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

from mms_pulumi.schema import (
    AuthKeys,
    Image,
    KeyType,
    Manifest,
    ResponseModel,
    RuntimeProperties,
    Service,
    TargetRuntime,
)
from mms_pulumi.schema_2017_09 import Manifest2017_09, SettingsEcho

# Private keys of stored bodies (never sent).
OPERATION_ID = "_operationId"
BUNDLE = "_bundle"
DRIVER = "_driver"
# Scope keys of 2017-09 accounts start with this (``AccountScope.key``).
ACCOUNTS_SCOPE = "accounts:"

ModelT = TypeVar("ModelT", bound=ResponseModel)


class ImageRecord(Image):
    """An image as the emulator answers it: the seed's fields, its extensions and ``version``.

    ``registryInfo`` is kept without its password: the seed echoed it, but no official
    client read it back, and a stored password is readable by every deployed driver.

    ``version`` counts the images of one manifest (1, 2, …) and tags ``imageLocation``.
    """

    version: int | None = None
    # 2017-09 (mms-api.md §5.1 Image): a name, the compute it targets, the build log.
    name: str | None = None
    compute_resource_id: str | None = None
    image_build_log_uri: str | None = None


def new_keys(
    current: dict[str, Any] | None = None, replace: KeyType | None = None
) -> dict[str, Any]:
    """A service's scoring keys as stored: ``current`` with the ``replace`` one new, or both
    new (no ``replace``, or no current keys)."""
    old = AuthKeys.model_validate(current) if current is not None else None
    primary, secondary = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    if old is not None and replace is KeyType.PRIMARY:
        secondary = old.secondary_key
    if old is not None and replace is KeyType.SECONDARY:
        primary = old.primary_key
    return AuthKeys(primary_key=primary, secondary_key=secondary).to_wire()


def new_id() -> str:
    """A fresh object id (a GUID, as MMS gave)."""
    return str(uuid.uuid4())


def utc_now() -> datetime:
    """Now, in UTC (every timestamp on the wire is ISO-8601 UTC)."""
    return datetime.now(UTC)


def public(body: dict[str, Any]) -> dict[str, Any]:
    """A stored body as MMS shows it: the private keys removed."""
    return {key: value for key, value in body.items() if not key.startswith("_")}


def private(body: dict[str, Any]) -> dict[str, Any]:
    """Only the private keys of a stored body."""
    return {key: value for key, value in body.items() if key.startswith("_")}


def read(model: type[ModelT], body: dict[str, Any]) -> ModelT:
    """A stored body as its response model (private keys are ignored)."""
    return model.model_validate(public(body))


def stored(record: ResponseModel, private_keys: dict[str, Any] | None = None) -> dict[str, Any]:
    """The body to store for a response model, with private keys (``_operationId`` …)."""
    return {**record.to_wire(), **(private_keys or {})}


def patched(model: type[ModelT], body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A stored body with some fields changed (by their Python names), private keys kept."""
    updated = read(model, body).model_copy(update=changes)
    return {**updated.to_wire(), **private(body)}


class ManifestRecord2017_09(Manifest2017_09):
    """A 2017-09 manifest as stored: its target runtime kept as the request gave it."""

    target_runtime: dict[str, Any] | None = None


def build_view(manifest: Manifest2017_09) -> Manifest:
    """A 2017-09 manifest as the image builder reads manifests: models, assets, driver and
    the requirement files of ``targetRuntime.properties`` (the runtime type does not
    change what a local build fetches)."""
    runtime = manifest.target_runtime or {}
    properties = runtime.get("properties") or {}
    return Manifest.model_construct(
        id=manifest.id,
        model_ids=list(manifest.model_ids),
        model_type=manifest.model_type,
        assets=list(manifest.assets),
        target_runtime=TargetRuntime.model_construct(
            runtime_type=runtime.get("runtimeType"),
            properties=RuntimeProperties.model_construct(
                pip_requirements=properties.get("pipRequirements"),
                conda_env_file=properties.get("condaEnvFile"),
            ),
        ),
        driver_program=manifest.driver_program,
        description=manifest.description or "",
        name=manifest.name,
        created_time=manifest.created_time,
    )


class ServiceRecord(Service, SettingsEcho):
    """A service as stored: the 2017-06 fields and the 2017-09 settings (mms-api.md §5.1
    ServiceCreateRequest), each generation answering with its own model."""


# Scoring processes one service may run here: MMS set no bound (mms-api.md §5.1), but each
# replica is a process on the user's machine, so the emulator refuses more (a 400 naming
# the field) and never starts more, whatever an older data directory holds.
MAX_REPLICAS = 16


def replicas_wanted(num_replicas: int | None, autoscaler: dict[str, Any] | None) -> int:
    """How many scoring processes these settings ask for: ``numReplicas``, or with
    autoscaling ``minReplicas`` (the emulator does not scale on load); at least one."""
    scaler = autoscaler or {}
    if scaler.get("autoscaleEnabled"):
        return max(1, int(scaler.get("minReplicas") or 1))
    return max(1, num_replicas or 1)


def replicas_of(service: ServiceRecord) -> int:
    """How many scoring processes a service runs: what it asks for, at most MAX_REPLICAS."""
    return min(MAX_REPLICAS, replicas_wanted(service.num_replicas, service.autoscaler))
