"""``POST/GET models``: registering model versions (rules in ``MmsBackend``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
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
from mms_pulumi.schema import Model, RegisterModelRequest

PREFIX = ACCOUNT_PREFIX
router = APIRouter(tags=["models"])


# The seed documents 201, but the official 2017 CLI accepts only 200 (azure-cli-ml 0.1.0a20
# `model.py` `_model_register`: `if resp.status_code == 200`), as did the 2017-09 API: 200.
@router.post(
    "/models",
    openapi_extra=json_body(RegisterModelRequest),
    **answers(Model),
)
def register_model(account: AccountDep, backend: BackendDep, body: JsonBody = None) -> JSONResponse:
    """Register a model: a new id, the next version of its name; answers 200."""
    request = parse(backend.request_model_of(account, "models"), body)
    return created(backend.register_model(account, request))


@router.get("/models", **answers(list[Model]))
def list_models(
    request: Request,
    account: AccountDep,
    emulator: EmulatorDep,
    name: str | None = None,
    tag: str | None = None,
) -> Any:
    """Every model version, optionally of one name or carrying one tag."""
    items = emulator.backend.list_models(account, name=name, tag=tag)
    settings = emulator.settings
    return list_answer(request, items, settings.page_size, settings.api_version)


@router.get("/models/{model_id}", **answers(Model))
def get_model(model_id: str, account: AccountDep, backend: BackendDep) -> Any:
    """One model version."""
    return backend.get_model(account, model_id)
