"""Errors raised by the MMS client, each saying what happened and what to do next.

::

    MmsError
    ├── RequestNotSentError        the request never left: safe to retry
    ├── OutcomeUnknownError        sent, but no answer: the service may have acted
    ├── HttpResponseError          the service answered with an error status
    │   ├── BadRequestError        400, with one problem per field
    │   ├── AuthenticationError    401
    │   ├── PermissionDeniedError  403
    │   ├── NotFoundError          404
    │   ├── ConflictError          409
    │   ├── ThrottledError         429
    │   └── ServerError            5xx
    ├── OperationFailedError       an async operation ended Failed or Cancelled
    └── OperationTimeoutError      an async operation outlived the caller's deadline

Every error carries the request ids MMS returned, never the token or a request body.
"""

from __future__ import annotations

from mms_pulumi.schema import ErrorBody, Operation, OperationState


class MmsError(Exception):
    """Base of every error this package raises for MMS calls."""

    def __init__(
        self,
        message: str,
        *,
        request_id: str | None = None,
        client_request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        self.client_request_id = client_request_id

    def __str__(self) -> str:
        ids = [
            f"{name} {value}"
            for name, value in (
                ("x-ms-request-id", self.request_id),
                ("x-ms-client-request-id", self.client_request_id),
            )
            if value
        ]
        return f"{self.message} ({', '.join(ids)})" if ids else self.message


class RequestNotSentError(MmsError):
    """The request never reached MMS (connection refused, DNS failure): safe to retry."""


class OutcomeUnknownError(MmsError):
    """The request was sent but no answer came back; MMS may or may not have acted on it."""


class HttpResponseError(MmsError):
    """MMS answered with an error status."""

    hint = "Check the request and try again."

    def __init__(
        self,
        method: str,
        path: str,
        status_code: int,
        body: ErrorBody | None,
        *,
        request_id: str | None = None,
        client_request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.status_code = status_code
        self.error = body or ErrorBody()
        self.retry_after = retry_after
        detail = self.error.message or self.error.code or "no error body"
        message = f"MMS answered {status_code} to {method} {path}: {detail}. {self.hint}"
        super().__init__(message, request_id=request_id, client_request_id=client_request_id)

    @property
    def code(self) -> str:
        """The service's error code, e.g. ``BadRequest``."""
        return self.error.code


class BadRequestError(HttpResponseError):
    """400: the request broke one of the service's rules; ``problems`` lists each field."""

    hint = "Fix the fields named in the details."

    @property
    def problems(self) -> list[str]:
        """One line per rule broken, as the service worded it (e.g. ``name: must …``)."""
        return [detail.message for detail in self.error.details]

    def __str__(self) -> str:
        base = super().__str__()
        return base + "".join(f"\n  - {problem}" for problem in self.problems)


class AuthenticationError(HttpResponseError):
    """401: the bearer token is missing, wrong or expired."""

    hint = (
        "Set a valid token with `pulumi config set --secret mms:token …` or MMS_TOKEN, or log in "
        "for azure-identity (`az login`)."
    )


class PermissionDeniedError(HttpResponseError):
    """403: the identity may not act on this account."""

    hint = "Grant the identity access to the hosting account, or use another account."


class NotFoundError(HttpResponseError):
    """404: no such object in this account."""

    hint = "Check the id and that it belongs to this subscription, resource group and account."


class ConflictError(HttpResponseError):
    """409: the object conflicts with an existing one (e.g. a service name is taken)."""

    hint = "Pick another name, or delete the existing object first."


class ThrottledError(HttpResponseError):
    """429: too many requests; ``retry_after`` says how long MMS asked us to wait."""

    hint = "MMS is throttling requests; wait and try again (the client already retried)."


class ServerError(HttpResponseError):
    """5xx: MMS failed or is unavailable."""

    hint = "MMS had a problem; try again later (the client already retried what was safe)."


# Status → error class, as a table rather than an if-ladder.
ERROR_CLASSES: dict[int, type[HttpResponseError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: ThrottledError,
}


def error_class_for(status_code: int) -> type[HttpResponseError]:
    """The error class of an HTTP status."""
    if status_code in ERROR_CLASSES:
        return ERROR_CLASSES[status_code]
    if status_code >= 500:
        return ServerError
    return HttpResponseError


class OperationFailedError(MmsError):
    """An async operation ended ``Failed`` or ``Cancelled``; carries the service's error."""

    def __init__(self, operation: Operation, *, what: str) -> None:
        self.operation = operation
        self.operation_id = operation.id
        self.state: OperationState = operation.state
        self.error = operation.error or ErrorBody()
        self.resource_id = operation.resource_id
        details = "; ".join(d.message for d in self.error.details if d.message)
        reason = self.error.message or self.error.code or "no reason given"
        text = f"{what} {self.state.value.lower()} (operation {operation.id}): {reason}"
        if details:
            text += f" [{details}]"
        super().__init__(text)

    @property
    def code(self) -> str:
        """The service's error code for the failure."""
        return self.error.code


class OperationTimeoutError(MmsError):
    """The caller's deadline passed while an operation was still running."""

    def __init__(
        self, operation_id: str, last_state: OperationState | None, waited: float, *, what: str
    ) -> None:
        self.operation_id = operation_id
        self.last_state = last_state
        self.waited = waited
        state = last_state.value if last_state else "unknown"
        super().__init__(
            f"{what} still {state} after {waited:.1f} s (operation {operation_id}). It goes on in "
            "MMS: resume waiting with the operation id, or allow longer (mms:operationTimeout)."
        )
