"""The work behind async operations: one handler per action (image build, service deploy,
service update).

A handler's ``run`` does the slow part on a worker thread and returns an ``Outcome``; its
``finish`` applies the outcome to the object once the operation's time is up. Any failure
becomes the operation's error, with details naming the file, URL or field and why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mms_pulumi.emulator.actions import Action
from mms_pulumi.emulator.builder import BuildFailure, build_image
from mms_pulumi.emulator.errors import error_body, field_detail
from mms_pulumi.emulator.records import (
    BUNDLE,
    DRIVER,
    ImageRecord,
    ManifestRecord2017_09,
    ServiceRecord,
    build_view,
    patched,
    read,
    replicas_of,
    stored,
)
from mms_pulumi.emulator.runtime import Backend, BackendError
from mms_pulumi.emulator.scope import generation_of_key
from mms_pulumi.emulator.services import ServiceHost
from mms_pulumi.emulator.store import NewObject, OperationRecord, Store
from mms_pulumi.schema import ApiGeneration, Manifest, Model, OperationState, OperationType
from mms_pulumi.schema_2017_09 import Deployment


def build_log_path(logs_dir: Path, image_id: str) -> Path:
    """Where an image's build log is kept."""
    return logs_dir / "builds" / f"{image_id}.log"


def read_build_log(logs_dir: Path, image_id: str) -> str | None:
    """An image's build log, or ``None`` when it has none (yet)."""
    try:
        return build_log_path(logs_dir, image_id).read_text(errors="replace")
    except FileNotFoundError:
        return None


BUILD_IMAGE = Action.BUILD_IMAGE
DEPLOY_SERVICE = Action.DEPLOY_SERVICE
UPDATE_SERVICE = Action.UPDATE_SERVICE
# action → (operationType on the wire, kind of object it builds or changes)
ACTIONS: dict[Action, tuple[OperationType, str]] = {
    action: (action.operation_type, action.resource_kind) for action in Action
}


@dataclass
class Outcome:
    """What the work of an operation produced: success, or the error to report."""

    ok: bool
    error: dict[str, Any] | None = None
    changes: dict[str, Any] = field(default_factory=dict)  # by Python field name
    private: dict[str, Any] = field(default_factory=dict)  # private keys of the stored body
    backends: list[Backend] = field(default_factory=list)


def failure(code: str, message: str, details: list[tuple[str, str]]) -> Outcome:
    """A failed outcome with an error in the seed's shape."""
    return Outcome(ok=False, error=error_body(400, message, details, code=code))


INJECTED = Outcome(
    ok=False,
    error=error_body(
        500,
        "The operation failed (fault injected by the emulator).",
        [("InjectedFailure", "fail_next_operations was set on /_emulator/faults")],
        code="InjectedFailure",
    ),
)

Run = Callable[[OperationRecord], Outcome]
Finish = Callable[[OperationRecord, Outcome, dict[str, Any], datetime], dict[str, Any]]


class Worker:
    """Performs and completes image builds, service deployments and service updates."""

    def __init__(
        self,
        store: Store,
        host: ServiceHost,
        bundles_dir: Path,
        *,
        run_services: bool = True,
        file_roots: Sequence[Path] = (Path("/"),),
        logs_dir: Path | None = None,
    ) -> None:
        self._store = store
        self._host = host
        self._bundles_dir = bundles_dir
        self._file_roots = tuple(file_roots)
        self._logs_dir = logs_dir or bundles_dir.parent / "logs"
        self._run_services = run_services
        self._handlers: dict[Action, tuple[Run, Finish]] = {
            BUILD_IMAGE: (self._build, self._finish_build),
            DEPLOY_SERVICE: (self._deploy, self._finish_service),
            UPDATE_SERVICE: (self._deploy, self._finish_service),
        }

    def run(self, record: OperationRecord) -> Outcome:
        """Do the operation's work (slow; runs on a worker thread)."""
        if record.payload.inject_failure:
            return INJECTED
        run, _ = self._handlers[record.action]
        return run(record)

    def finish(
        self, record: OperationRecord, outcome: Outcome, now: datetime
    ) -> dict[str, Any] | None:
        """Apply an outcome to the operation's object; the new body, or None if it is gone."""
        found = self._store.get_any(record.resource_kind, record.resource_id)
        if found is None:
            for backend in outcome.backends:
                self._host.discard(backend)
            return None
        _, finish = self._handlers[record.action]
        return finish(record, outcome, found[1], now)

    # --- image build -------------------------------------------------------------------------

    def _build(self, record: OperationRecord) -> Outcome:
        scope = record.scope
        image_body = self._store.get("images", scope, record.resource_id)
        if image_body is None:
            return failure("ImageNotFound", "The image was removed while it was building.", [])
        image = read(ImageRecord, image_body)
        manifest_body = self._store.get("manifests", scope, image.manifest_id or "")
        if manifest_body is None:
            return failure("ManifestNotFound", "The image's manifest is gone.", [])
        manifest = (
            build_view(read(ManifestRecord2017_09, manifest_body))
            # generation: a 2017-09 manifest is read in its own shape, then built alike.
            if generation_of_key(scope) is ApiGeneration.V2017_09
            else read(Manifest, manifest_body)
        )
        models: dict[str, Model | None] = {}
        for model_id in manifest.model_ids:
            body = self._store.get("models", scope, model_id)
            models[model_id] = read(Model, body) if body is not None else None
        try:
            built = build_image(image, manifest, models, self._bundles_dir, self._file_roots)
        except BuildFailure as err:
            return failure("ImageBuildFailed", err.message, err.details)
        return Outcome(
            ok=True,
            changes={"image_location": built.image_location},
            private={BUNDLE: str(built.bundle), DRIVER: built.driver_file},
        )

    def _finish_build(
        self, record: OperationRecord, outcome: Outcome, body: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        state = OperationState.SUCCEEDED if outcome.ok else OperationState.FAILED
        self._write_build_log(record, outcome, state, now)
        return {
            **patched(ImageRecord, body, creation_state=state, **outcome.changes),
            **outcome.private,
        }

    def _write_build_log(
        self, record: OperationRecord, outcome: Outcome, state: OperationState, now: datetime
    ) -> None:
        """The build's log, served as the 2017-09 ``imageBuildLogUri``: what it made, or
        the failure with every detail."""
        lines = [f"{now.isoformat()} image {record.resource_id}: build {state.value}"]
        if outcome.ok:
            lines.append(f"image location: {outcome.changes.get('image_location')}")
            lines.append(f"driver: {outcome.private.get(DRIVER) or 'none'}")
        elif outcome.error is not None:
            lines.append(str(outcome.error.get("message", "")))
            lines += [f"- {d.get('message', '')}" for d in outcome.error.get("details", [])]
        path = build_log_path(self._logs_dir, record.resource_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")

    # --- service deploy / update -------------------------------------------------------------

    def _deploy(self, record: OperationRecord) -> Outcome:
        payload = record.payload
        image_id = payload.image_id or ""
        image_body = self._store.get("images", record.scope, image_id)
        image = read(ImageRecord, image_body) if image_body is not None else None
        if image_body is None or image is None or image.creation_state != OperationState.SUCCEEDED:
            # Checked when the request was accepted; the image can only have gone since.
            rule = f"image {image_id} is no longer a built image of this account"
            detail = field_detail("ImageNotReady", ("image_id",), rule)
            return failure("ServiceDeploymentFailed", "The image cannot be deployed.", [detail])
        changes: dict[str, Any] = {
            "image_id": image_id,
            "manifest_id": payload.manifest_id or image.manifest_id,
            "acr_image_pull_secret": payload.acr_image_pull_secret,
            # 2017-09 settings the request changed (none in 2017-06).
            **payload.settings,
        }
        driver = image_body.get(DRIVER)
        if not self._run_services or not driver:
            return Outcome(ok=True, changes=changes)
        service = self._store.get("services", record.scope, record.resource_id)
        current = read(ServiceRecord, service) if service is not None else None
        name = current.name if current is not None else record.resource_id
        count = replicas_of(current.model_copy(update=changes)) if current is not None else 1
        try:
            backends = self._host.start_replicas(
                record.resource_id, name, Path(image_body[BUNDLE]), str(driver), count
            )
        except BackendError as err:
            return failure(
                "ServiceDeploymentFailed",
                f"The service could not start: {err}",
                [("ScoringProcessFailed", str(err))],
            )
        changes["scoring_uri"] = payload.scoring_uri
        return Outcome(ok=True, changes=changes, backends=backends)

    def _finish_service(
        self, record: OperationRecord, outcome: Outcome, body: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        if outcome.ok:
            if outcome.backends:
                self._host.route(record.resource_id, outcome.backends)
            state = OperationState.SUCCEEDED
            changes = outcome.changes
        else:
            state = OperationState.FAILED
            before = read(ServiceRecord, body).state
            if record.action == UPDATE_SERVICE and before is not None:
                # A failed update leaves the service as it was: its previous image serves on.
                state = before
            changes = {}
        # generation: only 2017-09 keeps deployments (mms-api.md §5.1).
        if generation_of_key(record.scope) is ApiGeneration.V2017_09:
            self._record_deployment(record, body, outcome, now)
        return patched(ServiceRecord, body, state=state, updated_at=now, **changes)

    def _record_deployment(
        self, record: OperationRecord, body: dict[str, Any], outcome: Outcome, now: datetime
    ) -> None:
        """A 2017-09 deployment (mms-api.md §5.1 Deployment) for this rollout; the one it
        replaces expires."""
        service = read(ServiceRecord, body)
        image_id = str(record.payload.image_id or service.image_id or "")
        if outcome.ok:
            for previous in self._store.select("deployments", record.scope, name=service.id):
                if previous.get("expiredAt") is None:
                    self._store.put(
                        "deployments",
                        record.scope,
                        previous["id"],
                        patched(Deployment, previous, expired_at=now),
                    )
        deployment = Deployment(
            id=record.id,
            image_id=image_id,
            service_name=service.name,
            status=(OperationState.SUCCEEDED if outcome.ok else OperationState.FAILED).value,
            created_at=now,
            expired_at=None if outcome.ok else now,
        )
        self._store.create(
            "deployments",
            record.scope,
            lambda _version: NewObject(deployment.id, stored(deployment)),
            name=service.id,
        )
