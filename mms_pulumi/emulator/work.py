"""The real work behind async operations: building an image bundle, running a service.

``run`` does the slow part on a worker thread and returns an ``Outcome``; ``finish``
applies it to the object once the operation's time is up. Any failure becomes the
operation's error with details naming the file, URL or field and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mms_pulumi.emulator.bundles import BundleError, BundleFile, build_bundle, file_name_of
from mms_pulumi.emulator.errors import error_body
from mms_pulumi.emulator.runtime import Backend, BackendError, check_driver, stop_pid
from mms_pulumi.emulator.services import ServiceHost
from mms_pulumi.emulator.store import OperationRecord, Store


@dataclass
class Outcome:
    """What the work of an operation produced."""

    ok: bool
    error: dict[str, Any] | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    backend: Backend | None = None


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


class Worker:
    """Performs and completes image builds, service deployments and service updates."""

    def __init__(
        self, store: Store, host: ServiceHost, bundles_dir: Path, *, run_services: bool = True
    ) -> None:
        self._store = store
        self._host = host
        self._bundles_dir = bundles_dir
        self._run_services = run_services

    def run(self, record: OperationRecord) -> Outcome:
        """Do the operation's work (slow; runs on a worker thread)."""
        if record.payload.get("inject_failure"):
            return INJECTED
        stale = record.payload.get("pending_pid")
        if stale:
            stop_pid(int(stale), grace=2.0)  # started by an emulator run that died
        if record.action == "build":
            return self._build(record)
        return self._deploy(record)

    def finish(self, record: OperationRecord, outcome: Outcome, now: str) -> dict[str, Any] | None:
        """Apply an outcome to the operation's object; the new body, or None if it is gone."""
        found = self._store.get_any(record.resource_kind, record.resource_id)
        if found is None:
            if outcome.backend is not None:
                self._host.discard(outcome.backend)
            return None
        _, body = found
        if record.action == "build":
            body["creationState"] = "Succeeded" if outcome.ok else "Failed"
            body.update(outcome.changes)
            return body
        if outcome.ok:
            if outcome.backend is not None:
                self._host.route(record.resource_id, outcome.backend)
            body.update(outcome.changes)
            body["state"] = "Succeeded"
        else:
            # A failed update leaves the previous backend serving.
            serving = record.action == "update" and self._host.port_of(record.resource_id)
            body["state"] = "Succeeded" if serving else "Failed"
        body["updatedAt"] = now
        return body

    # --- image build -------------------------------------------------------------------------

    def _build(self, record: OperationRecord) -> Outcome:
        scope = record.scope
        image = self._store.get("images", scope, record.resource_id) or {}
        manifest = self._store.get("manifests", scope, image.get("manifestId", ""))
        if manifest is None:
            return failure("ManifestNotFound", "The image's manifest is gone.", [])
        files: list[BundleFile] = []
        for model_id in manifest["modelIds"]:
            model = self._store.get("models", scope, model_id)
            if model is None:
                detail = ("ModelNotFound", f"model {model_id}: not registered in this account")
                return failure("ImageBuildFailed", "A model of the manifest is gone.", [detail])
            label = f"model {model['name']} (id {model_id})"
            files.append(BundleFile(label, model["url"], bool(model.get("unpack"))))
        assets = {asset["id"]: asset for asset in manifest.get("assets", [])}
        for asset in assets.values():
            files.append(
                BundleFile(f"asset {asset['id']}", asset["url"], bool(asset.get("unpack")))
            )
        properties = manifest.get("targetRuntime", {}).get("properties") or {}
        for key in ("pipRequirements", "condaEnvFile"):
            if properties.get(key):
                files.append(BundleFile(f"targetRuntime.properties.{key}", properties[key]))
        driver = manifest.get("driverProgram")
        if driver and driver not in assets:
            listed = ", ".join(sorted(assets)) or "none"
            detail = (
                "InvalidDriverProgram",
                f"driverProgram: {driver!r} is not one of the manifest's asset ids ({listed})",
            )
            return failure("ImageBuildFailed", "The driver program is not an asset.", [detail])
        try:
            bundle = build_bundle(files, self._bundles_dir)
            driver_file = file_name_of(assets[driver]["url"]) if driver else None
            if driver_file is not None and not assets[driver].get("unpack"):
                check_driver(bundle, driver_file)
        except BundleError as err:
            return failure(
                "ImageBuildFailed", f"Image build failed: {err}", [("FileError", str(err))]
            )
        except BackendError as err:
            return failure(
                "ImageBuildFailed",
                f"Image build failed: {err}",
                [("DriverProgramInvalid", str(err))],
            )
        location = image.get("registryInfo", {}).get("location", "local")
        repository = manifest.get("name") or "mms-image"
        changes = {
            "imageLocation": f"{location}/{repository}:{image.get('version', 1)}",
            "_bundle": str(bundle),
            "_driver": driver_file,
        }
        return Outcome(ok=True, changes=changes)

    # --- service deploy / update -------------------------------------------------------------

    def _deploy(self, record: OperationRecord) -> Outcome:
        image_id = record.payload["image_id"]
        image = self._store.get("images", record.scope, image_id)
        if image is None or image.get("creationState") != "Succeeded":
            detail = ("ImageNotReady", f"imageId: image {image_id} is not a built image")
            return failure("ServiceDeploymentFailed", "The image cannot be deployed.", [detail])
        changes: dict[str, Any] = {
            key: record.payload[key]
            for key in ("imageId", "manifestId", "acrImagePullSecret")
            if record.payload.get(key) is not None
        }
        changes["imageId"] = image_id
        if not self._run_services or not image.get("_driver"):
            return Outcome(ok=True, changes=changes)
        service = self._store.get("services", record.scope, record.resource_id) or {}
        try:
            backend = self._host.start(
                record.resource_id,
                service.get("name", record.resource_id),
                Path(image["_bundle"]),
                image["_driver"],
            )
        except BackendError as err:
            return failure(
                "ServiceDeploymentFailed",
                f"The service could not start: {err}",
                [("ScoringProcessFailed", str(err))],
            )
        record.payload["pending_pid"] = backend.pid
        self._store.save_operation(record)
        changes["scoringUri"] = record.payload["scoring_uri"]
        return Outcome(ok=True, changes=changes, backend=backend)
