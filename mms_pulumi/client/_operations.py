"""Pollers for one hosting account's async work: from a 202, by operation id, by object state.

MMS answers an image build, a service deployment and a service update with 202 and an
``Operation-Location`` (host-relative in the 2017 API, absolute in some later ones); the
operation names its result in ``resourceLocation``. Both are followed as given, resolved
against the endpoint, with ``api-version`` added only when the link lacks one. An object
whose operation id is lost (an interrupted create, an adopted deployment) is followed by
its own ``creationState`` / ``state`` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel

from mms_pulumi.client._bodies import read, segment
from mms_pulumi.client._polling import Observation, OperationPoller, Schedule
from mms_pulumi.client._retry import parse_retry_after
from mms_pulumi.client._transport import Response, Transport
from mms_pulumi.errors import ProtocolError
from mms_pulumi.schema import (
    Image,
    Operation,
    OperationState,
    OperationType,
    Service,
    last_segment,
)

# What an image build or a service deployment produces, per API generation's models.
RESULT_MODELS: Mapping[OperationType, type[BaseModel]] = {
    OperationType.IMAGE: Image,
    OperationType.SERVICE: Service,
}


class OperationPollers:
    """Makes the pollers of one account's operations."""

    def __init__(
        self,
        transport: Transport,
        account_url: str,
        api_version: str,
        schedule: Schedule,
        results: Mapping[OperationType, type[BaseModel]] = RESULT_MODELS,
    ) -> None:
        self._transport = transport
        self._account_url = account_url
        self._api_version = api_version
        self.schedule = schedule
        self._results = results

    def params_for(self, url: str) -> dict[str, str] | None:
        """``api-version`` for a link MMS gave, unless the link already carries one."""
        if "api-version" in parse_qs(urlsplit(url).query):
            return None
        return {"api-version": self._api_version}

    def accepted(self, answer: Response, kind: OperationType, what: str) -> OperationPoller[Any]:
        """The poller of a 202: it polls the answer's ``Operation-Location``."""
        location = answer.headers.get("Operation-Location")
        if not location:
            raise ProtocolError(
                f"MMS accepted the {what} (HTTP {answer.status}) but sent no Operation-Location "
                f"to follow it by. Look for the new {kind.value.lower()} in the account's list.",
                request_id=answer.request_id,
                client_request_id=answer.client_request_id,
            )
        status_url = self._transport.resolve(location)
        operation_id = last_segment(status_url)
        # Just accepted: the first look waits a moment rather than asking at once.
        return self._poller(operation_id, status_url, kind, what, check_at_once=False)

    def by_id(self, operation_id: str, kind: OperationType, what: str) -> OperationPoller[Any]:
        """The poller of an operation started earlier, perhaps by another process."""
        status_url = f"{self._account_url}/operations/{segment(operation_id)}"
        return self._poller(operation_id, status_url, kind, what, check_at_once=True)

    def by_state(self, ident: str, kind: OperationType) -> OperationPoller[Any]:
        """A poller that follows an object's own state; its ``operation_id`` is the object id."""
        latest: dict[str, BaseModel] = {}
        url = f"{self._account_url}/{kind.value.lower()}s/{segment(ident)}"
        transport = self._transport

        def observe(deadline: float | None) -> Observation:
            answer = transport.request("GET", url, params=self.params_for(url), deadline=deadline)
            found = latest["found"] = read(self._results[kind], answer)
            state = getattr(found, "creation_state", None) or getattr(found, "state", None)
            operation = Operation(
                id=ident,
                # An object that shows no state has nothing left to wait for.
                state=state or OperationState.SUCCEEDED,
                operation_type=kind,
                resource_location=urlsplit(url).path,
            )
            return Observation(operation, request_id=answer.request_id)

        return OperationPoller(
            ident,
            what=f"{kind.value.lower()} {ident}",
            observe=observe,
            get_result=lambda _operation, _deadline: latest["found"],
            schedule=self.schedule,
            monotonic=transport.monotonic,
            sleep=transport.sleep,
            check_at_once=True,
        )

    def _poller(
        self,
        operation_id: str,
        status_url: str,
        kind: OperationType,
        what: str,
        *,
        check_at_once: bool,
    ) -> OperationPoller[Any]:
        transport = self._transport

        def observe(deadline: float | None) -> Observation:
            answer = transport.request(
                "GET", status_url, params=self.params_for(status_url), deadline=deadline
            )
            return Observation(
                read(Operation, answer),
                parse_retry_after(answer.headers, transport.wall_clock()),
                answer.request_id,
                answer.client_request_id,
            )

        def get_result(operation: Operation, deadline: float | None) -> BaseModel:
            actual = operation.operation_type
            if actual is not None and actual is not kind:
                raise ProtocolError(
                    f"operation {operation.id} is a {actual.value} operation, not a {kind.value} "
                    f"one: resume it with resume_operation({operation.id!r}, {actual.value!r})."
                )
            if not operation.resource_location:
                raise ProtocolError(
                    f"operation {operation.id} succeeded without a resourceLocation; find the "
                    f"new {kind.value.lower()} in the account's list."
                )
            url = transport.resolve(operation.resource_location)
            answer = transport.request("GET", url, params=self.params_for(url), deadline=deadline)
            return read(self._results[kind], answer)

        return OperationPoller(
            operation_id,
            what=what,
            observe=observe,
            get_result=get_result,
            schedule=self.schedule,
            monotonic=transport.monotonic,
            sleep=transport.sleep,
            check_at_once=check_at_once,
        )
