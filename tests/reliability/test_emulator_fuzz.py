"""The emulator's OpenAPI schema fuzzed with schemathesis: no 5xx, errors in the seed's shape.

Every documented route: the MMS API, the scoring proxy and the emulator's own control
routes (after each control call the faults are cleared, so a fuzzed fault setting cannot
turn the next answer into an injected 503).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from mms_pulumi.emulator.process import EmulatorProcess

TOKEN = "fuzz-token"
CONTROL = {"Authorization": f"Bearer {TOKEN}"}  # the control routes want it too


pytestmark = pytest.mark.emulator(
    operation_seconds=0.05, token=TOKEN, scoring=False, log_level="warning"
)


@pytest.fixture(scope="module")
def api_schema(emulator: EmulatorProcess) -> Any:
    # With --token, the schema is behind the token like every route but the health probe.
    return schemathesis.openapi.from_url(f"{emulator.base_url}/openapi.json", headers=CONTROL)


def check_answer(case: Any, base_url: str) -> int:
    """One generated request: never a 5xx, errors always in the seed's shape; its status."""
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    if case.path.startswith("/_emulator/"):
        requests.delete(f"{base_url}/_emulator/faults", headers=CONTROL, timeout=10)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"code", "message", "statusCode", "details"}
        assert body["statusCode"] == response.status_code
        assert all(set(detail) == {"code", "message"} for detail in body["details"])
    assert "x-ms-request-id" in response.headers
    return int(response.status_code)


@pytest.mark.timeout(600)
def test_no_server_errors_and_the_seed_error_shape(
    api_schema: Any, emulator: EmulatorProcess
) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    documented = requests.get(
        f"{emulator.base_url}/openapi.json", headers=CONTROL, timeout=10
    ).json()["paths"]
    assert len(operations) == sum(len(methods) for methods in documented.values())
    paths = {operation.path for operation in operations}
    assert {"/_emulator/reset", "/api/v1/service/{service_id}/score"} <= paths
    answered: dict[str, list[int]] = {}
    for operation in operations:

        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def fuzz(case: Any) -> None:
            status = check_answer(case, emulator.base_url)
            answered.setdefault(f"{case.method} {case.path}", []).append(status)

        fuzz()
    # The fuzz really reached every operation, and none answered a 5xx.
    assert len(answered) == len(operations)
    assert all(status < 500 for statuses in answered.values() for status in statuses)
