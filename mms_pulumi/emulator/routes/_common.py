"""What every MMS route shares: the account scope, the emulator, paging, 202 answers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Body, Depends, Request
from fastapi.responses import JSONResponse, Response

from mms_pulumi.emulator.errors import ApiError, bad_request
from mms_pulumi.emulator.state import Emulator
from mms_pulumi.emulator.store import OperationRecord
from mms_pulumi.schema import RequestModel, validate_request

ACCOUNT_PREFIX = (
    "/api/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
    "/hostingAccounts/{hosting_account}"
)
RequestT = TypeVar("RequestT", bound=RequestModel)


@dataclass(frozen=True)
class Account:
    """The (subscription, resource group, hosting account) an object belongs to."""

    subscription_id: str
    resource_group: str
    hosting_account: str

    @property
    def key(self) -> str:
        """The scope key objects are stored under."""
        return f"{self.subscription_id}/{self.resource_group}/{self.hosting_account}"

    @property
    def base_path(self) -> str:
        """The account's host-relative base path."""
        return (
            f"/api/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/hostingAccounts/{self.hosting_account}"
        )


def account_scope(subscription_id: str, resource_group: str, hosting_account: str) -> Account:
    """The account named by the request path."""
    return Account(subscription_id, resource_group, hosting_account)


def the_emulator(request: Request) -> Emulator:
    """The running emulator (store, runner, host, settings)."""
    emulator: Emulator = request.app.state.emulator
    return emulator


AccountDep = Annotated[Account, Depends(account_scope)]
EmulatorDep = Annotated[Emulator, Depends(the_emulator)]
# Any JSON body: validated by the schema's request models, so every rule reports the same way.
JsonBody = Annotated[Any, Body()]


def now_iso() -> str:
    """Now as ISO-8601 UTC."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_id() -> str:
    """A fresh object id (a GUID, as MMS gave)."""
    return str(uuid.uuid4())


def json_body(model: type[RequestModel]) -> dict[str, Any]:
    """OpenAPI for a route whose JSON body the schema module validates (``openapi_extra``)."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }


def parse(model: type[RequestT], body: Any) -> RequestT:
    """Validate a request body, or raise a 400 listing every invalid field."""
    request, problems = validate_request(model, body)
    if request is None:
        raise bad_request(problems)
    return request


def public(body: dict[str, Any]) -> dict[str, Any]:
    """An object as MMS shows it: the emulator's private keys (``_…``) removed."""
    return {key: value for key, value in body.items() if not key.startswith("_")}


def list_answer(request: Request, items: list[dict[str, Any]], page_size: int) -> Any:
    """A bare array as the seed documents, or ``{value, nextLink}`` pages when paging is on."""
    count = request.query_params.get("count")
    size = int(count) if count and count.isdigit() and int(count) > 0 else page_size
    if size <= 0:
        return items
    token = request.query_params.get("$skipToken", "0")
    start = int(token) if token.isdigit() else 0
    page: dict[str, Any] = {"value": items[start : start + size]}
    if start + size < len(items):
        page["nextLink"] = str(request.url.include_query_params(**{"$skipToken": start + size}))
    return page


def accepted(record: OperationRecord) -> Response:
    """The 202 answer of an async operation: empty body, ``Operation-Location``."""
    location = f"{record.payload['base_path']}/operations/{record.id}"
    return Response(status_code=202, headers={"Operation-Location": location})


def created(body: dict[str, Any], status: int = 200) -> JSONResponse:
    """A JSON answer with the object as MMS shows it."""
    return JSONResponse(public(body), status_code=status)


def reference_error(field: str, message: str) -> ApiError:
    """A 400 for a body field naming an object that is missing or unusable."""
    return ApiError(
        400,
        "The request refers to an object it cannot use.",
        [("InvalidReference", f"{field}: {message}")],
    )
