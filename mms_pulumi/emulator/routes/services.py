"""``POST/GET/PUT/DELETE services``: deploying, rolling and deleting web services."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from mms_pulumi.emulator.actions import WorkPayload
from mms_pulumi.emulator.errors import ApiError, field_detail, not_found
from mms_pulumi.emulator.records import (
    MAX_REPLICAS,
    OPERATION_ID,
    ImageRecord,
    ServiceRecord,
    new_keys,
    patched,
    public,
    read,
    replicas_wanted,
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
    log_base,
    new_id,
    parse,
    reference_error,
)
from mms_pulumi.emulator.services import Health
from mms_pulumi.emulator.state import Emulator
from mms_pulumi.emulator.store import NameTaken, NewObject
from mms_pulumi.emulator.work import DEPLOY_SERVICE, UPDATE_SERVICE
from mms_pulumi.schema import (
    AuthKeys,
    CreateServiceRequest,
    Image,
    Model,
    OperationState,
    RegenerateKeysRequest,
    Service,
    UpdateServiceRequest,
)
from mms_pulumi.schema_2017_09 import (
    CreateServiceRequest2017_09,
    Image2017_09,
    Service2017_09,
    ServiceSettings,
    UpdateServiceRequest2017_09,
)

PREFIX = ACCOUNT_PREFIX
router = APIRouter(tags=["services"])


def _built_image(emulator: Emulator, account: AccountScope, image_id: str) -> ImageRecord:
    """The image a service may run: of this account, and built successfully."""
    body = emulator.store.get("images", account.key, image_id)
    if body is None:
        raise reference_error("image_id", f"no image {image_id} in this account")
    image = read(ImageRecord, body)
    state = image.creation_state
    if state is None or not state.is_terminal:
        raise reference_error("image_id", f"image {image_id} is still building ({state})")
    if state != OperationState.SUCCEEDED:
        raise reference_error("image_id", f"image {image_id} failed to build; build a new one")
    return image


def _scoring_uri(request: Request, service_id: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/api/v1/service/{service_id}/score"


def _settings_of(request: object) -> dict[str, Any]:
    """The 2017-09 settings a create or update request gives, by field name, as stored
    (nested objects in their wire shape); nothing for a 2017-06 request."""
    if not isinstance(request, ServiceSettings):
        return {}
    names = set(ServiceSettings.model_fields)
    given = request.model_dump(by_alias=False, exclude_none=True, include=names)
    return {
        name: getattr(request, name).to_wire() if isinstance(value, dict) else value
        for name, value in given.items()
    }


def _replicas_problem(settings: dict[str, Any]) -> None:
    """A 400 when the settings ask for more scoring processes than the emulator runs."""
    wanted = replicas_wanted(settings.get("num_replicas"), settings.get("autoscaler"))
    if wanted <= MAX_REPLICAS:
        return
    scaled = bool((settings.get("autoscaler") or {}).get("autoscaleEnabled"))
    # Wire names: the path is shown as given (``autoscaler`` is ``autoScaler`` by alias).
    path = ("autoScaler", "minReplicas") if scaled else ("numReplicas",)
    raise ApiError(
        400,
        "The request asks for more replicas than the local emulator runs.",
        [
            field_detail(
                "TooManyReplicas",
                path,
                f"the local emulator runs at most {MAX_REPLICAS} scoring processes per "
                "service; ask for fewer",
            )
        ],
    )


def _name_taken(name: str) -> ApiError:
    return ApiError(
        409,
        f"A service named '{name}' already exists in this hosting account.",
        [("ServiceNameTaken", f"name: '{name}' is in use; choose another name")],
    )


@router.post(
    "/services",
    status_code=202,
    openapi_extra=json_body(CreateServiceRequest),
    **answers(None, 202),
)
def create_service(
    request: Request, account: AccountDep, emulator: EmulatorDep, body: JsonBody = None
) -> Response:
    """Start deploying a service; 409 when the name is taken, 202 otherwise. A 2017-09
    service targets a compute resource and takes replica and monitoring settings (§5.1)."""
    create: CreateServiceRequest | CreateServiceRequest2017_09 = (
        parse(CreateServiceRequest2017_09, body)
        # generation: a 2017-09 service takes compute and replica settings (§5.1).
        if account.v2017_09
        else parse(CreateServiceRequest, body)
    )
    pull_secret = create.acr_image_pull_secret if isinstance(create, CreateServiceRequest) else None
    settings = _settings_of(create)
    _replicas_problem(settings)
    # generation: only a 2017-09 service runs on a compute resource.
    if isinstance(create, CreateServiceRequest2017_09):
        settings["compute_resource"] = create.compute_resource.to_wire()
    # Checked here for the answer's sake, and again in the insert's transaction for races.
    if emulator.store.select("services", account.key, name=create.name):
        raise _name_taken(create.name)
    image = _built_image(emulator, account, create.image_id)

    def make(_version: int | None) -> NewObject:
        ident = new_id()
        operation = emulator.runner.new_operation(
            DEPLOY_SERVICE,
            account.key,
            account.base_path,
            ident,
            WorkPayload(
                image_id=image.id,
                manifest_id=image.manifest_id,
                acr_image_pull_secret=pull_secret,
                scoring_uri=_scoring_uri(request, ident),
            ),
        )
        stamp = utc_now()
        service = ServiceRecord(
            id=ident,
            name=create.name,
            image_id=image.id,
            manifest_id=image.manifest_id,
            acr_image_pull_secret=pull_secret,
            created_at=stamp,
            updated_at=stamp,
            state=OperationState.NOT_STARTED,
            **settings,
        )
        return NewObject(ident, stored(service, {OPERATION_ID: operation.id}), operation)

    try:
        new = emulator.store.create(
            "services", account.key, make, name=create.name, unique_name=True
        )
    except NameTaken:
        raise _name_taken(create.name) from None
    emulator.runner.wake()
    assert new.operation is not None
    return accepted(new.operation)


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
    emulator: EmulatorDep,
    body: JsonBody = None,
) -> Response:
    """Roll a service to another image (``imageId``, or the newest image of ``manifestId``);
    in 2017-09 ``imageId`` is optional and the settings of §5.1 ServiceUpdateRequest change."""
    service = emulator.store.get("services", account.key, service_id)
    if service is None:
        raise not_found("service", service_id)
    current = read(ServiceRecord, service)
    # generation: a 2017-09 update changes settings; a 2017-06 one the image or manifest.
    if account.v2017_09:
        changes = parse(UpdateServiceRequest2017_09, body)
        image_id = changes.image_id or current.image_id or ""
        pull_secret = None
        settings = _settings_of(changes)
        _replicas_problem(
            {"num_replicas": current.num_replicas, "autoscaler": current.autoscaler, **settings}
        )
    else:
        update = parse(UpdateServiceRequest, body)
        image_id = update.image_id or _newest_image_of(emulator, account, update.manifest_id or "")
        pull_secret, settings = update.acr_image_pull_secret, {}
    image = _built_image(emulator, account, image_id)
    operation = emulator.runner.new_operation(
        UPDATE_SERVICE,
        account.key,
        account.base_path,
        service_id,
        WorkPayload(
            image_id=image.id,
            manifest_id=image.manifest_id,
            acr_image_pull_secret=pull_secret or current.acr_image_pull_secret,
            scoring_uri=current.scoring_uri or _scoring_uri(request, service_id),
            settings=settings,
        ),
    )
    emulator.store.start_operation(
        operation, "services", service_id, {**service, OPERATION_ID: operation.id}
    )
    emulator.runner.wake()
    return accepted(operation)


def _newest_image_of(emulator: Emulator, account: AccountScope, manifest_id: str) -> str:
    built = [
        image
        for image in (
            read(ImageRecord, body)
            for body in emulator.store.select("images", account.key, name=manifest_id)
        )
        if image.creation_state == OperationState.SUCCEEDED
    ]
    if not built:
        raise reference_error(
            "manifest_id", f"no successfully built image of manifest {manifest_id}"
        )
    return built[-1].id


def _service_of(emulator: Emulator, account: AccountScope, service_id: str) -> dict[str, Any]:
    service = emulator.store.get("services", account.key, service_id)
    if service is None:
        raise not_found("service", service_id)
    return service


def current_keys(emulator: Emulator, service_id: str) -> AuthKeys:
    """A service's scoring keys, made on first use (services from before keys have none)."""
    return AuthKeys.model_validate(
        emulator.store.change_keys(service_id, lambda current: current or new_keys())
    )


# Not in the 2017-06 seed, but the official CLI of that generation called both on
# hostingAccounts paths (azure-cli-ml 0.1.0a20 `_constants.py` MMS_SERVICE_KEYS_URL_FMT,
# MMS_SERVICE_REGEN_KEYS_URL_FMT; `realtime.py` `_realtime_service_keys_handling`).
@router.get("/services/{service_id}/keys", **answers(AuthKeys))
def get_keys(service_id: str, account: AccountDep, emulator: EmulatorDep) -> Any:
    """The two keys the service's scoring endpoint accepts (``Authorization: Bearer <key>``)."""
    _service_of(emulator, account, service_id)
    return current_keys(emulator, service_id).to_wire()


@router.post(
    "/services/{service_id}/regenerateKeys",
    openapi_extra=json_body(RegenerateKeysRequest, required=False),
    **answers(AuthKeys),
)
def regenerate_keys(
    service_id: str, account: AccountDep, emulator: EmulatorDep, body: JsonBody = None
) -> Any:
    """Replace the ``keyType`` key (2017-09), or both when the body names none (the 2017
    CLI sent no body); answers the keys now in force."""
    _service_of(emulator, account, service_id)
    request = parse(RegenerateKeysRequest, {} if body is None else body)
    keys = emulator.store.change_keys(
        service_id, lambda current: new_keys(current, request.key_type)
    )
    return AuthKeys.model_validate(keys).to_wire()


@router.delete("/services/{service_id}", **answers(None))
def delete_service(service_id: str, account: AccountDep, emulator: EmulatorDep) -> Response:
    """Delete a service: 200 when it existed, 204 when there was none."""
    if emulator.store.get("services", account.key, service_id) is None:
        return Response(status_code=204)
    emulator.host.stop(service_id)
    if not emulator.store.delete("services", account.key, service_id):
        return Response(status_code=204)  # a concurrent delete won
    return Response(status_code=200)


def _shown(
    service: dict[str, Any], emulator: Emulator, account: AccountScope, request: Request
) -> dict[str, Any]:
    """A service as the account's generation shows it: ``state`` follows a running
    deployment (NotStarted, Running) or update (Running) and the health of its scoring
    processes, and ``scoringUri`` names this emulator as the caller reached it (its port
    may change across restarts). 2017-09 embeds image, manifest and models (§5.1)."""
    current = read(ServiceRecord, service)
    changes: dict[str, Any] = {}
    record = emulator.store.get_operation(account.key, service.get(OPERATION_ID, ""))
    if record is not None and not record.state.is_terminal:
        in_flight = record.state
        changes["state"] = OperationState.RUNNING if record.action == UPDATE_SERVICE else in_flight
    if current.scoring_uri:
        changes["scoring_uri"] = _scoring_uri(request, current.id)
    if current.state is OperationState.SUCCEEDED and "state" not in changes:
        # Truthful while its scoring process is down: being restarted, or failing to.
        health = emulator.host.status(current.id)
        if health is Health.RESTARTING:
            changes["state"] = OperationState.RUNNING
        elif health is Health.FAILED:
            changes["state"] = OperationState.FAILED
    image = emulator.store.get("images", account.key, current.image_id or "")
    # generation: 2017-09 shows a service with its image, manifest and models embedded.
    if not account.v2017_09:
        changes["image"] = read(Image, image) if image is not None else None
        return public(patched(Service, service, **changes))
    shown = read(Service2017_09, service).model_copy(update=changes)
    if image is not None:
        log = log_base(request, emulator) if request is not None else None
        embedded = Image2017_09.model_validate(
            emulator.backend.shown_image(account, image, log_base=log)
        )
        manifest = embedded.manifest
        models = [
            read(Model, body)
            for model_id in (manifest.model_ids if manifest else [])
            if (body := emulator.store.get("models", account.key, model_id)) is not None
        ]
        shown = shown.model_copy(update={"image": embedded, "manifest": manifest, "models": models})
    answer: dict[str, Any] = shown.to_wire()
    return answer


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
    wanted = name if name is not None else service_name
    shown = [
        _shown(s, emulator, account, request)
        for s in emulator.store.select("services", account.key, name=wanted)
    ]
    items = [
        item
        for item in shown
        if _matches(
            item, model_id, model_name, manifest_id, manifest_name, image_id, compute_resource_id
        )
    ]
    settings = emulator.settings
    return list_answer(request, items, settings.page_size, settings.api_version)


def _matches(
    service: dict[str, Any],
    model_id: str | None,
    model_name: str | None,
    manifest_id: str | None,
    manifest_name: str | None,
    image_id: str | None,
    compute_resource_id: str | None,
) -> bool:
    """Whether a shown service passes every filter given (unset filters pass)."""
    models = service.get("models") or []
    manifest = service.get("manifest") or {}
    checks = (
        (model_id, [m.get("id") for m in models]),
        (model_name, [m.get("name") for m in models]),
        (manifest_id, [service.get("manifestId") or manifest.get("id")]),
        (manifest_name, [manifest.get("name")]),
        (image_id, [service.get("imageId")]),
        (compute_resource_id, [(service.get("computeResource") or {}).get("id")]),
    )
    return all(wanted is None or wanted in values for wanted, values in checks)


@router.get("/services/{service_id}", **answers(Service))
def get_service(
    service_id: str, request: Request, account: AccountDep, emulator: EmulatorDep
) -> Any:
    """One service (``scoringUri`` once it serves, as the later MMS API added)."""
    service = emulator.store.get("services", account.key, service_id)
    if service is None:
        raise not_found("service", service_id)
    return _shown(service, emulator, account, request)
