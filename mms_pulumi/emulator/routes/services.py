"""``POST/GET/PUT/DELETE services``: deploying, rolling and deleting web services (rules
in ``MmsBackend``: ``backend_services.ServiceRules``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

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
from mms_pulumi.schema import (
    AuthKeys,
    CreateServiceRequest,
    RegenerateKeysRequest,
    Service,
    UpdateServiceRequest,
)

PREFIX = ACCOUNT_PREFIX
router = APIRouter(tags=["services"])


@router.post(
    "/services",
    status_code=202,
    openapi_extra=json_body(CreateServiceRequest),
    **answers(None, 202),
)
def create_service(
    request: Request, account: AccountDep, backend: BackendDep, body: JsonBody = None
) -> Response:
    """Start deploying a service; 409 when the name is taken, 202 otherwise. A 2017-09
    service targets a compute resource and takes replica and monitoring settings (§5.1)."""
    create = parse(backend.request_model_of(account, "services"), body)
    return accepted(backend.create_service(account, create, base_url=str(request.base_url)))


@router.put(
    "/services/{service_id}",
    status_code=202,
    openapi_extra=json_body(UpdateServiceRequest),
    **answers(None, 202),
)
def update_service(
    service_id: str,
    request: Request,
    account: AccountDep,
    backend: BackendDep,
    body: JsonBody = None,
) -> Response:
    """Roll a service to another image (``imageId``, or the newest image of ``manifestId``);
    in 2017-09 ``imageId`` is optional and the settings of §5.1 ServiceUpdateRequest change."""
    backend.service_body(account, service_id)  # an unknown service is 404 before the body
    update = parse(backend.request_model_of(account, "service updates"), body)
    operation = backend.update_service(account, service_id, update, base_url=str(request.base_url))
    return accepted(operation)


# Not in the 2017-06 seed, but the official CLI of that generation called both on
# hostingAccounts paths (azure-cli-ml 0.1.0a20 `_constants.py` MMS_SERVICE_KEYS_URL_FMT,
# MMS_SERVICE_REGEN_KEYS_URL_FMT; `realtime.py` `_realtime_service_keys_handling`).
@router.get("/services/{service_id}/keys", **answers(AuthKeys))
def get_keys(service_id: str, account: AccountDep, backend: BackendDep) -> Any:
    """The two keys the service's scoring endpoint accepts (``Authorization: Bearer <key>``)."""
    return backend.get_keys(account, service_id).to_wire()


@router.post(
    "/services/{service_id}/regenerateKeys",
    openapi_extra=json_body(RegenerateKeysRequest, required=False),
    **answers(AuthKeys),
)
def regenerate_keys(
    service_id: str, account: AccountDep, backend: BackendDep, body: JsonBody = None
) -> Any:
    """Replace the ``keyType`` key (2017-09), or both when the body names none (the 2017
    CLI sent no body); answers the keys now in force."""
    backend.service_body(account, service_id)  # an unknown service is 404 before the body
    request = parse(RegenerateKeysRequest, {} if body is None else body)
    return backend.regenerate_keys(account, service_id, request.key_type).to_wire()


@router.delete("/services/{service_id}", **answers(None))
def delete_service(service_id: str, account: AccountDep, backend: BackendDep) -> Response:
    """Delete a service: 200 when it existed, 204 when there was none."""
    return Response(status_code=200 if backend.delete_service(account, service_id) else 204)


@router.get("/services", **answers(list[Service]))
def list_services(
    request: Request,
    account: AccountDep,
    emulator: EmulatorDep,
    name: str | None = None,
    service_name: Annotated[str | None, Query(alias="serviceName")] = None,
    model_id: Annotated[str | None, Query(alias="modelId")] = None,
    model_name: Annotated[str | None, Query(alias="modelName")] = None,
    manifest_id: Annotated[str | None, Query(alias="manifestId")] = None,
    manifest_name: Annotated[str | None, Query(alias="manifestName")] = None,
    image_id: Annotated[str | None, Query(alias="imageId")] = None,
    compute_resource_id: Annotated[str | None, Query(alias="computeResourceId")] = None,
) -> Any:
    """Every service of the account, or those matching every filter given (``name`` as
    the 2017-06 clients asked; the rest are the 2017-09 filters of §5)."""
    items = emulator.backend.list_services(
        account,
        name=name if name is not None else service_name,
        filters={
            "model_id": model_id,
            "model_name": model_name,
            "manifest_id": manifest_id,
            "manifest_name": manifest_name,
            "image_id": image_id,
            "compute_resource_id": compute_resource_id,
        },
        base_url=str(request.base_url),
        log_base=log_base(request, emulator),
    )
    settings = emulator.settings
    return list_answer(request, items, settings.page_size, settings.api_version)


@router.get("/services/{service_id}", **answers(Service))
def get_service(
    service_id: str, request: Request, account: AccountDep, emulator: EmulatorDep
) -> Any:
    """One service (``scoringUri`` once it serves, as the later MMS API added)."""
    return emulator.backend.get_service(
        account,
        service_id,
        base_url=str(request.base_url),
        log_base=log_base(request, emulator),
    )
