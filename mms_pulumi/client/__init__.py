"""The MMS REST client: typed, retrying where safe, waiting on async operations.

``MmsClient`` (2017-06, ``hostingAccounts``) and ``MmsClient2017_09`` (``accounts``) are
the entry points; the decision functions (``is_retryable``,
``decide_retry``, ``parse_retry_after``, ``PollSchedule``) are exported too, so callers
and tests can reason about the client's timing without running it.
"""

from mms_pulumi.client._client import MmsClient
from mms_pulumi.client._client_2017_09 import MmsClient2017_09
from mms_pulumi.client._polling import Observation, OperationPoller, PollSchedule, Progress
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
from mms_pulumi.client._transport import Response, Transport

__all__ = [
    "Failure",
    "FailureKind",
    "MmsClient",
    "MmsClient2017_09",
    "Observation",
    "OperationPoller",
    "PollSchedule",
    "Progress",
    "Response",
    "RetryDecision",
    "RetryPolicy",
    "Stop",
    "Transport",
    "decide_retry",
    "is_retryable",
    "parse_retry_after",
    "retry_delay",
]
