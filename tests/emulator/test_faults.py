"""Fault injection under /_emulator/: throttling, unavailability, failed operations, delay."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from mms_pulumi.emulator.faults import OPERATION_KINDS, FaultInjector, FaultSettings
from mms_pulumi.emulator.process import EmulatorProcess
from mms_pulumi.emulator.work import ACTIONS
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


def test_held_operations_finish_only_when_released(faulty: tuple[EmulatorProcess, Api]) -> None:
    _, api = faulty
    manifest = api.create_manifest()
    set_faults(api, hold_operations=["images"])
    accepted = api.call("POST", "images", api.image_body(manifest["id"]))
    assert accepted.status_code == 202, accepted.text
    location = f"{api.base_url}{accepted.headers['Operation-Location']}"
    seen: list[str] = []
    while len(seen) < 20 or seen[-1] != "Running":  # well past its 0.1 s, it still runs
        seen.append(api.call("GET", location).json()["state"])
        time.sleep(0.05)
    assert set(seen) <= {"NotStarted", "Running"}
    set_faults(api)  # hold_operations left out: off
    assert api.wait(accepted)["state"] == "Succeeded"


def test_hold_operations_names_kinds_with_operations(faulty: tuple[EmulatorProcess, Api]) -> None:
    _, api = faulty
    response = api.session.put(
        f"{api.base_url}/_emulator/faults", json={"hold_operations": ["models"]}, timeout=10
    )
    assert response.status_code == 400
    assert (
        "hold_operations must be a list of kinds, out of images, services"
        in (response.json()["message"])
    )


def test_held_kinds_are_the_kinds_operations_make() -> None:
    assert set(OPERATION_KINDS) == {kind for _type, kind in ACTIONS.values()}


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


def test_unavailable_with_and_without_retry_after(faulty: tuple[EmulatorProcess, Api]) -> None:
    _, api = faulty
    set_faults(api, unavailable_rate=1.0, retry_after=0.5)
    response = api.call("GET", "models")
    assert response.status_code == 503 and response.headers["Retry-After"] == "0.5"
    assert response.json()["code"] == "ServiceUnavailable"
    assert response.json()["statusCode"] == 503
    set_faults(api, unavailable_rate=1.0)
    assert "Retry-After" not in api.call("GET", "models").headers
    api.session.delete(f"{api.base_url}/_emulator/faults", timeout=10)


def test_faulted_async_posts_start_nothing(faulty: tuple[EmulatorProcess, Api]) -> None:
    _, api = faulty
    image = api.build_image()
    before = api.session.get(f"{api.base_url}/_emulator/stats", timeout=10).json()["objects"]
    set_faults(api, throttle_rate=1.0, methods=["POST", "PUT"])
    assert api.call("POST", "images", api.image_body(image["manifestId"])).status_code == 429
    body = {"name": "x", "imageId": image["id"], "kubeConfig": "k", "acrImagePullSecret": "p"}
    assert api.call("POST", "services", body).status_code == 429
    assert api.call("GET", "images").status_code == 200  # GET is not in methods
    api.session.delete(f"{api.base_url}/_emulator/faults", timeout=10)
    after = api.session.get(f"{api.base_url}/_emulator/stats", timeout=10).json()["objects"]
    assert after == before


def test_injected_operation_failure_fails_the_service_update(
    faulty: tuple[EmulatorProcess, Api],
) -> None:
    _, api = faulty
    image = api.build_image()
    service = api.create_service("faulted-update", image["id"])
    set_faults(api, fail_next_operations=1)
    body = {"imageId": image["id"], "acrImagePullSecret": "p2"}
    failed = api.wait(api.call("PUT", f"services/{service['id']}", body))
    assert failed["state"] == "Failed" and failed["operationType"] == "Service"
    assert failed["error"]["details"][0]["code"] == "InjectedFailure"
    after = api.call("GET", f"services/{service['id']}").json()
    # A failed update leaves the service as it was.
    assert after["acrImagePullSecret"] == "acr-pull" and after["state"] == "Succeeded"
    assert (
        api.session.get(f"{api.base_url}/_emulator/faults", timeout=10).json()[
            "fail_next_operations"
        ]
        == 0
    )


def test_stats_count_requests_faults_and_objects(faulty: tuple[EmulatorProcess, Api]) -> None:
    _, api = faulty
    api.session.post(f"{api.base_url}/_emulator/reset", timeout=10)
    api.register_model()
    set_faults(api, throttle_rate=1.0, retry_after=1)
    api.call("GET", "models")
    api.session.delete(f"{api.base_url}/_emulator/faults", timeout=10)
    stats = api.session.get(f"{api.base_url}/_emulator/stats", timeout=10).json()
    # The reset answers 200 too (counted once the counters are cleared), then the model.
    assert stats["requests"]["POST 200"] == 2 and stats["requests"]["GET 429"] == 1
    assert stats["faults"] == {"throttled_retry_after": 1}
    assert stats["objects"] == {
        "models": 1,
        "manifests": 0,
        "images": 0,
        "services": 0,
        "operations": 0,
    }


def test_reset_clears_every_object(faulty: tuple[EmulatorProcess, Api]) -> None:
    _, api = faulty
    model = api.register_model()
    image = api.build_image()
    reset = api.session.post(f"{api.base_url}/_emulator/reset", timeout=10)
    assert reset.status_code == 200
    assert api.call("GET", f"models/{model['id']}").status_code == 404
    assert api.call("GET", f"images/{image['id']}").status_code == 404
    counts = api.session.get(f"{api.base_url}/_emulator/stats", timeout=10).json()["objects"]
    assert set(counts.values()) == {0}
