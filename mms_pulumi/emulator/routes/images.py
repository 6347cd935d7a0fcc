"""``POST/GET images``: image builds (async operations)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from mms_pulumi.emulator.errors import not_found
from mms_pulumi.emulator.routes._common import (
    ACCOUNT_PREFIX,
    AccountDep,
    EmulatorDep,
    JsonBody,
    accepted,
    json_body,
    list_answer,
    new_id,
    now_iso,
    parse,
    public,
    reference_error,
)
from mms_pulumi.emulator.state import Emulator
from mms_pulumi.schema import CreateImageRequest

PREFIX = ACCOUNT_PREFIX
router = APIRouter(tags=["images"])


@router.post("/images", status_code=202, openapi_extra=json_body(CreateImageRequest))
def create_image(account: AccountDep, emulator: EmulatorDep, body: JsonBody = None) -> Response:
    """Start an image build; answers 202 with ``Operation-Location``."""
    request = parse(CreateImageRequest, body)
    if emulator.store.get("manifests", account.key, request.manifest_id) is None:
        raise reference_error("manifestId", f"no manifest {request.manifest_id} in this account")
    ident = new_id()
    version = 1 + sum(
        1
        for image in emulator.store.select("images", account.key)
        if image.get("manifestId") == request.manifest_id
    )
    record = emulator.runner.create(
        account.key,
        "Image",
        "build",
        "images",
        ident,
        f"{account.base_path}/images/{ident}",
        base_path=account.base_path,
    )
    image = {
        "id": ident,
        "imageType": request.image_type,
        "registryInfo": request.registry_info.to_wire(),
        "description": request.description,
        "manifestId": request.manifest_id,
        "createdTime": now_iso(),
        "creationState": "NotStarted",
        "imageLocation": None,
        "version": version,
        "_operationId": record.id,
    }
    emulator.store.insert("images", account.key, ident, image)
    return accepted(record)


def _shown(image: dict[str, Any], emulator: Emulator, account_key: str) -> dict[str, Any]:
    """An image with ``creationState`` following its build while it runs."""
    if image.get("creationState") in ("NotStarted", "Running"):
        record = emulator.store.get_operation(account_key, image.get("_operationId", ""))
        if record is not None and record.state in ("NotStarted", "Running"):
            image = {**image, "creationState": record.state}
    return public(image)


@router.get("/images")
def list_images(request: Request, account: AccountDep, emulator: EmulatorDep) -> Any:
    """Every image of the account."""
    items = [_shown(i, emulator, account.key) for i in emulator.store.select("images", account.key)]
    return list_answer(request, items, emulator.settings.page_size)


@router.get("/images/{image_id}")
def get_image(image_id: str, account: AccountDep, emulator: EmulatorDep) -> Any:
    """One image (the seed echoes ``registryInfo`` with its password)."""
    image = emulator.store.get("images", account.key, image_id)
    if image is None:
        raise not_found("image", image_id)
    return _shown(image, emulator, account.key)
