"""Scoring calls on the emulator's own port: it forwards each one to a replica.

``POST /api/v1/service/{id}/score``, ``GET /api/v1/service/{id}/`` and
``GET /api/v1/service/{id}/swagger.json``.

A service's ``scoringUri`` names its own scoring port (``ports``), where a replica answers
the call itself. The same paths on the emulator's port still work, for a caller that
names it, and for a connection the scoring port hands the emulator while no replica can
take it (``ports.ScoringPorts.stand_in``): then they answer why (503 restarting, 404). They
take a short road: ``app.EmulatorApp`` sends them past FastAPI, Starlette's wrappers and
the MMS-only middleware, through only the rules that apply to them
(``middleware.scoring_road``: request ids and the access line, Host and Origin, the body
limit) to ``ScoringEndpoint``. The key is checked from memory (``ScoringIndex``), the call
goes to the next live replica over a pooled keep-alive connection of the emulator's own
(``ReplicaClient``), and nothing waits on a thread. The FastAPI routes below document the
paths (``/openapi.json``) and serve the same core.

The rules: 401 for a wrong or missing key where one is required, 503 with
``Retry-After`` when all scoring slots are busy or the service is restarting, 504 for a
driver that does not answer within 60 s, 502 for one that drops the connection, and a
call that finds its replica just replaced is sent to the new one. The replica applies
the same rules again (``scoring_rules``).
"""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from mms_pulumi.emulator.errors import ApiError
from mms_pulumi.emulator.middleware import SCORING_PREFIX
from mms_pulumi.emulator.replicas import (
    Answer,
    Failure,
    ReplicaFailure,
)
from mms_pulumi.emulator.routes._common import EmulatorDep
from mms_pulumi.emulator.scoring_rules import (
    KeyRule,
    authorization,
    driver_timeout,
    key_error,
    key_refusal,
    read_body,
    scoring_call,
    scoring_path,
    send_answer,
    slots_busy,
)
from mms_pulumi.emulator.services import Health
from mms_pulumi.emulator.state import Emulator

router = APIRouter(prefix=SCORING_PREFIX + "{service_id}", tags=["scoring"])
# A call that finds its replica gone (replaced, restarting) looks up the route again.
ATTEMPTS = 2


async def _check_key(
    emulator: Emulator, service_id: str, header: str | None, *, scoring: bool
) -> None:
    """Refuse a call without the right key (401, ``scoring_rules.key_refusal``)."""
    settings = emulator.settings
    rule = KeyRule(settings.token, settings.require_scoring_keys)
    entry = emulator.scoring_index.entry(service_id)
    refusal = key_refusal(rule, service_id, entry, header, scoring=scoring)
    if isinstance(refusal, ApiError):
        raise refusal
    if not refusal or entry is None:
        return
    keys = entry.keys
    if keys is None:  # a service from before keys: they are made now, once
        keys = await anyio.to_thread.run_sync(emulator.backend.current_keys, service_id)
    error = key_error(header, keys)
    if error is not None:
        raise error


async def serve_call(
    emulator: Emulator, service_id: str, target: str, header: str | None, body: bytes
) -> Answer:
    """One scoring URI call: the key, a scoring slot, then the next live replica."""
    await _check_key(emulator, service_id, header, scoring=target == "/score")
    slots = emulator.scoring_slots
    if not slots.take():
        raise slots_busy(slots.total)
    try:
        method = "POST" if target == "/score" else "GET"
        path = scoring_path(service_id, target)
        return await _forward(emulator, service_id, method, path, body, header)
    finally:
        slots.give()


async def _forward(
    emulator: Emulator,
    service_id: str,
    method: str,
    path: str,
    body: bytes,
    authorization: str | None,
) -> Answer:
    client = emulator.replica_client
    for attempt in range(ATTEMPTS):
        replica = emulator.host.replica_of(service_id)
        if replica is None:
            raise _not_serving(emulator, service_id)
        try:
            return await client.call(replica, method, path, body, authorization)
        except ReplicaFailure as failure:
            if failure.failure is Failure.REFUSED:
                client.forget(replica)
                if attempt + 1 < ATTEMPTS:
                    continue  # replaced or restarting: the route may name another now
                raise ApiError(
                    503,
                    f"Service {service_id} is restarting; try again.",
                    headers={"Retry-After": "1"},
                ) from None
            if failure.failure is Failure.TIMEOUT:
                raise driver_timeout(service_id, client.timeout) from None
            raise ApiError(
                502,
                f"Service {service_id}'s scoring process closed the connection without an "
                "answer (it may have crashed; it is restarted).",
            ) from None
    raise AssertionError("unreachable")


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


class ScoringEndpoint:
    """Answers a scoring URI call (``scoring_call``): the innermost app of the scoring
    road (``app.EmulatorApp``), after the emulator's rules; the body arrives whole."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        call = scoring_call(scope["method"], scope["path"])
        if call is None:  # not reached: only scoring calls take the road
            await ApiError(404, f"No scoring route {scope['path']}.").response()(
                scope, receive, send
            )
            return
        service_id, target = call
        emulator: Emulator = scope["app"].state.emulator
        body = await read_body(receive) if target == "/score" else b""
        try:
            answer = await serve_call(emulator, service_id, target, authorization(scope), body)
        except ApiError as error:
            await error.response()(scope, receive, send)
            return
        await send_answer(send, answer.status, answer.body, answer.content_type.encode("latin-1"))


# --- the documented routes (OpenAPI; the scoring road answers these paths first) ----------


async def _body(request: Request) -> bytes:
    return await request.body()


def _response(answer: Answer) -> Response:
    return Response(answer.body, status_code=answer.status, media_type=answer.content_type)


@router.post("/score")
async def score(
    service_id: str,
    request: Request,
    body: Annotated[bytes, Depends(_body)],
    emulator: EmulatorDep,
) -> Response:
    """Score with the service's driver: JSON in, ``run(input)``'s JSON out."""
    header = request.headers.get("authorization")
    return _response(await serve_call(emulator, service_id, "/score", header, body))


@router.get("/")
async def health(service_id: str, request: Request, emulator: EmulatorDep) -> Response:
    """The scoring process's health check."""
    header = request.headers.get("authorization")
    return _response(await serve_call(emulator, service_id, "/", header, b""))


@router.get("/swagger.json")
async def swagger(service_id: str, request: Request, emulator: EmulatorDep) -> Response:
    """The service's swagger document, when its image has a schema."""
    header = request.headers.get("authorization")
    return _response(await serve_call(emulator, service_id, "/swagger.json", header, b""))
