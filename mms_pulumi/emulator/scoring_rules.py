"""The rules of a scoring URI call, wherever it is answered: which call it is, and whether
its key lets it in.

Both roads apply them: the emulator's own port (``routes.scoring``) and a service's scoring
port, where the replica answers (``scoring.server``). So this module imports neither
FastAPI nor the routes: a replica loads it before its driver.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from mms_pulumi.emulator.errors import ApiError
from mms_pulumi.emulator.middleware import REQUEST_ID, SCORING_PREFIX, auth_problem
from mms_pulumi.emulator.scope import generation_of_key
from mms_pulumi.emulator.store import ScoringEntry
from mms_pulumi.schema import ApiGeneration, AuthKeys

# Scoring calls wait on driver code: at most this many at once per road, so hung drivers
# never take what the rest needs.
CALL_SLOTS = 32
# The three calls a scoring URI answers: (method, what follows the service id) → the
# call's name (the path a 2017 container served it on).
SCORING_CALLS = {
    ("POST", "score"): "/score",
    ("GET", ""): "/",
    ("GET", "swagger.json"): "/swagger.json",
}


def scoring_call(method: str, path: str) -> tuple[str, str] | None:
    """The service id and the call (``SCORING_CALLS``) of a scoring URI request, or
    ``None`` for any other request (pure)."""
    if not path.startswith(SCORING_PREFIX):
        return None
    service_id, sep, rest = path[len(SCORING_PREFIX) :].partition("/")
    target = SCORING_CALLS.get((method, rest)) if sep and service_id else None
    return (service_id, target) if target is not None else None


def scoring_path(service_id: str, call: str) -> str:
    """The scoring URI path of a service's call (``SCORING_CALLS``; pure)."""
    rest = next(rest for (_, rest), known in SCORING_CALLS.items() if known == call)
    return f"{SCORING_PREFIX}{service_id}/{rest}"


def slots_busy(total: int) -> ApiError:
    """The 503 for a call that finds every scoring slot taken."""
    return ApiError(
        503,
        f"All {total} scoring slots are busy with calls still running; try again.",
        headers={"Retry-After": "1"},
    )


def driver_timeout(service_id: str, seconds: float) -> ApiError:
    """The 504 for a call whose driver has not answered in time."""
    return ApiError(504, f"Service {service_id}'s driver did not answer within {seconds:.0f} s.")


def port_call(service_id: str, method: str, path: str) -> str | None:
    """The call (``SCORING_CALLS``) a request on ``service_id``'s scoring port makes, or
    ``None`` for one the port does not serve: anything but its own three calls (pure)."""
    call = scoring_call(method, path)
    return call[1] if call is not None and call[0] == service_id else None


def not_on_this_port(service_id: str, method: str, path: str) -> ApiError | None:
    """The 404 for a request a service's scoring port does not serve (pure)."""
    if port_call(service_id, method, path) is not None:
        return None
    return wrong_port()


def wrong_port() -> ApiError:
    """The 404 a service's scoring port answers for what it does not serve."""
    return ApiError(404, "No such scoring route: this port serves one service's calls.")


def authorization(scope: Scope) -> str | None:
    """A request's ``Authorization`` header, if it sent one."""
    return next(
        (value.decode("latin-1") for name, value in scope["headers"] if name == b"authorization"),
        None,
    )


async def send_answer(
    send: Send, status: int, body: bytes, content_type: bytes = b"application/json"
) -> None:
    """Send a whole answer of ``body`` with its length."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})


class OneServicePort:
    """Serves ``app`` on a service's scoring port: its own scoring calls only."""

    def __init__(self, service_id: str, app: ASGIApp) -> None:
        self.service_id, self.app = service_id, app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            error = not_on_this_port(self.service_id, scope["method"], scope["path"])
            if error is not None:
                error.headers[REQUEST_ID] = str(uuid.uuid4())
                await error.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def read_body(receive: Receive) -> bytes:
    """A request's whole body, as the ASGI server hands it over."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def scoring_key_problem(header: str | None, keys: AuthKeys, *, required: bool) -> str | None:
    """Why a scoring request's ``Authorization`` is refused, or ``None`` when it may score.

    A request that sends a key must send one of the service's two (``Bearer <key>``, as
    the official 2017 CLI's ``service run`` did); one that sends none is served unless the
    emulator runs with ``--require-scoring-keys`` (the seed documents no keys).
    """
    if header is None:
        return "this service requires a key: Authorization: Bearer <key>" if required else None
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return "send the key as Authorization: Bearer <key>"
    candidate = key.strip().encode("utf-8", "surrogateescape")
    if any(
        hmac.compare_digest(candidate, known.encode())
        for known in (keys.primary_key, keys.secondary_key)
    ):
        return None
    return "the key is not one of this service's keys (see services/{id}/keys)"


@dataclass(frozen=True)
class KeyRule:
    """What decides a scoring call's key: the emulator's token and its flag."""

    token: str | None
    require_scoring_keys: bool


def key_refusal(
    rule: KeyRule,
    service_id: str,
    entry: ScoringEntry | None,
    header: str | None,
    *,
    scoring: bool,
) -> ApiError | bool:
    """The 401 or 404 that refuses a call before its key is looked at, ``False`` when it
    may go on without one, ``True`` when its key must be one of the service's (pure).

    ``POST /score`` of a 2017-09 service always wants one (mms-api.md §5.2: the CLI sends
    its primary key), every service's does with ``--require-scoring-keys``; an emulator
    guarded by a token guards every route of its services (health and swagger too) with
    the token or a key, and the token opens every service, as an operator's would.
    """
    token = rule.token
    if entry is None:
        if token is not None and auth_problem(header, token) is not None:
            # Without the token, which services exist is not told either.
            return ApiError(
                401,
                "Scoring refused: the emulator's token or a key is required.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return ApiError(404, f"No service with id {service_id}.")
    # generation: a 2017-09 service always wants a key to score (mms-api.md §5, §7).
    always = generation_of_key(entry.scope) is ApiGeneration.V2017_09
    required = token is not None or (scoring and (always or rule.require_scoring_keys))
    if header is None and not required:
        return False
    # The token, when sent, lets the call in without a key.
    return token is None or auth_problem(header, token) is not None


def key_error(header: str | None, keys: AuthKeys) -> ApiError | None:
    """The 401 for a call ``key_refusal`` sent to its key when the key is not one of
    ``keys``, or ``None`` (pure)."""
    problem = scoring_key_problem(header, keys, required=True)
    if problem is None:
        return None
    return ApiError(401, f"Scoring refused: {problem}.", headers={"WWW-Authenticate": "Bearer"})
