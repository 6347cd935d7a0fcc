"""The MMS REST client: typed, retrying, waiting on async operations."""

from mms_pulumi.client._client import MmsClient
from mms_pulumi.client._polling import Observation, OperationPoller, PollSchedule, Progress
from mms_pulumi.client._retry import Failure, FailureKind, RetryPolicy, is_retryable, retry_delay

__all__ = [
    "Failure",
    "FailureKind",
    "MmsClient",
    "Observation",
    "OperationPoller",
    "PollSchedule",
    "Progress",
    "RetryPolicy",
    "is_retryable",
    "retry_delay",
]
