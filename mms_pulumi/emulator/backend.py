"""The emulator's rules for every MMS operation, between the routes and the store.

In moto's shape: one method per MMS operation holds the rules (what must exist, what is
recorded, how a version is numbered), and returns the object as the account's generation
shows it; a route parses the request, calls one method, and renders the answer. The
methods need a ``Store`` (and, to start builds, the ``OperationRunner``) and nothing of
HTTP, so tests call them in-process. The services' rules are in ``backend_services``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mms_pulumi.emulator.actions import Action
from mms_pulumi.emulator.backend_services import ServiceRules
from mms_pulumi.emulator.errors import ApiError, field_detail, not_found, reference_error
from mms_pulumi.emulator.records import (
    OPERATION_ID,
    ImageRecord,
    ManifestRecord2017_09,
    new_id,
    patched,
    public,
    read,
    stored,
    utc_now,
)
from mms_pulumi.emulator.scope import AccountScope
from mms_pulumi.emulator.store import NewObject, OperationRecord, Store
from mms_pulumi.schema import (
    CreateImageRequest,
    CreateManifestRequest,
    Manifest,
    Model,
    OperationState,
    RegisterModelRequest,
    ResponseRegistryInfo,
)
from mms_pulumi.schema_2017_09 import (
    CreateImageRequest2017_09,
    CreateManifestRequest2017_09,
    Image2017_09,
    RegisterModelRequest2017_09,
)
from mms_pulumi.wire import dialect_of

if TYPE_CHECKING:
    from mms_pulumi.emulator.operations import OperationRunner
    from mms_pulumi.emulator.services import ServiceHost


def shown_manifest(scope: AccountScope, body: dict[str, Any]) -> dict[str, Any]:
    """A stored manifest as the account's generation shows it (pure)."""
    # generation: each shows the fields its reference documents.
    model = ManifestRecord2017_09 if scope.v2017_09 else Manifest
    return read(model, body).to_wire()


def in_flight(image: dict[str, Any], operation: OperationRecord | None) -> dict[str, Any]:
    """A stored image with ``creationState`` following its build while it runs (pure)."""
    state = read(ImageRecord, image).creation_state
    if state is None or state.is_terminal or operation is None or operation.state == state:
        return image
    return patched(ImageRecord, image, creation_state=operation.state)


class MmsBackend(ServiceRules):
    """Every account's models, manifests, images and services, with the rules MMS applied
    to them (services in ``ServiceRules``)."""

    def __init__(
        self,
        store: Store,
        runner: OperationRunner | None = None,
        host: ServiceHost | None = None,
    ) -> None:
        self.store = store
        self.runner = runner
        self.host = host

    # --- models ------------------------------------------------------------------------------

    def register_model(
        self, scope: AccountScope, request: RegisterModelRequest | RegisterModelRequest2017_09
    ) -> dict[str, Any]:
        """A new id and the next version of the name, in the account."""

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

        new = self.store.create("models", scope.key, make, name=request.name, versioned=True)
        return public(new.body)

    def list_models(
        self, scope: AccountScope, *, name: str | None = None, tag: str | None = None
    ) -> list[dict[str, Any]]:
        """Every model version of the account, optionally of one name or with one tag."""
        return [
            public(body)
            for body in self.store.select("models", scope.key, name=name)
            if tag is None or tag in read(Model, body).tags
        ]

    def get_model(self, scope: AccountScope, model_id: str) -> dict[str, Any]:
        """One model version; 404 when the account has none of that id."""
        model = self.store.get("models", scope.key, model_id)
        if model is None:
            raise not_found("model", model_id)
        return public(model)

    # --- manifests ---------------------------------------------------------------------------

    def create_manifest(
        self, scope: AccountScope, request: CreateManifestRequest | CreateManifestRequest2017_09
    ) -> dict[str, Any]:
        """A manifest whose every model id is a model of the account (400 naming each one
        that is not); 2017-09 manifests are versioned per name (§5.1)."""
        missing = [
            field_detail(
                "ModelNotFound", ("model_ids", index), f"no model {model_id} in this account"
            )
            for index, model_id in enumerate(request.model_ids)
            if self.store.get("models", scope.key, model_id) is None
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
        versioned = scope.v2017_09
        new = self.store.create(
            "manifests", scope.key, make, name=request.name, versioned=versioned
        )
        return shown_manifest(scope, new.body)

    def list_manifests(
        self,
        scope: AccountScope,
        *,
        model_id: str | None = None,
        manifest_name: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every manifest of the account; 2017-09 filters by model id and manifest name."""
        return [
            shown_manifest(scope, body)
            for body in self.store.select("manifests", scope.key, name=manifest_name)
            if model_id is None or model_id in (body.get("modelIds") or [])
        ]

    def get_manifest(self, scope: AccountScope, manifest_id: str) -> dict[str, Any]:
        """One manifest; 404 when the account has none of that id."""
        manifest = self.store.get("manifests", scope.key, manifest_id)
        if manifest is None:
            raise not_found("manifest", manifest_id)
        return shown_manifest(scope, manifest)

    # --- images ------------------------------------------------------------------------------

    def create_image(
        self, scope: AccountScope, request: CreateImageRequest | CreateImageRequest2017_09
    ) -> OperationRecord:
        """Start building an image of a manifest of the account; the build's operation.
        Images are numbered per manifest (the version tags ``imageLocation``)."""
        if self.store.get("manifests", scope.key, request.manifest_id) is None:
            raise reference_error(
                "manifest_id", f"no manifest {request.manifest_id} in this account"
            )
        if self.runner is None:
            raise RuntimeError("this backend has no operation runner to build images with")
        runner = self.runner

        def make(version: int | None) -> NewObject:
            ident = new_id()
            operation = runner.new_operation(Action.BUILD_IMAGE, scope.key, scope.base_path, ident)
            # generation: what each generation's image records of its request.
            if isinstance(request, CreateImageRequest2017_09):
                own: dict[str, Any] = {
                    "name": request.name,
                    "compute_resource_id": request.compute_resource_id,
                }
            else:
                # The password is used for nothing here and never kept (see ImageRecord).
                registry = request.registry_info
                own = {
                    "registry_info": ResponseRegistryInfo(
                        user=registry.user, location=registry.location
                    )
                }
            image = ImageRecord(
                id=ident,
                image_type=request.image_type,
                description=request.description or "",
                manifest_id=request.manifest_id,
                created_time=utc_now(),
                creation_state=OperationState.NOT_STARTED,
                version=version,
                **own,
            )
            return NewObject(ident, stored(image, {OPERATION_ID: operation.id}), operation)

        new = self.store.create("images", scope.key, make, name=request.manifest_id, versioned=True)
        runner.wake()
        assert new.operation is not None
        return new.operation

    def shown_image(
        self, scope: AccountScope, image: dict[str, Any], *, log_base: str | None = None
    ) -> dict[str, Any]:
        """An image as the account's generation shows it, ``creationState`` following its
        build; in 2017-09 with its manifest embedded and, given ``log_base`` (the base URL
        the control routes answer on), its build log's URI (§5.1 Image)."""
        operation = self.store.get_operation(scope.key, image.get(OPERATION_ID, ""))
        image = in_flight(image, operation)
        # generation: 2017-09 shows an image with its manifest embedded and a build log.
        if not scope.v2017_09:
            return public(image)
        shown = read(Image2017_09, image)
        if log_base is not None and shown.creation_state is not None:
            # Where the build's log is read (a blob SAS URL at real MMS).
            log = f"{log_base.rstrip('/')}/_emulator/images/{shown.id}/buildlog"
            shown = shown.model_copy(update={"image_build_log_uri": log})
        manifest = self.store.get("manifests", scope.key, image.get("manifestId", ""))
        if manifest is not None:
            shown = shown.model_copy(update={"manifest": read(ManifestRecord2017_09, manifest)})
        return shown.to_wire()

    def list_images(
        self,
        scope: AccountScope,
        *,
        manifest_id: str | None = None,
        manifest_name: str | None = None,
        log_base: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every image of the account, or those of one manifest (2017-09 filters)."""
        found = self.store.select("images", scope.key, name=manifest_id)
        if manifest_name is not None:
            named = {
                body["id"] for body in self.store.select("manifests", scope.key, name=manifest_name)
            }
            found = [image for image in found if image.get("manifestId") in named]
        return [self.shown_image(scope, image, log_base=log_base) for image in found]

    def get_image(
        self, scope: AccountScope, image_id: str, *, log_base: str | None = None
    ) -> dict[str, Any]:
        """One image; 404 when the account has none of that id."""
        image = self.store.get("images", scope.key, image_id)
        if image is None:
            raise not_found("image", image_id)
        return self.shown_image(scope, image, log_base=log_base)

    @staticmethod
    def request_model_of(scope: AccountScope, kind: str) -> Any:
        """The request model the account's generation validates a ``kind`` body with (the
        generation's dialect, ``mms_pulumi.wire``)."""
        dialect = dialect_of(scope.generation)
        return {
            "models": dialect.register_model,
            "manifests": dialect.create_manifest,
            "images": dialect.create_image,
            "services": dialect.create_service,
            "service updates": dialect.update_service,
        }[kind]
