"""``POST/GET manifests``: models plus the files and runtime an image is built from."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mms_pulumi.emulator.errors import ApiError, not_found
from mms_pulumi.emulator.routes._common import (
    ACCOUNT_PREFIX,
    AccountDep,
    EmulatorDep,
    JsonBody,
    created,
    json_body,
    list_answer,
    new_id,
    now_iso,
    parse,
    public,
)
from mms_pulumi.schema import CreateManifestRequest

PREFIX = ACCOUNT_PREFIX
router = APIRouter(tags=["manifests"])


@router.post("/manifests", openapi_extra=json_body(CreateManifestRequest))
def create_manifest(
    account: AccountDep, emulator: EmulatorDep, body: JsonBody = None
) -> JSONResponse:
    """Create a manifest; every model id must be a model of this account."""
    request = parse(CreateManifestRequest, body)
    missing = [
        (index, model_id)
        for index, model_id in enumerate(request.model_ids)
        if emulator.store.get("models", account.key, model_id) is None
    ]
    if missing:
        raise ApiError(
            400,
            "The manifest refers to models that are not registered in this account.",
            [
                ("ModelNotFound", f"modelIds[{index}]: no model {model_id} in this account")
                for index, model_id in missing
            ],
        )
    ident = new_id()
    manifest = {"id": ident, **request.to_wire(), "createdTime": now_iso()}
    emulator.store.insert("manifests", account.key, ident, manifest, name=request.name)
    return created(manifest)


@router.get("/manifests")
def list_manifests(request: Request, account: AccountDep, emulator: EmulatorDep) -> Any:
    """Every manifest of the account."""
    items = [public(m) for m in emulator.store.select("manifests", account.key)]
    return list_answer(request, items, emulator.settings.page_size)


@router.get("/manifests/{manifest_id}")
def get_manifest(manifest_id: str, account: AccountDep, emulator: EmulatorDep) -> Any:
    """One manifest."""
    manifest = emulator.store.get("manifests", account.key, manifest_id)
    if manifest is None:
        raise not_found("manifest", manifest_id)
    return public(manifest)
