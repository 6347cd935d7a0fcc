"""The emulator's FastAPI app: ``create_app(settings)`` wires store, operations and routes.

The cross-cutting rules (request ids, access log, faults, token, api-version, body limit)
are ASGI middleware in ``middleware``; every error, FastAPI's own included, is answered
in the seed's shape by the handlers installed here (an unexpected exception by
``RequestContext``, so that it too carries a request id).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from mms_pulumi.emulator.bundles import collect_garbage
from mms_pulumi.emulator.console import routes as console
from mms_pulumi.emulator.errors import ApiError, invalid_request
from mms_pulumi.emulator.faults import FaultInjector
from mms_pulumi.emulator.middleware import rules, scoring_road
from mms_pulumi.emulator.operations import OperationRunner
from mms_pulumi.emulator.records import BUNDLE, DRIVER, ServiceRecord, read, replicas_of
from mms_pulumi.emulator.routes import (
    control,
    deployments,
    images,
    manifests,
    models,
    operations,
    scoring,
)
from mms_pulumi.emulator.routes import services as services_routes
from mms_pulumi.emulator.scoring_rules import scoring_call
from mms_pulumi.emulator.services import ServiceHost
from mms_pulumi.emulator.settings import EmulatorSettings
from mms_pulumi.emulator.state import Emulator
from mms_pulumi.emulator.store import ScoringIndex, Store
from mms_pulumi.emulator.work import Worker
from mms_pulumi.schema import (
    ACCOUNT_PATH,
    ACCOUNT_PATH_2017_09,
    API_VERSION,
    CreateImageRequest,
    CreateManifestRequest,
    CreateServiceRequest,
    OperationState,
    RegenerateKeysRequest,
    RegisterModelRequest,
    UpdateServiceRequest,
)
from mms_pulumi.schema_2017_09 import (
    CreateImageRequest2017_09,
    CreateManifestRequest2017_09,
    CreateServiceRequest2017_09,
    Image2017_09,
    Manifest2017_09,
    Service2017_09,
    UpdateServiceRequest2017_09,
)

logger = logging.getLogger("mms_pulumi.emulator")


class EmulatorApp(FastAPI):
    """The emulator's FastAPI app, with a short road for scoring URI calls.

    Those are the calls a dev loop makes by the thousand: they skip FastAPI's routing,
    Starlette's wrappers and the rules of MMS paths, and go through ``scoring_road``: the
    same middleware classes as every other request, less those that do not apply to them.
    """

    scoring_road: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Scoring URI calls down the scoring road; everything else as FastAPI serves it."""
        road = self.scoring_road
        if (
            road is not None
            and scope["type"] == "http"
            and scoring_call(scope["method"], scope["path"]) is not None
        ):
            scope["app"] = self  # as Starlette sets it: the rules find the emulator there
            await road(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: EmulatorSettings) -> EmulatorApp:
    """A ready emulator app for these settings (state opens when the app starts)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store(settings.database)
        faults = FaultInjector(settings.faults)
        host = ServiceHost(store, settings)
        worker = Worker(
            store,
            host,
            settings.bundles_dir,
            run_services=settings.run_services,
            file_roots=settings.file_roots,
            logs_dir=settings.logs_dir,
        )
        runner = OperationRunner(store, worker, faults, settings.operation_seconds)
        index = ScoringIndex(settings.database)
        emulator = Emulator(settings, store, faults, host, runner, Counter(), index)
        app.state.emulator = emulator
        host.stop_stale()
        # Nothing builds yet: leftovers of builds a crash interrupted, and bundles of images
        # that are gone, only take disk space.
        collect_garbage(settings.bundles_dir, bundles_in_use(store))
        restorer = threading.Thread(target=_restore_services, args=(emulator,), daemon=True)
        restorer.start()
        runner.start()
        host.supervise()
        try:
            yield
        finally:
            runner.stop()  # nothing finishes now: work cut short resumes at the next start
            host.stop_all()  # processes still starting first, so work waiting on them ends
            runner.join()
            restorer.join(timeout=30)
            emulator.replica_client.close()
            index.close()
            store.close()

    app = EmulatorApp(
        title="MMS emulator",
        version=API_VERSION,
        description="Local Azure ML Model Management Service (2017 preview API).",
        lifespan=lifespan,
    )
    for router in (models, manifests, images, services_routes, operations):
        # Both generations on the same routes; each answers in its own shapes.
        for prefix in (ACCOUNT_PATH, ACCOUNT_PATH_2017_09):
            app.include_router(router.router, prefix=prefix)
    app.include_router(deployments.router, prefix=ACCOUNT_PATH_2017_09)  # 2017-09 only
    app.include_router(scoring.router)
    app.include_router(control.health_router)
    app.include_router(console.router)
    if settings.control_enabled:
        # No token guards these knobs, so they exist only where nobody else can reach them.
        app.include_router(control.router)
    _install_error_handlers(app)
    _document_request_models(app)
    # Added innermost first: the first rule ends up outermost.
    for rule, options in reversed(rules(settings.max_body_bytes)):
        app.add_middleware(rule, **options)
    app.scoring_road = scoring_road(scoring.ScoringEndpoint(), settings.max_body_bytes)
    return app


def _document_request_models(app: FastAPI) -> None:
    """Put the schema module's request models into the OpenAPI components, by wire name."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for model in (
                RegisterModelRequest,
                CreateManifestRequest,
                CreateImageRequest,
                CreateServiceRequest,
                UpdateServiceRequest,
                RegenerateKeysRequest,
                CreateManifestRequest2017_09,
                CreateImageRequest2017_09,
                CreateServiceRequest2017_09,
                UpdateServiceRequest2017_09,
            ):
                schema = model.model_json_schema(
                    by_alias=True, ref_template="#/components/schemas/{model}"
                )
                schemas.update(schema.pop("$defs", {}))
                schemas[model.__name__] = schema
            answers: tuple[type[BaseModel], ...] = (Manifest2017_09, Image2017_09, Service2017_09)
            for answer in answers:
                schema = answer.model_json_schema(
                    by_alias=True, mode="serialization", ref_template="#/components/schemas/{model}"
                )
                schemas.update(schema.pop("$defs", {}))
                schemas[answer.__name__] = schema
            _point_2017_09_paths_at_their_models(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# The routes serve both generations; their 2017-06 bodies and answers are declared, and
# the 2017-09 paths are pointed at the 2017-09 models here.
_MODELS_2017_09 = {
    "CreateManifestRequest": "CreateManifestRequest2017_09",
    "CreateImageRequest": "CreateImageRequest2017_09",
    "CreateServiceRequest": "CreateServiceRequest2017_09",
    "UpdateServiceRequest": "UpdateServiceRequest2017_09",
    "Manifest": "Manifest2017_09",
    "ImageRecord": "Image2017_09",
    "Service": "Service2017_09",
}


def _point_2017_09_paths_at_their_models(document: dict[str, Any]) -> None:
    def retarget(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            name = ref.rsplit("/", 1)[-1]
            if name in _MODELS_2017_09:
                return {**node, "$ref": f"#/components/schemas/{_MODELS_2017_09[name]}"}
            return {key: retarget(value) for key, value in node.items()}
        if isinstance(node, list):
            return [retarget(item) for item in node]
        return node

    for path, methods in document["paths"].items():
        if path.startswith(ACCOUNT_PATH_2017_09):
            document["paths"][path] = retarget(methods)


def bundles_in_use(store: Store) -> list[Path]:
    """The bundle directories images of any account refer to."""
    return [Path(body[BUNDLE]) for _scope, body in store.all("images") if body.get(BUNDLE)]


def _restore_services(emulator: Emulator) -> None:
    """Start again the scoring processes of services that were serving (emulator restart)."""
    if not emulator.settings.run_services:
        return
    for _scope, body in emulator.store.all("services"):
        service = read(ServiceRecord, body)
        if service.state != OperationState.SUCCEEDED or not service.image_id:
            continue
        found = emulator.store.get_any("images", service.image_id)
        if found is None or not found[1].get(DRIVER):
            continue
        image = found[1]
        try:
            backends = emulator.host.start_replicas(
                service.id, service.name, Path(image[BUNDLE]), image[DRIVER], replicas_of(service)
            )
        except Exception as err:  # one service failing to restart must not stop the others
            logger.warning("service %s could not be restarted: %s", service.id, err)
            continue
        emulator.host.route(service.id, backends)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, err: ApiError) -> Response:
        return err.response()

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, err: RequestValidationError) -> Response:
        return invalid_request(err.errors()).response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, err: StarletteHTTPException) -> Response:
        message = {404: "No such route.", 405: "Method not allowed on this route."}.get(
            err.status_code, str(err.detail)
        )
        return ApiError(err.status_code, message, headers=dict(err.headers or {})).response()
