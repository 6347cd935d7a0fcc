"""The seed's error shape, ``{code, message, statusCode, details}``, for every error answer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse

from mms_pulumi.schema import ErrorBody, ErrorDetail, FieldProblem

CODES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "PayloadTooLarge",
    429: "TooManyRequests",
    500: "InternalServerError",
    503: "ServiceUnavailable",
}


class ApiError(Exception):
    """An error answer; raise it anywhere in a request and the app renders it."""

    def __init__(
        self,
        status: int,
        message: str,
        details: Iterable[tuple[str, str]] = (),
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = list(details)
        self.code = code or CODES.get(status, HTTPStatus(status).phrase.replace(" ", ""))
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body of the answer."""
        return error_body(self.status, self.message, self.details, code=self.code)

    def response(self) -> JSONResponse:
        """The full answer."""
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def error_body(
    status: int,
    message: str,
    details: Iterable[tuple[str, str]] = (),
    *,
    code: str | None = None,
) -> dict[str, Any]:
    """An error body in the seed's shape, ``{code, message, statusCode, details}``."""
    body = ErrorBody(
        code=code or CODES.get(status, "Error"),
        message=message,
        status_code=status,
        details=[ErrorDetail(code=detail_code, message=text) for detail_code, text in details],
    )
    return body.to_wire()


def field_detail(code: str, path: tuple[str | int, ...], rule: str) -> tuple[str, str]:
    """An error detail about one field, its message starting with the wire path:
    ``field_detail("X", ("model_ids", 0), "why")`` says ``modelIds[0]: why``."""
    return code, f"{FieldProblem(path=path, rule=rule).wire_path()}: {rule}"


def bad_request(problems: Iterable[FieldProblem]) -> ApiError:
    """A 400 listing every invalid field, each message starting with its wire path."""
    details = [field_detail("InvalidField", p.path, p.rule) for p in problems]
    return ApiError(400, "The request is invalid; see details for each field.", details)


def reference_error(field: str, message: str) -> ApiError:
    """A 400 for a body field (by its Python name) naming an object missing or unusable."""
    return ApiError(
        400,
        "The request refers to an object it cannot use.",
        [field_detail("InvalidReference", (field,), message)],
    )


def not_found(kind: str, ident: str) -> ApiError:
    """A 404 for an id unknown in this account."""
    return ApiError(404, f"No {kind} with id {ident} in this hosting account.")


def invalid_request(errors: Iterable[Mapping[str, Any]]) -> ApiError:
    """A 400 for what FastAPI refused before a route ran: malformed JSON, bad parameters."""
    errors = list(errors)
    details = [("InvalidRequest", _describe(error)) for error in errors]
    malformed = any(error.get("type") == "json_invalid" for error in errors)
    message = "The request body is not valid JSON." if malformed else "The request is invalid."
    return ApiError(400, message, details)


def _describe(error: Mapping[str, Any]) -> str:
    location = [str(part) for part in error.get("loc", ())]
    if error.get("type") == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "it does not parse")
        position = location[1] if len(location) > 1 else "?"
        return f"(body): is not valid JSON ({reason} at position {position})"
    where = ".".join(location[1:] if location[:1] in (["body"], ["query"]) else location)
    return f"{where or '(body)'}: {error.get('msg', 'is invalid')}"
