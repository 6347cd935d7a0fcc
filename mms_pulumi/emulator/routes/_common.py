"""What every MMS route shares: the account scope, the emulator, paging, 202 answers."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Body, Depends, Request
from fastapi.responses import JSONResponse, Response

from mms_pulumi.emulator.backend import MmsBackend
from mms_pulumi.emulator.errors import ApiError, bad_request
from mms_pulumi.emulator.errors import reference_error as reference_error
from mms_pulumi.emulator.records import ACCOUNTS_SCOPE, public
from mms_pulumi.emulator.records import new_id as new_id
from mms_pulumi.emulator.scope import AccountScope as AccountScope
from mms_pulumi.emulator.scope import path_generation as path_generation
from mms_pulumi.emulator.state import Emulator
from mms_pulumi.emulator.store import OperationRecord, Store
from mms_pulumi.schema import (
    ACCOUNT_PATH,
    API_VERSION_2017_09,
    ApiGeneration,
    ErrorBody,
    Page,
    RequestModel,
    validate_request,
)

ACCOUNT_PREFIX = ACCOUNT_PATH
# The 2017-09 paging parameters (the 2017-06 seed documents bare arrays, answered by default).
PAGE_SIZE_PARAM = "count"
DEFAULT_PAGE_SIZE_2017_09 = 100
SKIP_TOKEN_PARAM = "$skipToken"
RequestT = TypeVar("RequestT", bound=RequestModel)


def account_scope(
    request: Request, subscription_id: str, resource_group: str, hosting_account: str
) -> AccountScope:
    """The account named by the request path, in the generation of its path family."""
    generation = path_generation(request.url.path)
    # A 2017-09 scope key carries this prefix (``AccountScope.key``); with it, a 2017-06
    # generation: subscription would share the objects of the 2017-09 account after it.
    if generation is ApiGeneration.V2017_06 and subscription_id.startswith(ACCOUNTS_SCOPE):
        raise ApiError(
            400,
            "The request path is invalid.",
            [
                (
                    "InvalidPath",
                    f"subscription: may not begin with {ACCOUNTS_SCOPE!r} on hostingAccounts "
                    "paths (the emulator files accounts-path objects under that prefix)",
                )
            ],
        )
    return AccountScope(subscription_id, resource_group, hosting_account, generation)


def the_emulator(request: Request) -> Emulator:
    """The running emulator (store, runner, host, settings)."""
    emulator: Emulator = request.app.state.emulator
    return emulator


def the_backend(request: Request) -> MmsBackend:
    """The emulator's rules for the MMS operations."""
    return the_emulator(request).backend


def log_base(request: Request, emulator: Emulator) -> str | None:
    """The base URL build logs are served on, where the control routes are (``None``
    where there are none: the emulator is bound to another address)."""
    return str(request.base_url) if emulator.settings.control_enabled else None


def the_store(request: Request) -> Store:
    """The emulator's durable store."""
    return the_emulator(request).store


AccountDep = Annotated[AccountScope, Depends(account_scope)]
EmulatorDep = Annotated[Emulator, Depends(the_emulator)]
BackendDep = Annotated[MmsBackend, Depends(the_backend)]
StoreDep = Annotated[Store, Depends(the_store)]
# Any JSON body: validated by the schema's request models, so every rule reports the same way.
JsonBody = Annotated[Any, Body()]


def json_body(model: type[RequestModel], *, required: bool = True) -> dict[str, Any]:
    """OpenAPI for a route whose JSON body the schema module validates (``openapi_extra``)."""
    return {
        "requestBody": {
            "required": required,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }


def answers(model: Any, status: int = 200) -> dict[str, Any]:
    """The route decorator's OpenAPI arguments for what it answers: ``model`` (a schema
    response model, ``list[...]`` of one, or ``None`` for an empty body) on success, the
    seed's error body otherwise. Documentation only: answers are built from the models."""
    success: dict[str, Any] = {"description": "Success"} if model is None else {"model": model}
    return {"response_model": None, "responses": {status: success, "4XX": {"model": ErrorBody}}}


def parse(model: type[RequestT], body: Any) -> RequestT:
    """Validate a request body, or raise a 400 listing every invalid field."""
    request, problems = validate_request(model, body)
    if request is None:
        raise bad_request(problems)
    return request


def page_bounds(
    total: int, page_size: int, count: str | None, skip_token: str | None
) -> tuple[int, int, int | None] | None:
    """Which items a list answer holds: ``(start, end, next start or None)``, or ``None``
    for a bare array (no paging asked for). Raises a 400 for a bad ``count``/``$skipToken``."""
    size = page_size
    if count is not None:
        if not _small_number(count) or int(count) <= 0:
            raise _bad_query(PAGE_SIZE_PARAM, "must be a positive whole number")
        size = int(count)
    if size <= 0:
        return None
    start = 0
    if skip_token is not None:
        if not _small_number(skip_token):
            raise _bad_query(SKIP_TOKEN_PARAM, "is not a token this emulator handed out")
        start = int(skip_token)
    end = min(start + size, total)
    return start, end, end if end < total else None


def _small_number(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also takes ``²``, which ``int`` refuses), and few
    enough that ``int`` takes them (Python refuses over 4,300 digits)."""
    return text.isascii() and text.isdigit() and len(text) <= 18


def _bad_query(parameter: str, rule: str) -> ApiError:
    return ApiError(
        400, "The request's query is invalid.", [("InvalidQueryParameter", f"{parameter}: {rule}")]
    )


def list_answer(
    request: Request, items: list[dict[str, Any]], page_size: int, api_version: str
) -> Any:
    """A list answer in the shape of the request's generation (see ``_list_answer``)."""
    # generation: 2017-09 lists are always pages; 2017-06 ones bare arrays unless paged.
    if path_generation(request.url.path) is ApiGeneration.V2017_09:
        # 2017-09 lists are always pages (mms-api.md §5, §7).
        return _list_answer(
            request, items, page_size or DEFAULT_PAGE_SIZE_2017_09, API_VERSION_2017_09
        )
    return _list_answer(request, items, page_size, api_version)


def _list_answer(
    request: Request, items: list[dict[str, Any]], page_size: int, api_version: str
) -> Any:
    """A bare array as the seed documents, or ``{value, nextLink}`` pages when paging is on.

    ``nextLink`` is absolute and always carries the api-version, so a client can GET it
    verbatim (as the 2017 clients did); it is left out on the last page.
    """
    params = request.query_params
    bounds = page_bounds(
        len(items), page_size, params.get(PAGE_SIZE_PARAM), params.get(SKIP_TOKEN_PARAM)
    )
    if bounds is None:
        return items
    start, end, next_start = bounds
    link = None
    if next_start is not None:
        link = request.url.include_query_params(
            **{"api-version": api_version, SKIP_TOKEN_PARAM: next_start}
        )
    return Page(value=items[start:end], next_link=str(link) if link else None).to_wire()


def accepted(record: OperationRecord) -> Response:
    """The 202 answer of an async operation: empty body, ``Operation-Location``."""
    location = f"{record.payload.base_path}/operations/{record.id}"
    return Response(status_code=202, headers={"Operation-Location": location})


def created(body: dict[str, Any], status: int = 200) -> JSONResponse:
    """A JSON answer with the object as MMS shows it."""
    return JSONResponse(public(body), status_code=status)
