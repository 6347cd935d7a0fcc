"""``POST/GET manifests``: models plus the files and runtime an image is built from (rules
in ``MmsBackend``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from mms_pulumi.emulator.routes._common import (
    ACCOUNT_PREFIX,
    AccountDep,
    BackendDep,
    EmulatorDep,
    JsonBody,
    answers,
    created,
    json_body,
    list_answer,
    parse,
)
from mms_pulumi.schema import CreateManifestRequest, Manifest

PREFIX = ACCOUNT_PREFIX
router = APIRouter(tags=["manifests"])


@router.post(
    "/manifests",
    openapi_extra=json_body(CreateManifestRequest),
    **answers(Manifest),
)
def create_manifest(
    account: AccountDep, backend: BackendDep, body: JsonBody = None
) -> JSONResponse:
    """Create a manifest; every model id must be a model of this account. In 2017-09 it
    has a required ``name`` and ``driverProgram`` and is versioned per name (§5.1)."""
    request = parse(backend.request_model_of(account, "manifests"), body)
    return created(backend.create_manifest(account, request))


@router.get("/manifests", **answers(list[Manifest]))
def list_manifests(
    request: Request,
    account: AccountDep,
    emulator: EmulatorDep,
    model_id: Annotated[str | None, Query(alias="modelId")] = None,
    manifest_name: Annotated[str | None, Query(alias="manifestName")] = None,
) -> Any:
    """Every manifest of the account; 2017-09 filters by ``modelId`` and ``manifestName``."""
    items = emulator.backend.list_manifests(account, model_id=model_id, manifest_name=manifest_name)
    settings = emulator.settings
    return list_answer(request, items, settings.page_size, settings.api_version)


@router.get("/manifests/{manifest_id}", **answers(Manifest))
def get_manifest(manifest_id: str, account: AccountDep, backend: BackendDep) -> Any:
    """One manifest."""
    return backend.get_manifest(account, manifest_id)
