"""``POST/GET manifests``: models plus the files and runtime an image is built from."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mms_pulumi.emulator.errors import ApiError, field_detail, not_found
from mms_pulumi.emulator.records import public, stored, utc_now
from mms_pulumi.emulator.routes._common import (
    ACCOUNT_PREFIX,
    AccountDep,
    EmulatorDep,
    JsonBody,
    StoreDep,
    answers,
    created,
    json_body,
    list_answer,
    new_id,
    parse,
)
from mms_pulumi.emulator.store import NewObject
from mms_pulumi.schema import CreateManifestRequest, Manifest

PREFIX = ACCOUNT_PREFIX
router = APIRouter(tags=["manifests"])


@router.post(
    "/manifests",
    openapi_extra=json_body(CreateManifestRequest),
    **answers(Manifest),
)
def create_manifest(account: AccountDep, store: StoreDep, body: JsonBody = None) -> JSONResponse:
    """Create a manifest; every model id must be a model of this account."""
    request = parse(CreateManifestRequest, body)
    missing = [
        field_detail("ModelNotFound", ("model_ids", index), f"no model {model_id} in this account")
        for index, model_id in enumerate(request.model_ids)
        if store.get("models", account.key, model_id) is None
    ]
    if missing:
        message = "The manifest refers to models that are not registered in this account."
        raise ApiError(400, message, missing)

    def make(_version: int | None) -> NewObject:
        manifest = Manifest(
            id=new_id(),
            model_ids=list(request.model_ids),
            model_type=request.model_type,
            assets=list(request.assets),
            target_runtime=request.target_runtime,
            driver_program=request.driver_program,
            description=request.description,
            name=request.name,
            created_time=utc_now(),
        )
        return NewObject(manifest.id, stored(manifest))

    new = store.create("manifests", account.key, make, name=request.name)
    return created(new.body)


@router.get("/manifests", **answers(list[Manifest]))
def list_manifests(request: Request, account: AccountDep, emulator: EmulatorDep) -> Any:
    """Every manifest of the account."""
    items = [public(m) for m in emulator.store.select("manifests", account.key)]
    settings = emulator.settings
    return list_answer(request, items, settings.page_size, settings.api_version)


@router.get("/manifests/{manifest_id}", **answers(Manifest))
def get_manifest(manifest_id: str, account: AccountDep, store: StoreDep) -> Any:
    """One manifest."""
    manifest = store.get("manifests", account.key, manifest_id)
    if manifest is None:
        raise not_found("manifest", manifest_id)
    return public(manifest)
