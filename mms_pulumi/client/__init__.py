"""The MMS REST client: typed, retrying where safe, waiting on async operations.

``MmsClient`` is the entry point; the decision functions (``is_retryable``,
``decide_retry``, ``parse_retry_after``, ``PollSchedule``) are exported too, so callers
and tests can reason about the client's timing without running it.
"""

from mms_pulumi.client._client import MmsClient
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
