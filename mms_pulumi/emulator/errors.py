"""The seed's error shape, ``{code, message, statusCode, details}``, for every error answer."""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from fastapi.responses import JSONResponse

from mms_pulumi.schema import FieldProblem

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
    """An error body in the seed's shape."""
    return {
        "code": code or CODES.get(status, "Error"),
        "message": message,
        "statusCode": status,
        "details": [{"code": detail_code, "message": text} for detail_code, text in details],
    }


def bad_request(problems: Iterable[FieldProblem]) -> ApiError:
    """A 400 listing every invalid field, each message starting with its wire path."""
    details = [("InvalidField", f"{p.wire_path()}: {p.rule}") for p in problems]
    return ApiError(400, "The request is invalid; see details for each field.", details)


def not_found(kind: str, ident: str) -> ApiError:
    """A 404 for an id unknown in this account."""
    return ApiError(404, f"No {kind} with id {ident} in this hosting account.")
