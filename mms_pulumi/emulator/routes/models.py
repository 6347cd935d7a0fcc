"""``POST/GET models``: registering model versions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mms_pulumi.emulator.errors import not_found
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
from mms_pulumi.schema import RegisterModelRequest

PREFIX = ACCOUNT_PREFIX
router = APIRouter(tags=["models"])


@router.post("/models", status_code=201, openapi_extra=json_body(RegisterModelRequest))
def register_model(
    account: AccountDep, emulator: EmulatorDep, body: JsonBody = None
) -> JSONResponse:
    """Register a model: a new id, the next version of its name; answers 201."""
    request = parse(RegisterModelRequest, body)

    def make(version: int) -> tuple[str, dict[str, Any]]:
        ident = new_id()
        return ident, {
            "id": ident,
            "name": request.name,
            "version": version,
            "description": request.description,
            "url": request.url,
            "tags": list(request.tags),
            "mimeType": request.mime_type,
            "unpack": request.unpack,
            "createdAt": now_iso(),
        }

    model = emulator.store.insert_versioned("models", account.key, request.name, make)
    return created(model, 201)


@router.get("/models")
def list_models(
    request: Request,
    account: AccountDep,
    emulator: EmulatorDep,
    name: str | None = None,
    tag: str | None = None,
) -> Any:
    """Every model version, optionally of one name or carrying one tag."""
    items = [
        public(model)
        for model in emulator.store.select("models", account.key, name=name)
        if tag is None or tag in model.get("tags", [])
    ]
    return list_answer(request, items, emulator.settings.page_size)


@router.get("/models/{model_id}")
def get_model(model_id: str, account: AccountDep, emulator: EmulatorDep) -> Any:
    """One model version."""
    model = emulator.store.get("models", account.key, model_id)
    if model is None:
        raise not_found("model", model_id)
    return public(model)
