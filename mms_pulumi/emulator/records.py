"""Stored objects as the schema's response models, so no emulator module spells a JSON key.

An object is stored as its wire body (what ``GET`` answers) plus a few private keys that
start with ``_`` (which operation drives it, where its bundle is); ``read`` turns a stored
body into a response model, ``stored`` and ``patched`` turn models back into bodies, and
``public`` strips the private keys before an answer leaves the emulator.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, TypeVar

from mms_pulumi.schema import AuthKeys, Image, KeyType, ResponseModel

# Private keys of stored bodies (never sent).
OPERATION_ID = "_operationId"
BUNDLE = "_bundle"
DRIVER = "_driver"

ModelT = TypeVar("ModelT", bound=ResponseModel)


class ImageRecord(Image):
    """An image as the emulator answers it: the seed's fields, its extensions and ``version``.

    ``registryInfo`` is kept without its password: the seed echoed it, but no official
    client read it back, and a stored password is readable by every deployed driver.

    ``version`` counts the images of one manifest (1, 2, …) and tags ``imageLocation``.
    """

    version: int | None = None


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
