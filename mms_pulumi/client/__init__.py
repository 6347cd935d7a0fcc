"""The MMS REST client: typed, retrying where safe, waiting on async operations.

``MmsClient`` (2017-06, ``hostingAccounts``) and ``MmsClient2017_09`` (``accounts``) are
the entry points; ``transport=`` takes an ``HttpTransport`` (``MockTransport(handler)``
answers from a function, with no sockets); the decision functions (``is_retryable``,
``decide_retry``, ``parse_retry_after``, ``PollSchedule``) are exported too, so callers
and tests can reason about the client's timing without running it.

Names are imported on first use: the providers import ``_defaults`` in every Pulumi plugin
process, and a preview, which makes no request, should not pay for ``requests``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mms_pulumi._lazy import lazy_attributes

if TYPE_CHECKING:
    from mms_pulumi.client._client import (
        MmsClient,
    )
    from mms_pulumi.client._client_2017_09 import (
        MmsClient2017_09,
    )
    from mms_pulumi.client._clients import client_class
    from mms_pulumi.client._http import (
        HttpFailure,
        HttpRequest,
        HttpResponse,
        HttpTransport,
        MockTransport,
        NoNetrc,
        RequestsTransport,
    )
    from mms_pulumi.client._polling import (
        Observation,
        OperationPoller,
        PollSchedule,
        Progress,
        Schedule,
    )
    from mms_pulumi.client._retry import (
        Failure,
        FailureKind,
        RetryDecision,
        RetryPolicy,
        Stop,
        decide_retry,
        is_retryable,
        parse_retry_after,
        retry_delay,
    )
    from mms_pulumi.client._transport import (
        Response,
        Transport,
    )

_EXPORTS = {
    "mms_pulumi.client._client": ("MmsClient",),
    "mms_pulumi.client._client_2017_09": ("MmsClient2017_09",),
    "mms_pulumi.client._clients": ("client_class",),
    "mms_pulumi.client._http": (
        "HttpFailure",
        "HttpRequest",
        "HttpResponse",
        "HttpTransport",
        "MockTransport",
        "NoNetrc",
        "RequestsTransport",
    ),
    "mms_pulumi.client._polling": (
        "Observation",
        "OperationPoller",
        "PollSchedule",
        "Progress",
        "Schedule",
    ),
    "mms_pulumi.client._retry": (
        "Failure",
        "FailureKind",
        "RetryDecision",
        "RetryPolicy",
        "Stop",
        "decide_retry",
        "is_retryable",
        "parse_retry_after",
        "retry_delay",
    ),
    "mms_pulumi.client._transport": (
        "Response",
        "Transport",
    ),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "Failure",
    "FailureKind",
    "HttpFailure",
    "HttpRequest",
    "HttpResponse",
    "HttpTransport",
    "MmsClient",
    "MmsClient2017_09",
    "MockTransport",
    "NoNetrc",
    "Observation",
    "OperationPoller",
    "PollSchedule",
    "Progress",
    "RequestsTransport",
    "Response",
    "RetryDecision",
    "RetryPolicy",
    "Schedule",
    "Stop",
    "Transport",
    "client_class",
    "decide_retry",
    "is_retryable",
    "parse_retry_after",
    "retry_delay",
]

__getattr__ = lazy_attributes(__name__, globals(), _MODULE_OF)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
