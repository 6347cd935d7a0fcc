"""Errors raised by the MMS client, each saying what happened and what to do next.

::

    MmsError
    ├── CredentialError            no bearer token could be had: nothing was sent
    ├── InvalidRequestError        a request broke a rule before it was sent (also ValueError)
    ├── RequestNotSentError        the request never left: safe to retry
    │   └── ForeignOriginError     a link or redirect to another origin, refused
    ├── OutcomeUnknownError        sent, but no answer: the service may have acted
    ├── ProtocolError              the service answered something unreadable
    ├── MmsHttpError               the service answered with an error status
    │   ├── BadRequestError        400, with one problem per field
    │   ├── AuthenticationError    401
    │   ├── PermissionDeniedError  403
    │   ├── NotFoundError          404
    │   ├── ConflictError          409
    │   ├── ThrottledError         429
    │   └── ServerError            5xx
    ├── OperationFailedError       an async operation ended Failed or Cancelled
    └── OperationTimeoutError      an async operation outlived the caller's deadline

Every error carries the request ids MMS returned (``x-ms-request-id``) and the one the
client sent (``x-ms-client-request-id``), never the token, a password or a request body.
"""

from __future__ import annotations

import warnings
from typing import Any

from mms_pulumi.schema import (
    ErrorBody,
    ErrorDetail,
    FieldProblem,
    Operation,
    OperationState,
    OperationType,
)


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

    def __reduce__(self) -> tuple[Any, ...]:
        # The subclasses' constructors differ from Exception's; rebuild from the attributes so
        # an error survives crossing a process boundary (a worker pool, a pickled result).
        return (_restore, (type(self), self.args, self.__dict__))


def _restore(cls: type[MmsError], args: tuple[Any, ...], state: dict[str, Any]) -> MmsError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class CredentialError(MmsError):
    """No bearer token could be had; the message lists every way to provide one."""


class InvalidRequestError(MmsError, ValueError):
    """A request broke the schema's rules before anything was sent; ``problems`` names each
    field and rule, never the value (a request can hold a kubeconfig or a password)."""

    def __init__(self, what: str, problems: list[FieldProblem]) -> None:
        self.problems = problems
        lines = "; ".join(f"{p.python_path()}: {p.rule}" for p in problems)
        super().__init__(f"the {what} request is invalid, nothing was sent: {lines}")


class RequestNotSentError(MmsError):
    """The request never reached MMS (connection refused, DNS failure): safe to retry."""


class ForeignOriginError(RequestNotSentError):
    """MMS named a link (``nextLink``, ``Operation-Location``, a redirect) on another origin
    than the configured endpoint; the client sends its token only to that endpoint."""


class OutcomeUnknownError(MmsError):
    """The request was sent but no answer came back; MMS may or may not have acted on it."""


class ProtocolError(MmsError):
    """The service answered, but with something this client cannot read: a body that is not
    the documented shape, a link that is not a URL, an operation without a state."""


class Problem(str):
    """One problem of a 400, as the service worded it (e.g. ``name: must …``).

    It reads as that line and also carries its parts: ``field`` (the wire path, when the
    line starts with one), ``rule`` and the service's ``code``.
    """

    field: str | None
    rule: str
    code: str

    def __new__(cls, detail: ErrorDetail) -> Problem:
        """Split a detail's message into field and rule when it reads ``field: rule``."""
        problem = super().__new__(cls, detail.message or detail.code)
        head, sep, tail = detail.message.partition(": ")
        looks_like_path = sep and head and " " not in head
        problem.field = head if looks_like_path else None
        problem.rule = tail if looks_like_path else detail.message
        problem.code = detail.code
        return problem


class MmsHttpError(MmsError):
    """MMS answered with an error status; ``error`` is its body, ``code`` its error code."""

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
        message = f"MMS answered {status_code} to {method} {path}: {detail}. {self.next_step()}"
        super().__init__(message, request_id=request_id, client_request_id=client_request_id)

    @property
    def code(self) -> str:
        """The service's error code, e.g. ``BadRequest``."""
        return self.error.code

    @property
    def details(self) -> list[ErrorDetail]:
        """The service's ``details`` list."""
        return list(self.error.details)

    def next_step(self) -> str:
        """What the caller should do about it."""
        return self.hint


class BadRequestError(MmsHttpError):
    """400: the request broke one of the service's rules; ``problems`` lists each field."""

    hint = "Fix the fields named below and send it again."

    @property
    def problems(self) -> list[Problem]:
        """One problem per rule broken, as the service worded it (e.g. ``name: must …``)."""
        return [Problem(detail) for detail in self.error.details]

    def __str__(self) -> str:
        return super().__str__() + "".join(f"\n  - {problem}" for problem in self.problems)


class AuthenticationError(MmsHttpError):
    """401: the bearer token is missing, wrong or expired."""

    hint = (
        "Set a valid token with `pulumi config set --secret mms:token …` or MMS_TOKEN, or log in "
        "for azure-identity (`az login`). `pulumi refresh` and `pulumi destroy` use the "
        "mms:token recorded by the last `pulumi up` (they do not run the program): after "
        "rotating it, run `pulumi up` first or add `--run-program`."
    )


class PermissionDeniedError(MmsHttpError):
    """403: the identity may not act on this account."""

    hint = "Grant the identity access to the hosting account, or use another account."


class NotFoundError(MmsHttpError):
    """404: no such object in this account."""

    hint = "Check the id and that it belongs to this subscription, resource group and account."


class ConflictError(MmsHttpError):
    """409: the object conflicts with an existing one (e.g. a service name is taken)."""

    hint = "Delete the existing object first, or change the request so it does not clash."

    def next_step(self) -> str:
        """For a service: the name is taken, so delete that service or choose another name."""
        if self.path.rstrip("/").endswith("/services"):
            return (
                "A service of that name already exists in this hosting account: delete it "
                "(delete_service, or `pulumi destroy` of the stack that owns it) or pick "
                "another name."
            )
        return self.hint


class ThrottledError(MmsHttpError):
    """429: too many requests; ``retry_after`` says how long MMS asked us to wait."""

    hint = "MMS is throttling requests; wait and try again (the client already retried)."


class ServerError(MmsHttpError):
    """5xx: MMS failed or is unavailable."""

    hint = "MMS had a problem; try again later (the client already retried what was safe)."


# Status → error class, as data rather than an if-ladder; 5xx not listed map to ServerError.
ERROR_CLASSES: dict[int, type[MmsHttpError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: ThrottledError,
}


def error_class_for(status_code: int) -> type[MmsHttpError]:
    """The error class of an HTTP status."""
    if status_code >= 500:
        return ERROR_CLASSES.get(status_code, ServerError)
    return ERROR_CLASSES.get(status_code, MmsHttpError)


class OperationFailedError(MmsError):
    """An async operation ended ``Failed`` or ``Cancelled``; carries the service's error.

    ``operation_id``, ``state``, ``code``, ``error_message`` and ``details`` say what MMS
    reported; ``resource_id`` names the (failed) image or service it left behind.
    """

    def __init__(
        self,
        operation: Operation,
        *,
        what: str,
        request_id: str | None = None,
        client_request_id: str | None = None,
    ) -> None:
        self.operation = operation
        self.operation_id = operation.id
        self.state: OperationState = operation.state
        self.error = operation.error or ErrorBody()
        self.resource_id = operation.resource_id
        reason = self.error.message or self.error.code or "MMS gave no reason"
        text = f"{what} {self.state.value.lower()} (operation {operation.id}): {reason}"
        details = "; ".join(d.message for d in self.error.details if d.message)
        if details:
            text += f" [{details}]"
        super().__init__(
            f"{text}. {self._next_step(operation)}",
            request_id=request_id,
            client_request_id=client_request_id,
        )

    @property
    def code(self) -> str:
        """The service's error code for the failure."""
        return self.error.code

    @property
    def error_message(self) -> str:
        """The service's message for the failure."""
        return self.error.message

    @property
    def details(self) -> list[ErrorDetail]:
        """The service's ``details`` list for the failure."""
        return list(self.error.details)

    def _next_step(self, operation: Operation) -> str:
        if operation.operation_type is OperationType.SERVICE and self.resource_id:
            return (
                f"The failed service {self.resource_id} keeps its name: delete it "
                "(delete_service) before deploying again under that name."
            )
        return "Fix the cause named above and start a new operation."


class OperationTimeoutError(MmsError):
    """The caller's deadline passed while an operation was still running."""

    def __init__(
        self,
        operation_id: str,
        last_state: OperationState | None,
        waited: float,
        *,
        what: str,
        last_operation: Operation | None = None,
        request_id: str | None = None,
        client_request_id: str | None = None,
    ) -> None:
        self.operation_id = operation_id
        self.last_state = last_state
        self.waited = waited
        self.last_operation = last_operation
        state = last_state.value if last_state else "not yet seen"
        super().__init__(
            f"{what} still {state} after {waited:.1f} s (operation {operation_id}). It goes on "
            "in MMS: resume waiting with the operation id (resume_image_operation / "
            "resume_service_operation, or get_operation to inspect it), or allow longer "
            "(mms:operationTimeout).",
            request_id=request_id,
            client_request_id=client_request_id,
        )


__all__ = [
    "ERROR_CLASSES",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "CredentialError",
    "ForeignOriginError",
    "InvalidRequestError",
    "MmsError",
    "MmsHttpError",
    "NotFoundError",
    "OperationFailedError",
    "OperationTimeoutError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "Problem",
    "ProtocolError",
    "RequestNotSentError",
    "ServerError",
    "ThrottledError",
    "error_class_for",
]


def __getattr__(name: str) -> Any:
    # The name this class had before 0.2; it clashed with azure-core's HttpResponseError,
    # which the ``azure`` extra installs alongside.
    if name == "HttpResponseError":
        warnings.warn(
            "mms_pulumi.errors.HttpResponseError is now MmsHttpError (the old name clashed "
            "with azure.core.exceptions.HttpResponseError)",
            DeprecationWarning,
            stacklevel=2,
        )
        return MmsHttpError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
