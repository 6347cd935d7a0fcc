"""Fault injection under /_emulator/: throttling, unavailability, failed operations, delay."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from mms_pulumi.emulator.faults import FaultInjector, FaultSettings
from mms_pulumi.emulator.process import EmulatorProcess
from tests.emulator.conftest import Api


@pytest.fixture
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorProcess, Api]]:
    with EmulatorProcess(tmp_path_factory.mktemp("faulty"), operation_seconds=0.1) as running:
        yield running, Api(running.base_url, "faulty")


def set_faults(api: Api, **settings: object) -> None:
    response = api.session.put(f"{api.base_url}/_emulator/faults", json=settings, timeout=10)
    assert response.status_code == 200, response.text


def test_throttled_requests_carry_retry_after(faulty: tuple[EmulatorProcess, Api]) -> None:
    _, api = faulty
    set_faults(api, throttle_rate=1.0, retry_after=2)
    response = api.call("GET", "models")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert response.json()["code"] == "TooManyRequests"
    set_faults(api, throttle_rate=1.0)
    assert "Retry-After" not in api.call("GET", "models").headers


def test_injected_faults_on_a_post_have_no_effect(faulty: tuple[EmulatorProcess, Api]) -> None:
    _, api = faulty
    set_faults(api, unavailable_rate=1.0, methods=["POST"])
    body = {"name": "never", "url": "file:///m", "mimeType": "a/b"}
    for _ in range(5):
        assert api.call("POST", "models", body).status_code == 503
    api.session.delete(f"{api.base_url}/_emulator/faults", timeout=10)
    assert api.call("GET", "models").json() == []
    stats = api.session.get(f"{api.base_url}/_emulator/stats", timeout=10).json()
    assert stats["faults"]["unavailable"] == 5
    assert stats["requests"]["POST 503"] == 5


def test_fail_next_operations(faulty: tuple[EmulatorProcess, Api]) -> None:
    _, api = faulty
    manifest = api.create_manifest()
    set_faults(api, fail_next_operations=1)
    failed = api.wait(api.call("POST", "images", api.image_body(manifest["id"])))
    assert failed["state"] == "Failed"
    assert failed["error"]["code"] == "InjectedFailure"
    assert (
        api.wait(api.call("POST", "images", api.image_body(manifest["id"])))["state"] == "Succeeded"
    )


def test_delay_slows_every_answer(faulty: tuple[EmulatorProcess, Api]) -> None:
    _, api = faulty
    set_faults(api, delay_seconds=0.3)
    started = time.monotonic()
    assert api.call("GET", "models").status_code == 200
    assert time.monotonic() - started >= 0.3
    api.session.delete(f"{api.base_url}/_emulator/faults", timeout=10)


def test_bad_fault_settings_are_refused(faulty: tuple[EmulatorProcess, Api]) -> None:
    _, api = faulty
    response = api.session.put(f"{api.base_url}/_emulator/faults", json={"throttle": 1}, timeout=10)
    assert response.status_code == 400
    assert "throttle" in response.json()["message"]


def test_seeded_injector_is_deterministic() -> None:
    def rolls() -> list[int | None]:
        injector = FaultInjector(FaultSettings(throttle_rate=0.3, unavailable_rate=0.2, seed=7))
        return [fault.status if (fault := injector.for_request("GET")) else None for _ in range(50)]

    first = rolls()
    assert first == rolls()
    assert 5 < first.count(429) < 25 and 2 < first.count(503) < 20


def test_injector_respects_methods_and_counts_operation_failures() -> None:
    injector = FaultInjector(
        FaultSettings(throttle_rate=1.0, methods=["POST"], fail_next_operations=2)
    )
    assert injector.for_request("GET") is None
    assert injector.for_request("POST") is not None
    assert [injector.take_operation_failure() for _ in range(3)] == [True, True, False]
    with pytest.raises(ValueError, match="must not exceed 1"):
        FaultSettings.from_json({"throttle_rate": 0.7, "unavailable_rate": 0.6})


def test_connection_resets_before_and_after_acting(faulty: tuple[EmulatorProcess, Api]) -> None:
    import requests as http

    _, api = faulty
    body = {"name": "reset", "url": "file:///m", "mimeType": "a/b"}
    set_faults(api, reset_before_rate=1.0, methods=["POST"])
    with pytest.raises(http.RequestException):
        api.call("POST", "models", body)
    set_faults(api, reset_after_rate=1.0, methods=["POST"])
    with pytest.raises(http.RequestException):
        api.call("POST", "models", body)
    api.session.delete(f"{api.base_url}/_emulator/faults", timeout=10)
    # Only the request dropped after acting took effect.
    assert [
        m["version"]
        for m in api.call(
            "GET", "models", params={"api-version": "2017-06-01-privatepreview", "name": "reset"}
        ).json()
    ] == [1]
    counts = api.session.get(f"{api.base_url}/_emulator/stats", timeout=10).json()["faults"]
    assert counts["reset_before"] == 1 and counts["reset_after"] == 1
