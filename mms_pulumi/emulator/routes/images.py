"""``POST/GET images``: image builds (async operations)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from mms_pulumi.emulator.errors import not_found
from mms_pulumi.emulator.records import (
    OPERATION_ID,
    ImageRecord,
    ManifestRecord2017_09,
    patched,
    public,
    read,
    stored,
    utc_now,
)
from mms_pulumi.emulator.routes._common import (
    ACCOUNT_PREFIX,
    AccountDep,
    AccountScope,
    EmulatorDep,
    JsonBody,
    accepted,
    answers,
    json_body,
    list_answer,
    new_id,
    parse,
    reference_error,
)
from mms_pulumi.emulator.state import Emulator
from mms_pulumi.emulator.store import NewObject
from mms_pulumi.emulator.work import BUILD_IMAGE
from mms_pulumi.schema import CreateImageRequest, OperationState, ResponseRegistryInfo
from mms_pulumi.schema_2017_09 import CreateImageRequest2017_09, Image2017_09

PREFIX = ACCOUNT_PREFIX
router = APIRouter(tags=["images"])


@router.post(
    "/images",
    status_code=202,
    openapi_extra=json_body(CreateImageRequest),
    **answers(None, 202),
)
def create_image(account: AccountDep, emulator: EmulatorDep, body: JsonBody = None) -> Response:
    """Start an image build; answers 202 with ``Operation-Location``. 2017-09 images have a
    ``name`` and a ``computeResourceId`` instead of ``registryInfo`` (§5.1 ImageRequest)."""
    request: CreateImageRequest | CreateImageRequest2017_09 = (
        parse(CreateImageRequest2017_09, body)
        # generation: a 2017-09 image is named and targets a compute resource (§5.1).
        if account.v2017_09
        else parse(CreateImageRequest, body)
    )
    if emulator.store.get("manifests", account.key, request.manifest_id) is None:
        raise reference_error("manifest_id", f"no manifest {request.manifest_id} in this account")

    def make(version: int | None) -> NewObject:
        ident = new_id()
        operation = emulator.runner.new_operation(
            BUILD_IMAGE, account.key, account.base_path, ident
        )
        generation_fields: dict[str, Any] = (
            {"name": request.name, "compute_resource_id": request.compute_resource_id}
            # generation: what each generation's image records of its request.
            if isinstance(request, CreateImageRequest2017_09)
            else {
                # The password is used for nothing here and never kept (see ImageRecord).
                "registry_info": ResponseRegistryInfo(
                    user=request.registry_info.user, location=request.registry_info.location
                )
            }
        )
        image = ImageRecord(
            id=ident,
            image_type=request.image_type,
            description=request.description or "",
            manifest_id=request.manifest_id,
            created_time=utc_now(),
            creation_state=OperationState.NOT_STARTED,
            version=version,
            **generation_fields,
        )
        return NewObject(ident, stored(image, {OPERATION_ID: operation.id}), operation)

    # Images are numbered per manifest: the version tags ``imageLocation``.
    new = emulator.store.create(
        "images", account.key, make, name=request.manifest_id, versioned=True
    )
    emulator.runner.wake()
    assert new.operation is not None
    return accepted(new.operation)


def shown_image(
    image: dict[str, Any],
    emulator: Emulator,
    account: AccountScope,
    request: Request | None = None,
) -> dict[str, Any]:
    """An image as the account's generation shows it, ``creationState`` following its
    build while it runs; in 2017-09 with its manifest embedded (§5.1 Image)."""
    state = read(ImageRecord, image).creation_state
    if state is not None and not state.is_terminal:
        record = emulator.store.get_operation(account.key, image.get(OPERATION_ID, ""))
        if record is not None and record.state != state:
            image = patched(ImageRecord, image, creation_state=record.state)
    # generation: 2017-09 shows an image with its manifest embedded and a build log.
    if not account.v2017_09:
        return public(image)
    shown = read(Image2017_09, image)
    if request is not None and emulator.settings.control_enabled and state is not None:
        # Where the build's log is read (a blob SAS URL at real MMS).
        log = f"{str(request.base_url).rstrip('/')}/_emulator/images/{shown.id}/buildlog"
        shown = shown.model_copy(update={"image_build_log_uri": log})
    manifest = emulator.store.get("manifests", account.key, image.get("manifestId", ""))
    if manifest is not None:
        shown = shown.model_copy(update={"manifest": read(ManifestRecord2017_09, manifest)})
    return shown.to_wire()


@router.get("/images", **answers(list[ImageRecord]))
def list_images(
    request: Request,
    account: AccountDep,
    emulator: EmulatorDep,
    manifest_id: Annotated[str | None, Query(alias="manifestId")] = None,
    manifest_name: Annotated[str | None, Query(alias="manifestName")] = None,
) -> Any:
    """Every image of the account, or those of one manifest (2017-09 filters)."""
    found = emulator.store.select("images", account.key, name=manifest_id)
    if manifest_name is not None:
        named = {
            body["id"]
            for body in emulator.store.select("manifests", account.key, name=manifest_name)
        }
        found = [image for image in found if image.get("manifestId") in named]
    items = [shown_image(image, emulator, account, request) for image in found]
    settings = emulator.settings
    return list_answer(request, items, settings.page_size, settings.api_version)


@router.get("/images/{image_id}", **answers(ImageRecord))
def get_image(image_id: str, request: Request, account: AccountDep, emulator: EmulatorDep) -> Any:
    """One image."""
    image = emulator.store.get("images", account.key, image_id)
    if image is None:
        raise not_found("image", image_id)
    return shown_image(image, emulator, account, request)
