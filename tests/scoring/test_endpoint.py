"""The replica's scoring endpoint in-process, with no socket: calls wait their turn in the
order they came, at most ``CALL_SLOTS`` of them, and the driver's run is marked in the busy
table the emulator watches."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any, cast

from starlette.types import Message

from mms_pulumi.emulator.handoff import BusyTable
from mms_pulumi.emulator.scoring.driver import Driver
from mms_pulumi.emulator.scoring.server import ScoringEndpoint
from mms_pulumi.emulator.scoring_rules import CALL_SLOTS, KeyRule
from mms_pulumi.emulator.store import ScoringEntry, ScoringIndex


class Recording:
    """A driver that notes the order it runs in, and whether the table said it ran."""

    def __init__(self, busy: BusyTable) -> None:
        self.busy = busy
        self.order: list[Any] = []
        self.marked: list[bool] = []

    def init(self) -> None:
        pass

    def run(self, data: Any) -> Any:
        self.order.append(data)
        self.marked.append(self.busy.running_since() > 0)
        return data


class OneService:
    """What the store's index says: one 2017-06 service, no key required."""

    def entry(self, service_id: str) -> ScoringEntry | None:
        return ScoringEntry("s/g/a", None) if service_id == "svc" else None


def _endpoint() -> tuple[ScoringEndpoint, Recording, BusyTable]:
    busy, descriptor = BusyTable.new()
    os.close(descriptor)
    driver = Recording(busy)
    endpoint = ScoringEndpoint(
        "svc",
        cast(Driver, driver),
        None,
        cast(ScoringIndex, OneService()),
        KeyRule(None, require_scoring_keys=False),
        busy,
    )
    return endpoint, driver, busy


async def _call(endpoint: ScoringEndpoint, body: Any) -> tuple[int, Any]:
    scope = {"type": "http", "method": "POST", "path": "/api/v1/service/svc/score", "headers": []}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await endpoint(scope, receive, send)
    return sent[0]["status"], json.loads(sent[1]["body"])


def test_calls_arriving_together_run_in_order_and_past_the_slots_are_503() -> None:
    endpoint, driver, busy = _endpoint()

    async def together() -> list[tuple[int, Any]]:
        return await asyncio.gather(*(_call(endpoint, n) for n in range(CALL_SLOTS + 8)))

    answers = asyncio.run(together())
    assert [status for status, _ in answers] == [200] * CALL_SLOTS + [503] * 8
    assert [body for _, body in answers[:CALL_SLOTS]] == list(range(CALL_SLOTS))
    assert answers[-1][1]["code"] == "ServiceUnavailable"
    assert driver.order == list(range(CALL_SLOTS))  # in the order they came
    assert all(driver.marked) and busy.running_since() == 0  # marked while each ran
    assert endpoint.admitted == 0


def test_calls_one_after_another_are_never_refused() -> None:
    endpoint, _driver, _ = _endpoint()

    async def in_turn() -> list[int]:
        return [(await _call(endpoint, n))[0] for n in range(CALL_SLOTS * 2)]

    assert asyncio.run(in_turn()) == [200] * CALL_SLOTS * 2
