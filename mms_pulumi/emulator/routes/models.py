"""``POST/GET models``: registering model versions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mms_pulumi.emulator.errors import not_found
from mms_pulumi.emulator.records import public, read, stored, utc_now
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
from mms_pulumi.schema import Model, RegisterModelRequest
from mms_pulumi.schema_2017_09 import RegisterModelRequest2017_09

PREFIX = ACCOUNT_PREFIX
router = APIRouter(tags=["models"])


# The seed documents 201, but the official 2017 CLI accepts only 200 (azure-cli-ml 0.1.0a20
# `model.py` `_model_register`: `if resp.status_code == 200`), as did the 2017-09 API: 200.
@router.post(
    "/models",
    openapi_extra=json_body(RegisterModelRequest),
    **answers(Model),
)
def register_model(account: AccountDep, store: StoreDep, body: JsonBody = None) -> JSONResponse:
    """Register a model: a new id, the next version of its name; answers 200."""
    request: RegisterModelRequest | RegisterModelRequest2017_09 = (
        parse(RegisterModelRequest2017_09, body)
        # generation: 2017-09 restates no name or tag limits (mms-api.md §5.1).
        if account.v2017_09
        else parse(RegisterModelRequest, body)
    )

    def make(version: int | None) -> NewObject:
        model = Model(
            id=new_id(),
            name=request.name,
            version=version or 1,
            url=request.url,
            mime_type=request.mime_type,
            description=request.description or "",
            tags=list(request.tags),
            unpack=request.unpack,
            created_at=utc_now(),
        )
        return NewObject(model.id, stored(model))

    new = store.create("models", account.key, make, name=request.name, versioned=True)
    return created(new.body)


@router.get("/models", **answers(list[Model]))
def list_models(
    request: Request,
    account: AccountDep,
    emulator: EmulatorDep,
    name: str | None = None,
    tag: str | None = None,
) -> Any:
    """Every model version, optionally of one name or carrying one tag."""
    items = [
        public(body)
        for body in emulator.store.select("models", account.key, name=name)
        if tag is None or tag in read(Model, body).tags
    ]
    settings = emulator.settings
    return list_answer(request, items, settings.page_size, settings.api_version)


@router.get("/models/{model_id}", **answers(Model))
def get_model(model_id: str, account: AccountDep, store: StoreDep) -> Any:
    """One model version."""
    model = store.get("models", account.key, model_id)
    if model is None:
        raise not_found("model", model_id)
    return public(model)
