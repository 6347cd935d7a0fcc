"""``POST/GET/PUT/DELETE services``: deploying, rolling and deleting web services."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from mms_pulumi.emulator.errors import ApiError, not_found
from mms_pulumi.emulator.routes._common import (
    ACCOUNT_PREFIX,
    Account,
    AccountDep,
    EmulatorDep,
    JsonBody,
    accepted,
    json_body,
    list_answer,
    new_id,
    now_iso,
    parse,
    public,
    reference_error,
)
from mms_pulumi.emulator.state import Emulator
from mms_pulumi.schema import CreateServiceRequest, UpdateServiceRequest

PREFIX = ACCOUNT_PREFIX
router = APIRouter(tags=["services"])


def _built_image(emulator: Emulator, account: Account, image_id: str) -> dict[str, Any]:
    image = emulator.store.get("images", account.key, image_id)
    if image is None:
        raise reference_error("imageId", f"no image {image_id} in this account")
    state = image.get("creationState")
    if state in ("NotStarted", "Running"):
        raise reference_error("imageId", f"image {image_id} is still building ({state})")
    if state != "Succeeded":
        raise reference_error("imageId", f"image {image_id} failed to build; build a new one")
    return dict(image)


def _scoring_uri(request: Request, service_id: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/api/v1/service/{service_id}/score"


@router.post("/services", status_code=202, openapi_extra=json_body(CreateServiceRequest))
def create_service(
    request: Request, account: AccountDep, emulator: EmulatorDep, body: JsonBody = None
) -> Response:
    """Start deploying a service; 409 when the name is taken, 202 otherwise."""
    create = parse(CreateServiceRequest, body)
    if emulator.store.select("services", account.key, name=create.name):
        raise ApiError(
            409,
            f"A service named '{create.name}' already exists in this hosting account.",
            [("ServiceNameTaken", f"name: '{create.name}' is in use; choose another name")],
        )
    image = _built_image(emulator, account, create.image_id)
    ident = new_id()
    record = emulator.runner.create(
        account.key,
        "Service",
        "deploy",
        "services",
        ident,
        f"{account.base_path}/services/{ident}",
        {
            "image_id": create.image_id,
            "manifestId": image.get("manifestId"),
            "acrImagePullSecret": create.acr_image_pull_secret,
            "scoring_uri": _scoring_uri(request, ident),
        },
        base_path=account.base_path,
    )
    stamp = now_iso()
    service = {
        "id": ident,
        "name": create.name,
        "imageId": create.image_id,
        "manifestId": image.get("manifestId"),
        "acrImagePullSecret": create.acr_image_pull_secret,
        "createdAt": stamp,
        "updatedAt": stamp,
        "state": "NotStarted",
        "_operationId": record.id,
    }
    emulator.store.insert("services", account.key, ident, service, name=create.name)
    return accepted(record)


@router.put(
    "/services/{service_id}", status_code=202, openapi_extra=json_body(UpdateServiceRequest)
)
def update_service(
    service_id: str,
    request: Request,
    account: AccountDep,
    emulator: EmulatorDep,
    body: JsonBody = None,
) -> Response:
    """Roll a service to another image (``imageId``, or the newest image of ``manifestId``)."""
    update = parse(UpdateServiceRequest, body)
    service = emulator.store.get("services", account.key, service_id)
    if service is None:
        raise not_found("service", service_id)
    image_id = update.image_id or _newest_image_of(emulator, account, update.manifest_id or "")
    image = _built_image(emulator, account, image_id)
    record = emulator.runner.create(
        account.key,
        "Service",
        "update",
        "services",
        service_id,
        f"{account.base_path}/services/{service_id}",
        {
            "image_id": image_id,
            "manifestId": update.manifest_id or image.get("manifestId"),
            "acrImagePullSecret": update.acr_image_pull_secret,
            "scoring_uri": service.get("scoringUri") or _scoring_uri(request, service_id),
        },
        base_path=account.base_path,
    )
    emulator.store.replace("services", service_id, {**service, "_operationId": record.id})
    return accepted(record)


def _newest_image_of(emulator: Emulator, account: Account, manifest_id: str) -> str:
    built = [
        image
        for image in emulator.store.select("images", account.key)
        if image.get("manifestId") == manifest_id and image.get("creationState") == "Succeeded"
    ]
    if not built:
        raise reference_error(
            "manifestId", f"no successfully built image of manifest {manifest_id}"
        )
    return str(built[-1]["id"])


@router.delete("/services/{service_id}")
def delete_service(service_id: str, account: AccountDep, emulator: EmulatorDep) -> Response:
    """Delete a service: 200 when it existed, 204 when there was none."""
    if emulator.store.get("services", account.key, service_id) is None:
        return Response(status_code=204)
    emulator.host.stop(service_id)
    emulator.store.delete("services", account.key, service_id)
    return Response(status_code=200)


def _shown(
    service: dict[str, Any], emulator: Emulator, account_key: str, request: Request
) -> dict[str, Any]:
    """A service as MMS shows it: ``state`` follows a running deployment or update, and
    ``scoringUri`` names this emulator as the caller reached it (its port may change)."""
    record = emulator.store.get_operation(account_key, service.get("_operationId", ""))
    if record is not None and record.state in ("NotStarted", "Running"):
        service = {**service, "state": record.state}
    if service.get("scoringUri"):
        service = {**service, "scoringUri": _scoring_uri(request, service["id"])}
    return public(service)


@router.get("/services")
def list_services(
    request: Request, account: AccountDep, emulator: EmulatorDep, name: str | None = None
) -> Any:
    """Every service of the account, or the one of a name."""
    items = [
        _shown(s, emulator, account.key, request)
        for s in emulator.store.select("services", account.key, name=name)
    ]
    return list_answer(request, items, emulator.settings.page_size)


@router.get("/services/{service_id}")
def get_service(
    service_id: str, request: Request, account: AccountDep, emulator: EmulatorDep
) -> Any:
    """One service (``scoringUri`` once it serves, as the later MMS API added)."""
    service = emulator.store.get("services", account.key, service_id)
    if service is None:
        raise not_found("service", service_id)
    return _shown(service, emulator, account.key, request)
