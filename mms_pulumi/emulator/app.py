"""The emulator's FastAPI app: ``create_app(settings)`` wires store, operations and routes.

Cross-cutting rules live in one middleware, applied to the MMS paths only, in this order:
request ids → access log → fault injection → bearer token → api-version. Every error,
FastAPI's own included, is answered in the seed's shape.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mms_pulumi.emulator.errors import ApiError, error_body
from mms_pulumi.emulator.faults import FaultInjector, Reset
from mms_pulumi.emulator.operations import OperationRunner
from mms_pulumi.emulator.routes import control, images, manifests, models, operations, scoring
from mms_pulumi.emulator.routes import services as services_routes
from mms_pulumi.emulator.services import ServiceHost
from mms_pulumi.emulator.settings import EmulatorSettings
from mms_pulumi.emulator.state import Emulator
from mms_pulumi.emulator.store import Store
from mms_pulumi.emulator.work import Worker

MMS_PREFIX = "/api/subscriptions/"
access_log = logging.getLogger("mms_pulumi.emulator.access")
logger = logging.getLogger("mms_pulumi.emulator")


def create_app(settings: EmulatorSettings) -> FastAPI:
    """A ready emulator app for these settings (state opens when the app starts)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store(settings.database)
        faults = FaultInjector(settings.faults)
        host = ServiceHost(store, settings.logs_dir)
        worker = Worker(store, host, settings.bundles_dir, run_services=settings.run_services)
        runner = OperationRunner(store, worker, faults, settings.operation_seconds)
        emulator = Emulator(settings, store, faults, host, runner, Counter())
        app.state.emulator = emulator
        host.stop_stale()
        restorer = threading.Thread(target=_restore_services, args=(emulator,), daemon=True)
        restorer.start()
        runner.start()
        try:
            yield
        finally:
            runner.stop()
            restorer.join(timeout=30)
            host.stop_all()
            store.close()

    app = FastAPI(
        title="MMS emulator",
        version="2017-06-01-privatepreview",
        description="Local Azure ML Model Management Service (2017 preview API).",
        lifespan=lifespan,
    )
    for router in (models, manifests, images, services_routes, operations):
        app.include_router(router.router, prefix=router.PREFIX)
    app.include_router(scoring.router)
    app.include_router(control.router)
    _install_error_handlers(app)
    _document_request_models(app)
    app.middleware("http")(_mms_rules)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(ConnectionResets)
    return app


def _document_request_models(app: FastAPI) -> None:
    """Put the schema module's request models into the OpenAPI components, by wire name."""
    from fastapi.openapi.utils import get_openapi

    from mms_pulumi.schema import (
        CreateImageRequest,
        CreateManifestRequest,
        CreateServiceRequest,
        RegisterModelRequest,
        UpdateServiceRequest,
    )

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
            ):
                schema = model.model_json_schema(
                    by_alias=True, ref_template="#/components/schemas/{model}"
                )
                schemas.update(schema.pop("$defs", {}))
                schemas[model.__name__] = schema
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _restore_services(emulator: Emulator) -> None:
    """Start again the scoring processes of services that were serving (emulator restart)."""
    if not emulator.settings.run_services:
        return
    for _scope, service in emulator.store.all("services"):
        if service.get("state") != "Succeeded":
            continue
        found = emulator.store.get_any("images", service.get("imageId", ""))
        if found is None or not found[1].get("_driver"):
            continue
        image = found[1]
        try:
            backend = emulator.host.start(
                service["id"], service["name"], Path(image["_bundle"]), image["_driver"]
            )
        except Exception as err:  # one service failing to restart must not stop the others
            logger.warning("service %s could not be restarted: %s", service["id"], err)
            continue
        emulator.host.route(service["id"], backend)


async def _mms_rules(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    started = time.monotonic()
    request_id = str(uuid.uuid4())
    emulator: Emulator = request.app.state.emulator
    path = request.url.path
    if path.startswith(MMS_PREFIX):
        _normalize_resource_groups(request)
        response = await _guarded(request, call_next, emulator)
    else:
        response = await call_next(request)
    response.headers["x-ms-request-id"] = request_id
    client_request_id = request.headers.get("x-ms-client-request-id")
    if client_request_id:
        response.headers["x-ms-client-request-id"] = client_request_id
    emulator.requests[f"{request.method} {response.status_code}"] += 1
    access_log.info(
        "%s %s %d %s %.1fms",
        request.method,
        path,
        response.status_code,
        request_id,
        (time.monotonic() - started) * 1000,
    )
    return response


async def _guarded(
    request: Request, call_next: Callable[[Request], Awaitable[Response]], emulator: Emulator
) -> Response:
    delay = emulator.faults.delay()
    if delay > 0:
        await asyncio.sleep(delay)
    fault = emulator.faults.for_request(request.method)
    if fault is not None:
        headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        return ApiError(
            fault.status,
            "Injected by the emulator's fault settings.",
            code=fault.code,
            headers=headers,
        ).response()
    problem = _auth_problem(request, emulator.settings.token)
    if problem is not None:
        return ApiError(401, problem, headers={"WWW-Authenticate": "Bearer"}).response()
    version = request.query_params.get("api-version")
    supported = emulator.settings.api_version
    if version is not None and version != supported:
        return ApiError(
            400,
            f"Unsupported api-version '{version}'. The supported api-version is {supported}.",
            [("UnsupportedApiVersion", f"api-version: use {supported}")],
        ).response()
    return await call_next(request)


def _auth_problem(request: Request, token: str | None) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return "A bearer token is required: send 'Authorization: Bearer <token>'."
    if token is not None and not hmac.compare_digest(credentials.strip(), token):
        return "The bearer token is not valid for this service."
    return None


def _normalize_resource_groups(request: Request) -> None:
    # Later clients sent 'resourcegroups'; route matching is case-sensitive, MMS was not.
    parts = request.scope["path"].split("/")
    if len(parts) > 4 and parts[4].lower() == "resourcegroups":
        parts[4] = "resourceGroups"
        request.scope["path"] = "/".join(parts)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, err: ApiError) -> Response:
        return err.response()

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, err: RequestValidationError) -> Response:
        details = [("InvalidRequest", _describe(e)) for e in err.errors()]
        return ApiError(400, "The request body is not valid JSON.", details).response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, err: StarletteHTTPException) -> Response:
        message = {404: "No such route.", 405: "Method not allowed on this route."}.get(
            err.status_code, str(err.detail)
        )
        return ApiError(err.status_code, message, headers=dict(err.headers or {})).response()

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, err: Exception) -> Response:
        logger.exception("unhandled error")
        return ApiError(500, "The emulator failed to handle the request.").response()


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"
    return f"{location}: {error.get('msg', 'invalid')}"


class ConnectionDropped(Exception):
    """Raised after a partial answer so the server drops the connection (an injected fault)."""


class ConnectionResets:
    """Injected connection drops on MMS paths: before the request is acted on, or after.

    The answer starts (status and a Content-Length) and then the connection is dropped, so
    the client sees a broken answer and cannot tell whether the request took effect.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(MMS_PREFIX):
            await self.app(scope, receive, send)
            return
        emulator: Emulator = scope["app"].state.emulator
        reset = emulator.faults.reset_for_request(scope["method"])
        if reset is None:
            await self.app(scope, receive, send)
            return
        if reset == Reset.AFTER:

            async def swallow(_message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"1024"), (b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        raise ConnectionDropped(f"injected connection reset {reset} the request")


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` with 413, counting even chunked uploads."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _send_too_large(send, self.max_bytes)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise ApiError(413, f"The request body is larger than {self.max_bytes} bytes.")
            return message

        await self.app(scope, limited, send)


async def _send_too_large(send: Send, max_bytes: int) -> None:
    body = json.dumps(
        error_body(413, f"The request body is larger than {max_bytes} bytes.")
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-ms-request-id", str(uuid.uuid4()).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
