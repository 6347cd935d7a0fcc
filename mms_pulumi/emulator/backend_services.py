"""The emulator's rules for services: deploy, roll, keys, delete, and how a service shows.

``ServiceRules`` is the services part of ``MmsBackend`` (``backend.py``), kept in its own
module for size. Its methods take what they need of the request as plain values (the base
URL a caller reached the emulator on, which a ``scoringUri`` names), so they run without
HTTP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from mms_pulumi.emulator.actions import Action, WorkPayload
from mms_pulumi.emulator.errors import ApiError, field_detail, not_found, reference_error
from mms_pulumi.emulator.records import (
    MAX_REPLICAS,
    OPERATION_ID,
    ImageRecord,
    ServiceRecord,
    new_id,
    new_keys,
    patched,
    public,
    read,
    replicas_wanted,
    stored,
    utc_now,
)
from mms_pulumi.emulator.scope import AccountScope
from mms_pulumi.emulator.scoring_rules import scoring_path
from mms_pulumi.emulator.services import Health
from mms_pulumi.emulator.store import NameTaken, NewObject, OperationRecord, Store
from mms_pulumi.schema import (
    AuthKeys,
    CreateServiceRequest,
    Image,
    KeyType,
    Model,
    OperationState,
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

if TYPE_CHECKING:
    from mms_pulumi.emulator.operations import OperationRunner
    from mms_pulumi.emulator.services import ServiceHost


def scoring_uri(base_url: str, service_id: str, port: int | None = None) -> str:
    """The scoring URI of a service, on the host the caller reached the emulator by: on
    the service's own scoring ``port`` when it has one open (its replicas answer there),
    else on the emulator's port, which forwards (pure)."""
    base = urlsplit(base_url.rstrip("/"))
    if port is not None and base.hostname is not None:
        host = f"[{base.hostname}]" if ":" in base.hostname else base.hostname
        base = base._replace(netloc=f"{host}:{port}")
    return f"{urlunsplit(base)}{scoring_path(service_id, '/score')}"


def settings_of(request: object) -> dict[str, Any]:
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


def replicas_problem(settings: dict[str, Any]) -> ApiError | None:
    """A 400 when the settings ask for more scoring processes than the emulator runs."""
    wanted = replicas_wanted(settings.get("num_replicas"), settings.get("autoscaler"))
    if wanted <= MAX_REPLICAS:
        return None
    scaled = bool((settings.get("autoscaler") or {}).get("autoscaleEnabled"))
    # Wire names: the path is shown as given (``autoscaler`` is ``autoScaler`` by alias).
    path = ("autoScaler", "minReplicas") if scaled else ("numReplicas",)
    return ApiError(
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


def name_taken(name: str) -> ApiError:
    """The 409 for a service name already in use in the account."""
    return ApiError(
        409,
        f"A service named '{name}' already exists in this hosting account.",
        [("ServiceNameTaken", f"name: '{name}' is in use; choose another name")],
    )


def shown_state(
    service: ServiceRecord, operation: OperationRecord | None, health: Health | None
) -> OperationState | None:
    """The ``state`` a service shows (pure): a running deployment's (NotStarted, Running)
    or update's (Running), else its own, and Running or Failed while a Succeeded service's
    scoring processes are being restarted or failing to be."""
    if operation is not None and not operation.state.is_terminal:
        if operation.action == Action.UPDATE_SERVICE:
            return OperationState.RUNNING
        return operation.state
    if service.state is OperationState.SUCCEEDED:
        if health is Health.RESTARTING:
            return OperationState.RUNNING
        if health is Health.FAILED:
            return OperationState.FAILED
    return service.state


def matches(service: dict[str, Any], filters: dict[str, str | None]) -> bool:
    """Whether a shown service passes every 2017-09 list filter given (unset ones pass)."""
    models = service.get("models") or []
    manifest = service.get("manifest") or {}
    values = {
        "model_id": [m.get("id") for m in models],
        "model_name": [m.get("name") for m in models],
        "manifest_id": [service.get("manifestId") or manifest.get("id")],
        "manifest_name": [manifest.get("name")],
        "image_id": [service.get("imageId")],
        "compute_resource_id": [(service.get("computeResource") or {}).get("id")],
    }
    return all(wanted is None or wanted in values[name] for name, wanted in filters.items())


def _rollout(
    runner: OperationRunner,
    action: Action,
    scope: AccountScope,
    service_id: str,
    image: ImageRecord,
    *,
    pull_secret: str | None,
    uri: str,
    settings: dict[str, Any] | None = None,
) -> OperationRecord:
    """The operation that deploys ``image`` to a service, or rolls the service to it."""
    payload = WorkPayload(
        image_id=image.id,
        manifest_id=image.manifest_id,
        acr_image_pull_secret=pull_secret,
        scoring_uri=uri,
        settings=settings or {},
    )
    return runner.new_operation(action, scope.key, scope.base_path, service_id, payload)


class ServiceRules:
    """The services part of ``MmsBackend``."""

    store: Store
    runner: OperationRunner | None
    host: ServiceHost | None

    def shown_image(
        self, scope: AccountScope, image: dict[str, Any], *, log_base: str | None = None
    ) -> dict[str, Any]:
        raise NotImplementedError  # ``MmsBackend`` has it

    def _runner(self) -> OperationRunner:
        if self.runner is None:
            raise RuntimeError("this backend has no operation runner to deploy services with")
        return self.runner

    def built_image(self, scope: AccountScope, image_id: str) -> ImageRecord:
        """The image a service may run: of this account, and built successfully."""
        body = self.store.get("images", scope.key, image_id)
        if body is None:
            raise reference_error("image_id", f"no image {image_id} in this account")
        image = read(ImageRecord, body)
        state = image.creation_state
        if state is None or not state.is_terminal:
            raise reference_error("image_id", f"image {image_id} is still building ({state})")
        if state != OperationState.SUCCEEDED:
            raise reference_error("image_id", f"image {image_id} failed to build; build a new one")
        return image

    def create_service(
        self,
        scope: AccountScope,
        create: CreateServiceRequest | CreateServiceRequest2017_09,
        *,
        base_url: str,
    ) -> OperationRecord:
        """Start deploying a service of a built image; 409 when the name is taken."""
        runner = self._runner()
        pull_secret = (
            create.acr_image_pull_secret if isinstance(create, CreateServiceRequest) else None
        )
        settings = settings_of(create)
        if (problem := replicas_problem(settings)) is not None:
            raise problem
        # generation: only a 2017-09 service runs on a compute resource.
        if isinstance(create, CreateServiceRequest2017_09):
            settings["compute_resource"] = create.compute_resource.to_wire()
        # Checked here for the answer's sake, and again in the insert's transaction for races.
        if self.store.select("services", scope.key, name=create.name):
            raise name_taken(create.name)
        image = self.built_image(scope, create.image_id)

        def make(_version: int | None) -> NewObject:
            ident = new_id()
            operation = _rollout(
                runner,
                Action.DEPLOY_SERVICE,
                scope,
                ident,
                image,
                pull_secret=pull_secret,
                uri=scoring_uri(base_url, ident),
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
            new = self.store.create("services", scope.key, make, name=create.name, unique_name=True)
        except NameTaken:
            raise name_taken(create.name) from None
        runner.wake()
        assert new.operation is not None
        return new.operation

    def update_service(
        self,
        scope: AccountScope,
        service_id: str,
        update: UpdateServiceRequest | UpdateServiceRequest2017_09,
        *,
        base_url: str,
    ) -> OperationRecord:
        """Roll a service to another image (``imageId``, or the newest built image of
        ``manifestId``); a 2017-09 update may change only settings (§5.1)."""
        runner = self._runner()
        service = self.service_body(scope, service_id)
        current = read(ServiceRecord, service)
        # generation: a 2017-09 update changes settings; a 2017-06 one the image or manifest.
        if isinstance(update, UpdateServiceRequest2017_09):
            image_id = update.image_id or current.image_id or ""
            pull_secret = None
            settings = settings_of(update)
            wanted = {
                "num_replicas": current.num_replicas,
                "autoscaler": current.autoscaler,
                **settings,
            }
            if (problem := replicas_problem(wanted)) is not None:
                raise problem
        else:
            image_id = update.image_id or self._newest_image_of(scope, update.manifest_id or "")
            pull_secret, settings = update.acr_image_pull_secret, {}
        image = self.built_image(scope, image_id)
        operation = _rollout(
            runner,
            Action.UPDATE_SERVICE,
            scope,
            service_id,
            image,
            pull_secret=pull_secret or current.acr_image_pull_secret,
            uri=current.scoring_uri or scoring_uri(base_url, service_id),
            settings=settings,
        )
        self.store.start_operation(
            operation, "services", service_id, {**service, OPERATION_ID: operation.id}
        )
        runner.wake()
        return operation

    def _newest_image_of(self, scope: AccountScope, manifest_id: str) -> str:
        built = [
            image
            for image in (
                read(ImageRecord, body)
                for body in self.store.select("images", scope.key, name=manifest_id)
            )
            if image.creation_state == OperationState.SUCCEEDED
        ]
        if not built:
            raise reference_error(
                "manifest_id", f"no successfully built image of manifest {manifest_id}"
            )
        return built[-1].id

    def service_body(self, scope: AccountScope, service_id: str) -> dict[str, Any]:
        """A service as stored; 404 when the account has none of that id."""
        service = self.store.get("services", scope.key, service_id)
        if service is None:
            raise not_found("service", service_id)
        return service

    def current_keys(self, service_id: str) -> AuthKeys:
        """A service's scoring keys, made on first use (services from before keys have none):
        a read, and a write only that first time."""
        return AuthKeys.model_validate(self.store.keys_made(service_id))

    def get_keys(self, scope: AccountScope, service_id: str) -> AuthKeys:
        """The two keys the service's scoring endpoint accepts."""
        self.service_body(scope, service_id)
        return self.current_keys(service_id)

    def regenerate_keys(
        self, scope: AccountScope, service_id: str, key_type: KeyType | None
    ) -> AuthKeys:
        """Replace one key, or both when none is named; the keys now in force."""
        self.service_body(scope, service_id)
        keys = self.store.change_keys(service_id, lambda current: new_keys(current, key_type))
        return AuthKeys.model_validate(keys)

    def delete_service(self, scope: AccountScope, service_id: str) -> bool:
        """Stop and delete a service; whether there was one to delete."""
        if self.store.get("services", scope.key, service_id) is None:
            return False
        if self.host is not None:
            self.host.stop(service_id)
        # A concurrent delete may have won: then there was none left to delete.
        return self.store.delete("services", scope.key, service_id)

    def shown_service(
        self,
        scope: AccountScope,
        service: dict[str, Any],
        *,
        base_url: str,
        log_base: str | None = None,
    ) -> dict[str, Any]:
        """A service as the account's generation shows it: ``state`` (``shown_state``),
        and ``scoringUri`` on the host the caller reached (``scoring_uri``; its port may
        change across restarts when the one it had is taken). 2017-09 embeds image,
        manifest and models (§5.1)."""
        current = read(ServiceRecord, service)
        operation = self.store.get_operation(scope.key, service.get(OPERATION_ID, ""))
        health = self.host.status(current.id) if self.host is not None else None
        changes: dict[str, Any] = {"state": shown_state(current, operation, health)}
        if current.scoring_uri:
            port = self.host.ports.port(current.id) if self.host is not None else None
            changes["scoring_uri"] = scoring_uri(base_url, current.id, port)
        image = self.store.get("images", scope.key, current.image_id or "")
        # generation: 2017-09 shows a service with its image, manifest and models embedded.
        if not scope.v2017_09:
            changes["image"] = read(Image, image) if image is not None else None
            return public(patched(Service, service, **changes))
        shown = read(Service2017_09, service).model_copy(update=changes)
        if image is not None:
            embedded = Image2017_09.model_validate(
                self.shown_image(scope, image, log_base=log_base)
            )
            manifest = embedded.manifest
            models = [
                read(Model, body)
                for model_id in (manifest.model_ids if manifest else [])
                if (body := self.store.get("models", scope.key, model_id)) is not None
            ]
            shown = shown.model_copy(
                update={"image": embedded, "manifest": manifest, "models": models}
            )
        answer: dict[str, Any] = shown.to_wire()
        return answer

    def list_services(
        self,
        scope: AccountScope,
        *,
        name: str | None,
        filters: dict[str, str | None],
        base_url: str,
        log_base: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every service of the account, or those of one name matching every filter."""
        shown = [
            self.shown_service(scope, body, base_url=base_url, log_base=log_base)
            for body in self.store.select("services", scope.key, name=name)
        ]
        return [item for item in shown if matches(item, filters)]

    def get_service(
        self, scope: AccountScope, service_id: str, *, base_url: str, log_base: str | None = None
    ) -> dict[str, Any]:
        """One service, as shown."""
        return self.shown_service(
            scope, self.service_body(scope, service_id), base_url=base_url, log_base=log_base
        )
