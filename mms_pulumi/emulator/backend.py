"""The emulator's rules for models and manifests, between the routes and the store.

In moto's shape: one method per MMS operation holds the rules (what must exist, what is
recorded, how a version is numbered), and returns the object as the account's generation
shows it; a route parses the request, calls one method, and renders the answer. The
methods need a ``Store`` and nothing of HTTP, so tests call them in-process.
"""

from __future__ import annotations

import uuid
from typing import Any

from mms_pulumi.emulator.errors import ApiError, field_detail, not_found
from mms_pulumi.emulator.records import ManifestRecord2017_09, public, read, stored, utc_now
from mms_pulumi.emulator.scope import AccountScope
from mms_pulumi.emulator.store import NewObject, Store
from mms_pulumi.schema import CreateManifestRequest, Manifest, Model, RegisterModelRequest
from mms_pulumi.schema_2017_09 import CreateManifestRequest2017_09, RegisterModelRequest2017_09
from mms_pulumi.wire import dialect_of


def shown_manifest(scope: AccountScope, body: dict[str, Any]) -> dict[str, Any]:
    """A stored manifest as the account's generation shows it (pure)."""
    # generation: each shows the fields its reference documents.
    model = ManifestRecord2017_09 if scope.v2017_09 else Manifest
    return read(model, body).to_wire()


class MmsBackend:
    """Models and manifests of every account, with the rules MMS applied to them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- models ------------------------------------------------------------------------------

    def register_model(
        self, scope: AccountScope, request: RegisterModelRequest | RegisterModelRequest2017_09
    ) -> dict[str, Any]:
        """A new id and the next version of the name, in the account."""

        def make(version: int | None) -> NewObject:
            model = Model(
                id=_new_id(),
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
                    id=_new_id(),
                    version=version,
                    created_time=utc_now(),
                    **request.model_dump(exclude={"target_runtime"}),
                    target_runtime=request.target_runtime.to_wire(),
                )
                return NewObject(record.id, stored(record))
            manifest = Manifest(
                id=_new_id(),
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

    @staticmethod
    def request_model_of(scope: AccountScope, kind: str) -> Any:
        """The request model the account's generation validates a ``kind`` body with."""
        dialect = dialect_of(scope.generation)
        return {"models": dialect.register_model, "manifests": dialect.create_manifest}[kind]


def _new_id() -> str:
    return str(uuid.uuid4())
