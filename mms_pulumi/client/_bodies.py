"""Bodies in and out through the schema's models, strict on the way out, tolerant on the way in.

Requests may be given as the schema's request model or as a plain mapping with
snake_case or camelCase keys; either way they are validated before anything is sent.
Answers are read with the schema's response models. A validation error never quotes the
values it refused: a request can hold a kubeconfig or a registry password, and MMS
echoes registry passwords in its answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from mms_pulumi.client._transport import Response
from mms_pulumi.errors import InvalidRequestError, ProtocolError
from mms_pulumi.schema import RequestModel, problems_from

RequestT = TypeVar("RequestT", bound=RequestModel)
ResponseT = TypeVar("ResponseT", bound=BaseModel)


def as_request(model: type[RequestT], request: RequestT | Mapping[str, Any]) -> RequestT:
    """The request as its schema model; a mapping may use snake_case or camelCase keys.

    Raises ``InvalidRequestError`` naming each field and rule (never the values) when it
    breaks a rule.
    """
    if isinstance(request, model):
        return request
    if not isinstance(request, Mapping):
        raise TypeError(f"expected a {model.__name__} or a mapping, got {type(request).__name__}")
    try:
        return model.model_validate(dict(request))
    except ValidationError as err:
        # Not chained: the original error quotes the inputs, and they may hold a kubeconfig
        # or a registry password.
        raise InvalidRequestError(model.__name__, problems_from(err)) from None


def read(model: type[ResponseT], answer: Response) -> ResponseT:
    """An answer's body as a response model, or an ``MmsError`` saying it is not one."""
    return read_item(model, answer.body, answer)


def read_item(model: type[ResponseT], item: Any, answer: Response) -> ResponseT:
    """One object of an answer (a whole body or a list item) as a response model."""
    try:
        return model.model_validate(item)
    except ValidationError as err:
        problems = "; ".join(f"{p.wire_path()} {p.rule}" for p in problems_from(err))
        raise ProtocolError(
            f"MMS answered {urlsplit(answer.url).path} with something that is not a valid "
            f"{model.__name__} ({problems}). Check the endpoint and api-version; report it "
            "with the request ids if they are right.",
            request_id=answer.request_id,
            client_request_id=answer.client_request_id,
        ) from without_inputs(err)


def without_inputs(err: ValidationError) -> ValidationError:
    """The same validation error with the offending values left out (they may be secrets)."""
    return ValidationError.from_exception_data(
        err.title,
        [
            {
                "type": PydanticCustomError(str(item["type"]), str(item["msg"])),
                "loc": item["loc"],
                "input": None,
            }
            for item in err.errors(include_url=False, include_input=False)
        ],
        hide_input=True,
    )


def segment(value: str) -> str:
    """An id as one path segment: a ``/`` or ``?`` in it cannot reach another resource."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"an id must be a non-empty string, got {value!r}")
    return quote(value, safe="")
