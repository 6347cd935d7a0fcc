"""The rules every request goes through, as plain ASGI middleware, outermost first.

``RequestContext``   request id, ``x-ms-client-request-id`` echo, counters, access log
``LocalOnly``        Host and Origin checks (DNS rebinding, other web pages), the token on
                     the emulator's own routes
``ConnectionResets`` injected connection drops (MMS paths)
``MmsRules``         injected delay and 429/503, bearer token, api-version (MMS paths)
``BodyLimit``        413 for bodies over the limit, chunked uploads included

``rules`` lists them, with their options, for the app to install; ``scoring_road`` puts a
scoring URI call through those of them that apply to it (all but the MMS-only two).

Faults are decided before the token or the body is looked at, so an injected 429 or 503
provably had no effect. The access log never holds a body, a query or a header value.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mms_pulumi.emulator.errors import ApiError
from mms_pulumi.emulator.faults import FaultInjector, Reset
from mms_pulumi.emulator.framing import framing_problem
from mms_pulumi.emulator.settings import EmulatorSettings
from mms_pulumi.schema import API_VERSION, API_VERSION_2017_09

MMS_PREFIX = "/api/subscriptions/"
REQUEST_ID = "x-ms-request-id"
CLIENT_REQUEST_ID = "x-ms-client-request-id"
access_log = logging.getLogger("mms_pulumi.emulator.access")
logger = logging.getLogger("mms_pulumi.emulator")


class RoadState(Protocol):
    """What the rules read of the process serving a request (``scope["app"].state
    .emulator``): the emulator's ``state.Emulator``, or a replica's ``ReplicaState``."""

    settings: EmulatorSettings
    requests: Counter[str]


class MmsState(RoadState, Protocol):
    """What the MMS-only rules read besides: the emulator's faults."""

    faults: FaultInjector


def _emulator(scope: Scope) -> RoadState:
    state: RoadState = scope["app"].state.emulator
    return state


def _mms(scope: Scope) -> MmsState:
    state: MmsState = scope["app"].state.emulator
    return state


def _is_mms(scope: Scope) -> bool:
    return scope["type"] == "http" and str(scope["path"]).startswith(MMS_PREFIX)


async def _answer(error: ApiError, scope: Scope, receive: Receive, send: Send) -> None:
    await error.response()(scope, receive, send)


class RequestContext:
    """Gives every answer a fresh ``x-ms-request-id``, echoes the client's request id,
    counts answers by method and status, and writes one access line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        # Real MMS answered one on every response (mms-api.md §2), and the 2017-09 CLI reads
        # it in its error path (azure-cli-ml 0.1.0a27 `image.py`): made up when none came.
        client_request_id = Headers(scope=scope).get(CLIENT_REQUEST_ID) or str(uuid.uuid4())
        method, path = scope["method"], scope["path"]
        status = "dropped"

        async def send_with_ids(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = str(message["status"])
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in (REQUEST_ID.encode(), CLIENT_REQUEST_ID.encode())
                ]
                headers.append((REQUEST_ID.encode(), request_id.encode()))
                headers.append((CLIENT_REQUEST_ID.encode(), client_request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        except Exception:
            if status != "dropped":
                raise  # the answer has started; all that is left is to drop the connection
            logger.exception("unhandled error in %s %s", method, path)
            error = ApiError(500, "The emulator failed to handle the request.")
            await _answer(error, scope, receive, send_with_ids)
        finally:
            _emulator(scope).requests[f"{method} {status}"] += 1
            access_log.info(
                "%s %s %s %s %.1fms",
                method,
                # Decoded, a path may hold NUL, CR or LF: escaped, it cannot forge a line.
                path.encode("unicode_escape").decode("ascii"),
                status,
                request_id,
                (time.monotonic() - started) * 1000,
            )


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# Routes anyone may call: the health probe (its details are for loopback callers only).
OPEN_PATHS = frozenset({"/_emulator/health"})
CONTROL_PREFIX = "/_emulator/"
# The console in the browser: it asks for the token in a login form and keeps a session
# cookie (``console.security``), since a browser cannot send a bearer header on a link.
CONSOLE_PREFIX = CONTROL_PREFIX + "console"
# Scoring URIs take the token or one of the service's keys; their routes check which.
SCORING_PREFIX = "/api/v1/service/"


def needs_emulator_token(path: str) -> bool:
    """Whether ``LocalOnly`` checks the ``--token`` on this path (pure): every path but the
    health probe, MMS paths (``MmsRules`` checks them, after faults) and scoring URIs (the
    token or a service key) and the console (its login form or session) - the API docs,
    ``/openapi.json`` and unknown paths included."""
    return not (
        path in OPEN_PATHS
        or path.startswith(MMS_PREFIX)
        or path.startswith(SCORING_PREFIX)
        or path == CONSOLE_PREFIX
        or path.startswith(CONSOLE_PREFIX + "/")
    )


def host_name(header: str) -> str:
    """The host of a ``Host`` header (``[::1]:5080`` → ``::1``), lower case."""
    header = header.strip().lower()
    if header.startswith("["):
        inside, _, rest = header[1:].partition("]")
        # Only a port may follow the brackets: ``[::1]evil.example`` names no loopback host.
        return inside if rest == "" or re.fullmatch(r":\d{1,5}", rest) else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def request_problem(
    hosts: Sequence[str], origins: Sequence[str], *, loopback_only: bool
) -> str | None:
    """Why a request is refused before any route sees it, or ``None``; ``hosts`` and
    ``origins`` are every ``Host`` and ``Origin`` header it carries.

    Bound to loopback, the emulator answers only requests addressed to a loopback name, so
    a web page that rebinds its own DNS name to 127.0.0.1 cannot drive it; and it answers
    no request a browser sends on behalf of another page (one carrying a foreign
    ``Origin``), so a page cannot post to it either. Clients that are not browsers send no
    ``Origin``. A second header of either kind could say something else than the one
    checked, so it is refused.
    """
    if len(hosts) > 1 or len(origins) > 1:
        return "a request must carry one Host header and at most one Origin header"
    host = hosts[0] if hosts else None
    origin = origins[0] if origins else None
    name = host_name(host or "")
    if loopback_only and name not in LOOPBACK_NAMES:
        return (
            f"this emulator answers requests for localhost only, not for {name or 'no host'!r} "
            "(bind it elsewhere with --host to change that)"
        )
    own_origin = f"http://{(host or '').strip().lower()}"
    if origin is not None and origin.strip().lower() != own_origin:
        return "requests from web pages of other origins are refused"
    return None


class LocalOnly:
    """Refuses requests for other hosts or from other origins (403), and with ``--token``
    requires the token on every path ``needs_emulator_token`` names (401)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = _emulator(scope).settings
        headers = Headers(scope=scope)
        problem = request_problem(
            headers.getlist("host"),
            headers.getlist("origin"),
            loopback_only=settings.control_enabled,
        )
        if problem is not None:
            await _answer(ApiError(403, f"Refused: {problem}."), scope, receive, send)
            return
        if settings.token is not None and needs_emulator_token(str(scope["path"])):
            denied = auth_problem(headers.get("authorization"), settings.token)
            if denied is not None:
                error = ApiError(401, denied, headers={"WWW-Authenticate": "Bearer"})
                await _answer(error, scope, receive, send)
                return
        await self.app(scope, receive, send)


class ConnectionDropped(Exception):
    """Raised after a partial answer so the server drops the connection (an injected fault)."""


class OnMmsPaths:
    """Middleware that applies ``handle`` to MMS API requests and passes the rest through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _is_mms(scope):
            await self.handle(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one MMS request (the subclass's rule, then ``self.app``)."""
        raise NotImplementedError


class ConnectionResets(OnMmsPaths):
    """Injected connection drops on MMS paths: before the request is acted on, or after.

    The answer starts (status and a Content-Length) and then the connection is dropped, so
    the client sees a broken answer and cannot tell whether the request took effect.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Drop the connection when a reset is due; otherwise serve the request."""
        reset = _mms(scope).faults.reset_for_request(scope["method"])
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


class MmsRules(OnMmsPaths):
    """On MMS paths: injected delay and faults, the bearer token, the api-version, and the
    ``resourcegroups`` spelling later clients sent."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a fault or a broken rule in the seed's error shape; else serve it."""
        emulator = _mms(scope)
        delay = emulator.faults.delay(scope["method"])
        if delay > 0:
            await asyncio.sleep(delay)
        fault = emulator.faults.for_request(scope["method"])
        if fault is not None:
            retry = {}
            if fault.retry_after is not None:
                retry["Retry-After"] = f"{fault.retry_after:g}"
            message = "Injected by the emulator's fault settings."
            error = ApiError(fault.status, message, code=fault.code, headers=retry)
            await _answer(error, scope, receive, send)
            return
        problem = auth_problem(Headers(scope=scope).get("authorization"), emulator.settings.token)
        if problem is not None:
            error = ApiError(401, problem, headers={"WWW-Authenticate": "Bearer"})
            await _answer(error, scope, receive, send)
            return
        version = QueryParams(scope.get("query_string", b"")).get("api-version")
        problem = api_version_problem(str(scope["path"]), version)
        if problem is not None:
            error = ApiError(400, problem, [("UnsupportedApiVersion", f"api-version: {problem}")])
            await _answer(error, scope, receive, send)
            return
        await self.app({**scope, "path": normalize_resource_groups(scope["path"])}, receive, send)


def api_version_problem(path: str, version: str | None) -> str | None:
    """Why a request's api-version does not fit its path family, or ``None``.

    ``hostingAccounts`` paths speak 2017-06 and may omit it (the 2017-06 CLI sent none);
    ``accounts`` paths speak 2017-09, which required it (mms-api.md §5).
    """
    parts = path.split("/")
    accounts = len(parts) > 6 and parts[6].lower() == "accounts"
    expected = API_VERSION_2017_09 if accounts else API_VERSION
    family = "accounts" if accounts else "hostingAccounts"
    if version is None:
        return f"is required on {family} paths: use {expected}" if accounts else None
    if version != expected:
        return f"{version!r} is not the api-version of {family} paths: use {expected}"
    return None


def auth_problem(header: str | None, token: str | None) -> str | None:
    """Why an ``Authorization`` header is refused, or ``None`` when it is accepted."""
    scheme, _, credentials = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return "A bearer token is required: send 'Authorization: Bearer <token>'."
    # Compared as bytes: a header may hold any character, and str comparison of non-ASCII
    # text raises.
    offered = credentials.strip().encode("utf-8", "surrogateescape")
    if token is not None and not hmac.compare_digest(offered, token.encode("utf-8")):
        return "The bearer token is not valid for this service."
    return None


def normalize_resource_groups(path: str) -> str:
    """The path with its ``resourceGroups`` segment spelled as the routes spell it.

    Later clients sent ``resourcegroups``; route matching is case-sensitive, MMS was not.
    """
    parts = path.split("/")
    if len(parts) > 4 and parts[4].lower() == "resourcegroups":
        parts[4] = "resourceGroups"
    return "/".join(parts)


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` with 413, counting the bytes that arrive.

    Every body is read here (up to the limit) before the app sees it, whatever its headers
    announce, so an upload is refused as a whole rather than half-parsed, and a
    Content-Length that lies cannot carry more in. Framing that could be read two ways is a
    400. Both answers close the connection: what is left of the body is not read.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> ApiError:
        return ApiError(
            413,
            f"The request body is larger than {self.max_bytes} bytes.",
            headers={"connection": "close"},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = framing_problem(scope["headers"])
        if problem is not None:
            await _answer(
                ApiError(400, problem, headers={"connection": "close"}), scope, receive, send
            )
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and int(declared) > self.max_bytes:
            await _answer(self._too_large(), scope, receive, send)
            return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away: there is no one to answer
            chunks.append(message.get("body", b""))
            received += len(chunks[-1])
            if received > self.max_bytes:
                await _answer(self._too_large(), scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


Rule = tuple[Callable[..., ASGIApp], dict[str, Any]]  # a middleware class and its options


def rules(max_body_bytes: int) -> list[Rule]:
    """The emulator's middleware, outermost first, with their options: the one list both
    roads are built from (``app.create_app`` and ``scoring_road``)."""
    return [
        (RequestContext, {}),
        (LocalOnly, {}),
        (ConnectionResets, {}),
        (MmsRules, {}),
        (BodyLimit, {"max_bytes": max_body_bytes}),
    ]


def scoring_road(endpoint: ASGIApp, max_body_bytes: int) -> ASGIApp:
    """``endpoint`` behind the rules that apply to a scoring URI call: every rule but
    those of MMS paths only (``OnMmsPaths``), which a scoring path is not."""
    app = endpoint
    for rule, options in reversed(rules(max_body_bytes)):
        mms_only = isinstance(rule, type) and issubclass(rule, OnMmsPaths)
        if not mms_only:
            app = rule(app, **options)
    return app
