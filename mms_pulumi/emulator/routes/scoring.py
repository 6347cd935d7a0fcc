"""The scoring URI of local services: a proxy to the service's current scoring process.

``POST /api/v1/service/{id}/score``, ``GET /api/v1/service/{id}/`` and
``GET /api/v1/service/{id}/swagger.json``. The proxy reads the route at each request and
retries once when a backend that was just replaced refuses the connection, so rolling to
a new image drops no request.
"""

from __future__ import annotations

import hmac
import http.client
from functools import partial
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from mms_pulumi.emulator.errors import ApiError
from mms_pulumi.emulator.middleware import SCORING_PREFIX, auth_problem
from mms_pulumi.emulator.routes._common import EmulatorDep
from mms_pulumi.emulator.scope import generation_of_key
from mms_pulumi.emulator.services import Health
from mms_pulumi.emulator.state import Emulator
from mms_pulumi.schema import ApiGeneration, AuthKeys

router = APIRouter(prefix=SCORING_PREFIX + "{service_id}", tags=["scoring"])
PROXY_TIMEOUT_SECONDS = 60.0


def _forward(emulator: Emulator, service_id: str, method: str, path: str, body: bytes) -> Response:
    for attempt in range(2):
        port = emulator.host.port_of(service_id)
        if port is None:
            raise _not_serving(emulator, service_id)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PROXY_TIMEOUT_SECONDS)
        try:
            headers = {"Content-Type": "application/json"} if body else {}
            connection.request(method, path, body=body or None, headers=headers)
            answer = connection.getresponse()
            return Response(
                answer.read(),
                status_code=answer.status,
                media_type=answer.getheader("Content-Type", "application/json"),
            )
        except ConnectionRefusedError:
            if attempt == 1:
                raise ApiError(503, f"Service {service_id} is restarting; try again.") from None
        except TimeoutError:
            raise ApiError(
                504,
                f"Service {service_id}'s driver did not answer within "
                f"{PROXY_TIMEOUT_SECONDS:.0f} s.",
            ) from None
        except (http.client.HTTPException, OSError):
            raise ApiError(
                502,
                f"Service {service_id}'s scoring process closed the connection without an "
                "answer (it may have crashed; it is restarted).",
            ) from None
        finally:
            connection.close()
    raise AssertionError("unreachable")


async def _proxied(
    emulator: Emulator, service_id: str, method: str, path: str, body: bytes = b""
) -> Response:
    slots = emulator.scoring_slots
    if slots.available_tokens == 0:
        raise ApiError(
            503,
            f"All {int(slots.total_tokens)} scoring slots are busy with calls still running; "
            "try again.",
            headers={"Retry-After": "1"},
        )
    call = partial(_forward, emulator, service_id, method, path, body)
    return await anyio.to_thread.run_sync(call, limiter=slots)


def _not_serving(emulator: Emulator, service_id: str) -> ApiError:
    health = emulator.host.status(service_id)
    if health is Health.RESTARTING:
        return ApiError(
            503,
            f"Service {service_id} is restarting: its scoring process exited.",
            headers={"Retry-After": "1"},
        )
    if health is Health.FAILED:
        return ApiError(
            503,
            f"Service {service_id}'s scoring process keeps failing to start; its log says "
            "why (GET /_emulator/services/{id}/logs). It is retried every 30 s.",
            headers={"Retry-After": "30"},
        )
    return ApiError(404, f"Service {service_id} is not serving (deleted, failed or starting).")


async def _body(request: Request) -> bytes:
    return await request.body()


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


def _check_key(
    service_id: str, request: Request, emulator: Emulator, *, scoring: bool = True
) -> None:
    """Refuse a call without the right key (401). ``POST /score`` of a 2017-09 service
    always wants one (mms-api.md §5.2: the CLI sends its primary key), every service's does
    with ``--require-scoring-keys``; an emulator guarded by a token guards every route of
    its services (health and swagger too) with the token or a key."""
    found = emulator.store.get_any("services", service_id)
    header = request.headers.get("authorization")
    token = emulator.settings.token
    if found is None:
        if token is not None and auth_problem(header, token) is not None:
            # Without the token, which services exist is not told either.
            raise ApiError(
                401,
                "Scoring refused: the emulator's token or a key is required.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        raise ApiError(404, f"No service with id {service_id}.")
    # generation: a 2017-09 service always wants a key to score (mms-api.md §5, §7).
    always = generation_of_key(found[0]) is ApiGeneration.V2017_09
    required = emulator.settings.token is not None or (
        scoring and (always or emulator.settings.require_scoring_keys)
    )
    if header is None and not required:
        return
    if token is not None and auth_problem(header, token) is None:
        return  # the emulator's own token opens every service, as an operator's would
    problem = scoring_key_problem(
        header, emulator.backend.current_keys(service_id), required=required
    )
    if problem is not None:
        raise ApiError(401, f"Scoring refused: {problem}.", headers={"WWW-Authenticate": "Bearer"})


@router.post("/score")
async def score(
    service_id: str,
    request: Request,
    body: Annotated[bytes, Depends(_body)],
    emulator: EmulatorDep,
) -> Response:
    """Score with the service's driver: JSON in, ``run(input)``'s JSON out."""
    await anyio.to_thread.run_sync(_check_key, service_id, request, emulator)
    return await _proxied(emulator, service_id, "POST", "/score", body)


@router.get("/")
async def health(service_id: str, request: Request, emulator: EmulatorDep) -> Response:
    """The scoring process's health check."""
    check = partial(_check_key, service_id, request, emulator, scoring=False)
    await anyio.to_thread.run_sync(check)
    return await _proxied(emulator, service_id, "GET", "/")


@router.get("/swagger.json")
async def swagger(service_id: str, request: Request, emulator: EmulatorDep) -> Response:
    """The service's swagger document, when its image has a schema."""
    check = partial(_check_key, service_id, request, emulator, scoring=False)
    await anyio.to_thread.run_sync(check)
    return await _proxied(emulator, service_id, "GET", "/swagger.json")
