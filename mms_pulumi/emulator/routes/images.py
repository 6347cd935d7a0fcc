"""``POST/GET images``: image builds, async operations (rules in ``MmsBackend``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from mms_pulumi.emulator.records import ImageRecord
from mms_pulumi.emulator.routes._common import (
    ACCOUNT_PREFIX,
    AccountDep,
    BackendDep,
    EmulatorDep,
    JsonBody,
    accepted,
    answers,
    json_body,
    list_answer,
    log_base,
    parse,
)
from mms_pulumi.schema import CreateImageRequest

PREFIX = ACCOUNT_PREFIX
router = APIRouter(tags=["images"])


@router.post(
    "/images",
    status_code=202,
    openapi_extra=json_body(CreateImageRequest),
    **answers(None, 202),
)
def create_image(account: AccountDep, backend: BackendDep, body: JsonBody = None) -> Response:
    """Start an image build; answers 202 with ``Operation-Location``. 2017-09 images have a
    ``name`` and a ``computeResourceId`` instead of ``registryInfo`` (§5.1 ImageRequest)."""
    request = parse(backend.request_model_of(account, "images"), body)
    return accepted(backend.create_image(account, request))


@router.get("/images", **answers(list[ImageRecord]))
def list_images(
    request: Request,
    account: AccountDep,
    emulator: EmulatorDep,
    manifest_id: Annotated[str | None, Query(alias="manifestId")] = None,
    manifest_name: Annotated[str | None, Query(alias="manifestName")] = None,
) -> Any:
    """Every image of the account, or those of one manifest (2017-09 filters)."""
    items = emulator.backend.list_images(
        account,
        manifest_id=manifest_id,
        manifest_name=manifest_name,
        log_base=log_base(request, emulator),
    )
    settings = emulator.settings
    return list_answer(request, items, settings.page_size, settings.api_version)


@router.get("/images/{image_id}", **answers(ImageRecord))
def get_image(image_id: str, request: Request, account: AccountDep, emulator: EmulatorDep) -> Any:
    """One image."""
    return emulator.backend.get_image(account, image_id, log_base=log_base(request, emulator))
