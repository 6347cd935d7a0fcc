"""``/_emulator/console``: the emulator's contents in a browser, server-rendered.

Pages read the backend (``MmsBackend``) and the service host in-process, and so does the
score box: it runs the scoring URI's own code (``routes.scoring.serve_call``) with the
service's key, so what it shows is what a client gets. Three things are POSTs carrying the
session's CSRF token: a score, showing the keys, and regenerating one, the only change of
state the console makes.

Every page carries a Content-Security-Policy that allows the package's own script and
stylesheet only (no inline script, nothing from elsewhere), and Jinja escapes every
value: names, tags and logs are user input.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.responses import Response as FastApiResponse
from jinja2 import Environment, PackageLoader

from mms_pulumi.emulator.console import security, views
from mms_pulumi.emulator.errors import ApiError
from mms_pulumi.emulator.middleware import CONSOLE_PREFIX, auth_problem
from mms_pulumi.emulator.records import OPERATION_ID
from mms_pulumi.emulator.routes._common import log_base
from mms_pulumi.emulator.routes.scoring import serve_call
from mms_pulumi.emulator.scope import AccountScope, scope_of_key
from mms_pulumi.emulator.state import Emulator
from mms_pulumi.emulator.work import read_build_log
from mms_pulumi.schema import ApiGeneration, KeyType, OperationState

router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)

_templates = Environment(
    loader=PackageLoader("mms_pulumi.emulator.console", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.globals.update(
    prefix=CONSOLE_PREFIX,
    state_class=views.state_class,
    geometry={
        "node_width": views.NODE_WIDTH,
        "node_height": views.NODE_HEIGHT,
        "bar_height": views.BAR_HEIGHT,
        "gap_width": views.GAP_WIDTH,
    },
)

STATIC_TYPES = {
    "console.css": "text/css",
    "console.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # Not ``no-referrer``: under it a browser sends ``Origin: null`` with a form's POST
    # (the Fetch standard's origin serialization), which the Origin rule refuses.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
# The most of a scoring answer the score box shows (the rest is cut, and said to be).
SCORE_ANSWER_CHARS = 64 * 1024
FAMILIES = {generation.account_segment: generation for generation in ApiGeneration}
BUSY = frozenset({OperationState.NOT_STARTED, OperationState.RUNNING})


def _emulator(request: Request) -> Emulator:
    emulator: Emulator = request.app.state.emulator
    return emulator


# --- sessions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """Who is asking: a browser session (``nonce``), or a client that sent the token."""

    nonce: str | None
    issued: str | None = None  # a cookie to set: the session was made by this request
    bearer: bool = False

    def csrf(self, secret: bytes) -> str:
        """The CSRF token the session's pages carry ('' for a bearer client)."""
        return security.csrf_token(secret, self.nonce) if self.nonce else ""


def _port(request: Request) -> int | None:
    server = request.scope.get("server")
    return int(server[1]) if server and server[1] is not None else None


def _session(request: Request, emulator: Emulator) -> Session | None:
    """The request's session, a new one where none is needed to log in, or ``None`` when
    the emulator has a token and the request brings neither a session nor the token."""
    secret = emulator.console_secret
    nonce = security.session_nonce(
        secret,
        request.cookies.get(security.cookie_name(_port(request))),
        time.time(),
        emulator.console_signed_out,
    )
    if nonce is not None:
        return Session(nonce)
    token = emulator.settings.token
    header = request.headers.get("authorization")
    if token is not None:
        if header is not None and auth_problem(header, token) is None:
            return Session(None, bearer=True)
        return None
    cookie = security.new_session(secret, time.time())
    return Session(security.session_nonce(secret, cookie, time.time()), issued=cookie)


def _finish(response: FastApiResponse, request: Request, session: Session | None) -> Any:
    response.headers.update(SECURITY_HEADERS)
    if session is not None and session.issued is not None:
        _set_cookie(response, request, session.issued)
    return response


def _set_cookie(response: FastApiResponse, request: Request, value: str) -> None:
    response.set_cookie(
        security.cookie_name(_port(request)),
        value,
        httponly=True,
        samesite="strict",
        path=CONSOLE_PREFIX,
    )


def _page(
    request: Request,
    session: Session | None,
    template: str,
    status: int = 200,
    **context: Any,
) -> Any:
    emulator = _emulator(request)
    html = _templates.get_template(template).render(
        csrf=session.csrf(emulator.console_secret) if session else "",
        csrf_field=security.CSRF_FIELD,
        token_required=emulator.settings.token is not None,
        signed_in=session is not None and session.nonce is not None,
        **context,
    )
    return _finish(HTMLResponse(html, status_code=status), request, session)


def _login_redirect(request: Request) -> Any:
    return _finish(RedirectResponse(f"{CONSOLE_PREFIX}/login", status_code=303), request, None)


def _error_page(request: Request, session: Session | None, error: ApiError) -> Any:
    """An error as a page for a browser, in the seed's JSON shape for any other client."""
    if "text/html" not in request.headers.get("accept", ""):
        return _finish(error.response(), request, session)
    return _page(request, session, "error.html", error.status, error=error)


async def _form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the console's forms), one value each."""
    if request.headers.get("content-type", "").split(";")[0].strip() not in (
        "application/x-www-form-urlencoded",
        "",
    ):
        raise ApiError(415, "Send the console's forms as application/x-www-form-urlencoded.")
    text = (await request.body()).decode("utf-8", "replace")
    try:
        fields = parse_qs(text, keep_blank_values=True, max_num_fields=20, strict_parsing=False)
    except ValueError:
        raise ApiError(400, "The form has too many fields.") from None
    return {name: values[0] for name, values in fields.items()}


def _state_change(request: Request, emulator: Emulator, offered: str | None) -> Session:
    """The session of a state change, or an ``ApiError`` naming why it is refused."""
    session = _session(request, emulator)
    if session is None:
        raise ApiError(401, "Sign in to the console first: this emulator has a token.")
    if session.bearer:
        return session  # a bearer header: no other page can make a browser send one
    if session.issued is not None:
        session = Session(None)  # a session made just now cannot have a token yet
    problem = security.csrf_problem(emulator.console_secret, session.nonce, offered)
    if problem is not None:
        raise ApiError(403, f"Refused: {problem}.")
    return session


# --- where things are ----------------------------------------------------------------------


def _scope(family: str, subscription: str, group: str, account: str) -> AccountScope:
    generation = FAMILIES.get(family)
    if generation is None:
        raise ApiError(404, f"No account family {family!r}: use one of {', '.join(FAMILIES)}.")
    return AccountScope(subscription, group, account, generation)


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _service(request: Request, scope: AccountScope, service_id: str) -> dict[str, Any]:
    emulator = _emulator(request)
    return emulator.backend.get_service(
        scope, service_id, base_url=_base_url(request), log_base=log_base(request, emulator)
    )


# --- pages ---------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> Any:
    """Every account that holds objects, in both generations."""
    emulator = _emulator(request)
    session = _session(request, emulator)
    if session is None:
        return _login_redirect(request)
    accounts = [(scope_of_key(key), counts) for key, counts in emulator.store.scopes().items()]
    rows = [
        {"scope": scope, "href": views.account_href(scope), "counts": counts}
        for scope, counts in accounts
    ]
    return _page(request, session, "index.html", accounts=rows, settings=emulator.settings)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Any:
    """The token prompt (only where the emulator has a token)."""
    emulator = _emulator(request)
    if emulator.settings.token is None:
        return _finish(RedirectResponse(f"{CONSOLE_PREFIX}/", status_code=303), request, None)
    return _page(request, None, "login.html", problem=None)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Any:
    """Check the token typed in; a session cookie (never the token) when it is right."""
    emulator = _emulator(request)
    token = emulator.settings.token
    if token is None:
        return _finish(RedirectResponse(f"{CONSOLE_PREFIX}/", status_code=303), request, None)
    try:
        offered = (await _form(request)).get("token", "")
    except ApiError as error:
        return _page(request, None, "login.html", error.status, problem=error.message)
    if not security.token_matches(offered.strip(), token):
        problem = "That is not this emulator's token (the value given to mms-emulator --token)."
        return _page(request, None, "login.html", 401, problem=problem)
    response = RedirectResponse(f"{CONSOLE_PREFIX}/", status_code=303)
    _set_cookie(response, request, security.new_session(emulator.console_secret, time.time()))
    return _finish(response, request, None)


@router.post("/logout")
async def logout(request: Request) -> Any:
    """End the browser's session."""
    emulator = _emulator(request)
    try:
        session = _state_change(request, emulator, (await _form(request)).get(security.CSRF_FIELD))
    except ApiError as error:
        return _finish(error.response(), request, None)
    if session.nonce is not None:
        emulator.console_signed_out.add(session.nonce)  # a copy of the cookie is refused too
    response = RedirectResponse(f"{CONSOLE_PREFIX}/", status_code=303)
    response.delete_cookie(
        security.cookie_name(_port(request)), path=CONSOLE_PREFIX, httponly=True, samesite="strict"
    )
    return _finish(response, request, None)


@router.get("/static/{name}")
def static(name: str, request: Request) -> Any:
    """The console's stylesheet and script, from the package."""
    media_type = STATIC_TYPES.get(name)
    if media_type is None:
        return _finish(ApiError(404, f"No console file {name!r}.").response(), request, None)
    text = resources.files("mms_pulumi.emulator.console").joinpath("static", name).read_text()
    response = PlainTextResponse(text, media_type=media_type)
    return _finish(response, request, None)


@router.get("/{family}/{subscription}/{group}/{account}", response_class=HTMLResponse)
def account_page(
    request: Request,
    family: str,
    subscription: str,
    group: str,
    account: str,
    name: str = "",
    tag: str = "",
) -> Any:
    """An account's models, manifests, images and services, filterable; its operations."""
    emulator = _emulator(request)
    session = _session(request, emulator)
    if session is None:
        return _login_redirect(request)
    try:
        scope = _scope(family, subscription, group, account)
    except ApiError as error:
        return _error_page(request, session, error)
    backend = emulator.backend
    base = log_base(request, emulator)
    services = [
        backend.shown_service(scope, body, base_url=_base_url(request), log_base=base)
        for body in emulator.store.select("services", scope.key)
    ]
    shown = views.listing(
        backend.list_models(scope),
        backend.list_manifests(scope),
        backend.list_images(scope, log_base=base),
        services,
        name=name.strip(),
        tag=tag.strip(),
    )
    timeline = views.timeline_of(scope, emulator.store.operations_of(scope.key), time.time())
    return _page(
        request,
        session,
        "account.html",
        scope=scope,
        account_href=views.account_href(scope),
        href=lambda kind, ident: views.object_href(scope, kind, ident),
        shown=shown,
        model_groups=views.model_versions(shown.models),
        timeline=timeline,
        name=name,
        tag=tag,
        busy=any(bar.state in BUSY for bar in timeline.bars),
        created_of=views.created_of,
    )


@router.get(
    "/{family}/{subscription}/{group}/{account}/images/{image_id}",
    response_class=HTMLResponse,
)
def image_page(
    request: Request, family: str, subscription: str, group: str, account: str, image_id: str
) -> Any:
    """An image, the operation that built it, and its build log."""
    emulator = _emulator(request)
    session = _session(request, emulator)
    if session is None:
        return _login_redirect(request)
    try:
        scope = _scope(family, subscription, group, account)
        image = emulator.backend.get_image(scope, image_id, log_base=log_base(request, emulator))
    except ApiError as error:
        return _error_page(request, session, error)
    stored = emulator.store.get("images", scope.key, image_id) or {}
    operation = emulator.store.get_operation(scope.key, stored.get(OPERATION_ID, ""))
    return _page(
        request,
        session,
        "image.html",
        scope=scope,
        account_href=views.account_href(scope),
        image=image,
        manifest_href=views.object_href(scope, "manifests", str(image.get("manifestId") or "")),
        operation=operation,
        error=views.error_text(operation.error) if operation else None,
        build_log=read_build_log(emulator.settings.logs_dir, image_id),
        moment=views.moment,
        busy=image.get("creationState") in BUSY,
        pretty=_pretty(image),
    )


@router.get(
    "/{family}/{subscription}/{group}/{account}/services/{service_id}",
    response_class=HTMLResponse,
)
def service_page(
    request: Request,
    family: str,
    subscription: str,
    group: str,
    account: str,
    service_id: str,
    notice: str = "",
) -> Any:
    """A service: its chain, state, replicas, scoring URI, log, and the score box."""
    emulator = _emulator(request)
    session = _session(request, emulator)
    if session is None:
        return _login_redirect(request)
    try:
        scope = _scope(family, subscription, group, account)
        return _service_page(request, session, scope, service_id, notice=notice)
    except ApiError as error:
        return _error_page(request, session, error)


# What a key notice may say (the query carries only the key's name, never a key).
NOTICES = {
    "regenerated-Primary": "The primary key was regenerated: clients with the old one get 401.",
    "regenerated-Secondary": "The secondary key was regenerated.",
    "regenerated-both": "Both keys were regenerated.",
}


def _service_page(
    request: Request,
    session: Session,
    scope: AccountScope,
    service_id: str,
    *,
    notice: str = "",
    keys: dict[str, Any] | None = None,
) -> Any:
    emulator = _emulator(request)
    store = emulator.store
    service = _service(request, scope, service_id)
    image_id = str(service.get("imageId") or "")
    image = store.get("images", scope.key, image_id)
    shown_image = emulator.backend.shown_image(scope, image) if image is not None else None
    manifest_id = str((image or {}).get("manifestId") or service.get("manifestId") or "")
    manifest_body = _manifest_or_none(emulator, scope, manifest_id)
    models = [
        model
        for model_id in (manifest_body or {}).get("modelIds") or []
        if (model := store.get("models", scope.key, str(model_id))) is not None
    ]
    operations = views.operations_by_resource(store.operations_of(scope.key))
    chain = views.chain_of(scope, service, shown_image, manifest_body, models, operations)
    return _page(
        request,
        session,
        "service.html",
        scope=scope,
        account_href=views.account_href(scope),
        service=service,
        service_href=views.object_href(scope, "services", service_id),
        chain=chain,
        replicas=emulator.host.replicas_view(service_id),
        health=emulator.host.status(service_id),
        history=operations.get(service_id, []),
        moment=views.moment,
        error_text=views.error_text,
        keys=keys,
        notice=NOTICES.get(notice),
        busy=service.get("state") in BUSY,
        settings=_settings_of(service),
    )


def _manifest_or_none(
    emulator: Emulator, scope: AccountScope, manifest_id: str
) -> dict[str, Any] | None:
    """A manifest as shown, or ``None`` when it is gone (a chain may outlive a link)."""
    if not manifest_id:
        return None
    try:
        return emulator.backend.get_manifest(scope, manifest_id)
    except ApiError:
        return None


def _settings_of(service: dict[str, Any]) -> list[tuple[str, str]]:
    """The 2017-09 settings a service shows, as label and value (none in 2017-06)."""
    shown = []
    for field, label in (
        ("numReplicas", "replicas asked for"),
        ("autoscaler", "autoscaler"),
        ("appInsightsEnabled", "App Insights"),
        ("containerResourceReservation", "resource reservation"),
        ("dataCollection", "data collection"),
    ):
        if service.get(field) is not None:
            value = service[field]
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            shown.append((label, str(text)))
    return shown


def _pretty(body: dict[str, Any]) -> str:
    return json.dumps(body, indent=2, sort_keys=True, default=str)


@router.get("/{family}/{subscription}/{group}/{account}/services/{service_id}/log")
def service_log(
    request: Request, family: str, subscription: str, group: str, account: str, service_id: str
) -> Any:
    """The end of a service's log as plain text (the page polls it)."""
    emulator = _emulator(request)
    session = _session(request, emulator)
    if session is None:
        return _finish(ApiError(401, "Sign in to the console first.").response(), request, None)
    try:
        scope = _scope(family, subscription, group, account)
        emulator.backend.service_body(scope, service_id)
    except ApiError as error:
        return _finish(error.response(), request, session)
    text = emulator.host.log_tail(service_id)
    return _finish(PlainTextResponse(text), request, session)


# --- state changes -------------------------------------------------------------------------


@router.post("/{family}/{subscription}/{group}/{account}/services/{service_id}/score")
async def score(
    request: Request, family: str, subscription: str, group: str, account: str, service_id: str
) -> Any:
    """Score the pasted JSON with the service's primary key, through the very code its
    scoring URI runs (``routes.scoring.serve_call``: key, slots, replicas); the answer, its
    status and the latency."""
    emulator = _emulator(request)
    try:
        session = _state_change(request, emulator, request.headers.get(security.CSRF_HEADER))
        scope = _scope(family, subscription, group, account)
        body = await request.body()
        problem = _json_problem(body)
        if problem is not None:
            raise ApiError(400, f"The input is not JSON: {problem}. Paste a JSON document.")
        # 404 for a service of another account; a read (keys exist once the service does).
        keys = await anyio.to_thread.run_sync(emulator.backend.get_keys, scope, service_id)
    except ApiError as error:
        return _finish(error.response(), request, None)
    answer = await _score(emulator, service_id, f"Bearer {keys.primary_key}", body)
    return _finish(JSONResponse(answer), request, session)


def _json_problem(body: bytes) -> str | None:
    """Why a pasted input is not a JSON document, or ``None`` (pure)."""
    try:
        json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        return "it is not UTF-8 text"
    except json.JSONDecodeError as err:
        return f"{err.msg} at line {err.lineno}, column {err.colno}"
    except RecursionError:
        return "it is nested too deeply"
    except ValueError as err:  # an integer over Python's 4,300-digit limit
        return str(err).split(":")[0].rstrip(".").lower()
    return None


async def _score(
    emulator: Emulator, service_id: str, authorization: str, body: bytes
) -> dict[str, Any]:
    """One scoring call in-process, on the event loop: it waits on no thread, so scores
    from the box cannot starve the scoring URIs, and goes to no proxy or other origin."""
    started = time.perf_counter()
    try:
        answer = await serve_call(emulator, service_id, "/score", authorization, body)
        status, content_type, content = answer.status, answer.content_type, answer.body
    except ApiError as error:  # what a client of the scoring URI would get, shown as such
        status, content_type = error.status, "application/json"
        content = json.dumps(error.body()).encode()
    latency = (time.perf_counter() - started) * 1000
    text = content.decode("utf-8", "replace")
    return {
        "status": status,
        "latencyMs": round(latency, 2),
        "contentType": content_type,
        "body": text[:SCORE_ANSWER_CHARS],
        "truncated": len(text) > SCORE_ANSWER_CHARS,
    }


@router.post(
    "/{family}/{subscription}/{group}/{account}/services/{service_id}/keys",
    response_class=HTMLResponse,
)
async def show_keys(
    request: Request, family: str, subscription: str, group: str, account: str, service_id: str
) -> Any:
    """The service page with its two keys shown (asked for explicitly, never on a GET)."""
    emulator = _emulator(request)
    try:
        form = await _form(request)
        session = _state_change(request, emulator, form.get(security.CSRF_FIELD))
        scope = _scope(family, subscription, group, account)
        keys = await anyio.to_thread.run_sync(emulator.backend.get_keys, scope, service_id)
        return await anyio.to_thread.run_sync(
            lambda: _service_page(request, session, scope, service_id, keys=keys.to_wire())
        )
    except ApiError as error:
        return _error_page(request, None, error)


@router.post("/{family}/{subscription}/{group}/{account}/services/{service_id}/regenerateKeys")
async def regenerate_keys(
    request: Request, family: str, subscription: str, group: str, account: str, service_id: str
) -> Any:
    """Regenerate one key of a service (or both), then back to its page. Both generations:
    the emulator serves ``regenerateKeys`` on ``hostingAccounts`` paths too, as the 2017-06
    CLI called it there (``routes.services``)."""
    emulator = _emulator(request)
    try:
        form = await _form(request)
        _state_change(request, emulator, form.get(security.CSRF_FIELD))
        scope = _scope(family, subscription, group, account)
        wanted = form.get("keyType", "")
        if wanted not in (*KeyType, "both"):
            raise ApiError(400, f"keyType must be {', '.join(KeyType)} or both.")
        key_type = None if wanted == "both" else KeyType(wanted)
        await anyio.to_thread.run_sync(
            emulator.backend.regenerate_keys, scope, service_id, key_type
        )
    except ApiError as error:
        return _error_page(request, None, error)
    page = f"{views.account_href(scope)}/services/{views.segment(service_id)}"
    return _finish(
        RedirectResponse(f"{page}?notice=regenerated-{wanted}", status_code=303), request, None
    )
