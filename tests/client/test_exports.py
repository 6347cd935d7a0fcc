"""The client package's public names, pinned, and the signatures callers rely on."""

from __future__ import annotations

import inspect

import mms_pulumi.client as client
from mms_pulumi.client import MmsClient, OperationPoller

PUBLIC = {
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
}


def test_public_exports_are_pinned() -> None:
    assert set(client.__all__) == PUBLIC
    assert all(hasattr(client, name) for name in PUBLIC)


def test_constructor_binds_one_account_and_takes_options_by_keyword() -> None:
    parameters = inspect.signature(MmsClient).parameters
    positional = [
        name for name, p in parameters.items() if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]
    assert positional == [
        "endpoint",
        "subscription_id",
        "resource_group",
        "hosting_account",
        "credential",
    ]
    for option in (
        "api_version",
        "connect_timeout",
        "read_timeout",
        "polling_interval",
        "max_retries",
        "retry_backoff_factor",
        "retry_backoff_max",
        "session",
    ):
        assert parameters[option].kind is inspect.Parameter.KEYWORD_ONLY


def test_one_method_per_operation_and_the_poller_surface() -> None:
    for method in (
        "register_model",
        "get_model",
        "list_models",
        "create_manifest",
        "get_manifest",
        "list_manifests",
        "begin_create_image",
        "get_image",
        "list_images",
        "begin_create_service",
        "begin_update_service",
        "delete_service",
        "get_service",
        "list_services",
        "get_operation",
        "resume_image_operation",
        "resume_service_operation",
        "resume_operation",
        "close",
    ):
        assert callable(getattr(MmsClient, method)), method
    assert list(inspect.signature(OperationPoller.result).parameters) == [
        "self",
        "timeout",
        "progress",
    ]
    assert isinstance(inspect.getattr_static(OperationPoller, "operation_id"), property)
