"""``POST/GET manifests``: models plus the files and runtime an image is built from."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from mms_pulumi.emulator.errors import ApiError, field_detail, not_found
from mms_pulumi.emulator.records import ManifestRecord2017_09, read, stored, utc_now
from mms_pulumi.emulator.routes._common import (
    ACCOUNT_PREFIX,
    AccountDep,
    AccountScope,
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
from mms_pulumi.schema_2017_09 import CreateManifestRequest2017_09

PREFIX = ACCOUNT_PREFIX
router = APIRouter(tags=["manifests"])


@router.post(
    "/manifests",
    openapi_extra=json_body(CreateManifestRequest),
    **answers(Manifest),
)
def create_manifest(account: AccountDep, store: StoreDep, body: JsonBody = None) -> JSONResponse:
    """Create a manifest; every model id must be a model of this account. In 2017-09 it
    has a required ``name`` and ``driverProgram`` and is versioned per name (§5.1)."""
    request: CreateManifestRequest | CreateManifestRequest2017_09 = (
        parse(CreateManifestRequest2017_09, body)
        # generation: a 2017-09 manifest needs a name and a driver (§5.1).
        if account.v2017_09
        else parse(CreateManifestRequest, body)
    )
    missing = [
        field_detail("ModelNotFound", ("model_ids", index), f"no model {model_id} in this account")
        for index, model_id in enumerate(request.model_ids)
        if store.get("models", account.key, model_id) is None
    ]
    if missing:
        message = "The manifest refers to models that are not registered in this account."
        raise ApiError(400, message, missing)

    def make(version: int | None) -> NewObject:
        # generation: each generation records its own manifest shape.
        if isinstance(request, CreateManifestRequest2017_09):
            record = ManifestRecord2017_09(
                id=new_id(),
                version=version,
                created_time=utc_now(),
                **request.model_dump(exclude={"target_runtime"}),
                target_runtime=request.target_runtime.to_wire(),
            )
            return NewObject(record.id, stored(record))
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

    # generation: 2017-09 manifests are versioned per name (§5.1).
    versioned = account.v2017_09
    new = store.create("manifests", account.key, make, name=request.name, versioned=versioned)
    return created(shown_manifest(account, new.body))


def shown_manifest(account: AccountScope, body: dict[str, Any]) -> dict[str, Any]:
    """A stored manifest as the account's generation shows it."""
    # generation: each shows the fields its reference documents.
    model = ManifestRecord2017_09 if account.v2017_09 else Manifest
    return read(model, body).to_wire()


@router.get("/manifests", **answers(list[Manifest]))
def list_manifests(
    request: Request,
    account: AccountDep,
    emulator: EmulatorDep,
    model_id: Annotated[str | None, Query(alias="modelId")] = None,
    manifest_name: Annotated[str | None, Query(alias="manifestName")] = None,
) -> Any:
    """Every manifest of the account; 2017-09 filters by ``modelId`` and ``manifestName``."""
    found = emulator.store.select("manifests", account.key, name=manifest_name)
    items = [
        shown_manifest(account, body)
        for body in found
        if model_id is None or model_id in (body.get("modelIds") or [])
    ]
    settings = emulator.settings
    return list_answer(request, items, settings.page_size, settings.api_version)


@router.get("/manifests/{manifest_id}", **answers(Manifest))
def get_manifest(manifest_id: str, account: AccountDep, store: StoreDep) -> Any:
    """One manifest."""
    manifest = store.get("manifests", account.key, manifest_id)
    if manifest is None:
        raise not_found("manifest", manifest_id)
    return shown_manifest(account, manifest)
