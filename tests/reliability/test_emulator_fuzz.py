"""The emulator's OpenAPI schema fuzzed with schemathesis: no 5xx, errors in the seed's shape."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from mms_pulumi.emulator.process import EmulatorProcess

TOKEN = "fuzz-token"


pytestmark = pytest.mark.emulator(
    operation_seconds=0.05, token=TOKEN, scoring=False, log_level="warning"
)


@pytest.fixture(scope="module")
def api_schema(emulator: EmulatorProcess) -> Any:
    schema = schemathesis.openapi.from_url(f"{emulator.base_url}/openapi.json")
    # The control routes are ours, not the seed's; the fuzz covers the MMS API.
    return schema.include(path_regex=r"^/api/subscriptions/")


def check_answer(case: Any) -> None:
    """One generated request: never a 5xx, errors always in the seed's shape."""
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"code", "message", "statusCode", "details"}
        assert body["statusCode"] == response.status_code
        assert all(set(detail) == {"code", "message"} for detail in body["details"])
    assert "x-ms-request-id" in response.headers


@pytest.mark.timeout(600)
def test_no_server_errors_and_the_seed_error_shape(
    api_schema: Any, emulator: EmulatorProcess
) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 15  # every operation of the seed
    for operation in operations:

        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def fuzz(case: Any) -> None:
            check_answer(case)

        fuzz()
    answered = requests.get(f"{emulator.base_url}/_emulator/stats", timeout=10).json()["requests"]
    assert sum(answered.values()) >= 15 * 10  # the fuzz really reached every operation
    assert not any(key.endswith(("500", "502", "503")) for key in answered)
