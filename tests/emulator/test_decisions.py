"""The emulator's decisions as pure functions: no sockets, no sleeps, the clock injected."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from starlette.types import Receive, Scope, Send

from mms_pulumi.emulator.__main__ import base_url, parse_args
from mms_pulumi.emulator.backend_services import scoring_uri
from mms_pulumi.emulator.builder import (
    DEFAULT_REPOSITORY,
    BuildFailure,
    driver_problem,
    image_files,
    image_location,
)
from mms_pulumi.emulator.errors import ApiError, error_body, invalid_request
from mms_pulumi.emulator.faults import FaultInjector, FaultSettings
from mms_pulumi.emulator.middleware import (
    BodyLimit,
    LocalOnly,
    OnMmsPaths,
    RequestContext,
    auth_problem,
    normalize_resource_groups,
    rules,
    scoring_road,
)
from mms_pulumi.emulator.operations import finish_due, operation_body, start_due
from mms_pulumi.emulator.records import ImageRecord
from mms_pulumi.emulator.routes._common import page_bounds
from mms_pulumi.emulator.scoring_rules import not_on_this_port, scoring_path
from mms_pulumi.emulator.settings import EmulatorSettings, is_loopback
from mms_pulumi.emulator.store import OperationRecord
from mms_pulumi.schema import (
    TERMINAL_STATES,
    IllegalTransition,
    Manifest,
    Model,
    OperationState,
    OperationType,
    ResponseRegistryInfo,
)


def operation(created: float = 100.0, seconds: float = 10.0, **extra: object) -> OperationRecord:
    fields: dict[str, object] = {
        "id": "op",
        "scope": "s/rg/a",
        "operation_type": OperationType.IMAGE,
        "action": "build",
        "resource_kind": "images",
        "resource_id": "img",
        "resource_location": "/api/subscriptions/s/resourceGroups/rg/hostingAccounts/a/images/img",
        "created": created,
        "not_before": created + seconds,
        **extra,
    }
    return OperationRecord(**fields)  # type: ignore[arg-type]


# --- operation state machine ----------------------------------------------------------------


def test_operation_is_not_started_for_its_first_tenth() -> None:
    record = operation(created=100.0, seconds=10.0)
    assert not start_due(record, 100.0)
    assert not start_due(record, 100.99)
    assert start_due(record, 101.0)


def test_operation_is_not_terminal_before_its_time_even_when_the_work_is_done() -> None:
    record = operation(created=100.0, seconds=10.0)
    assert not finish_due(record, 109.99, work_done=True)
    assert finish_due(record, 110.0, work_done=True)


def test_operation_waits_for_slow_work_past_its_time() -> None:
    assert not finish_due(operation(), 500.0, work_done=False)


def test_zero_second_operations_start_and_end_at_once() -> None:
    record = operation(created=100.0, seconds=0.0)
    assert start_due(record, 100.0)
    assert finish_due(record, 100.0, work_done=True)


def test_an_operation_moves_only_forward_along_the_transition_table() -> None:
    record = operation()
    record.move_to(OperationState.RUNNING)
    with pytest.raises(IllegalTransition, match="Running cannot become NotStarted"):
        record.move_to(OperationState.NOT_STARTED)
    record.move_to(OperationState.SUCCEEDED)
    for state in OperationState:
        with pytest.raises(IllegalTransition, match="it is terminal"):
            record.move_to(state)
    assert record.state == OperationState.SUCCEEDED


def test_terminal_states_are_exactly_those_with_no_way_out() -> None:
    assert {
        OperationState.SUCCEEDED,
        OperationState.FAILED,
        OperationState.CANCELLED,
    } == TERMINAL_STATES
    assert not OperationState.RUNNING.is_terminal


def test_an_operation_record_reads_back_its_state_as_the_enum() -> None:
    record = operation(state=OperationState.RUNNING)
    again = OperationRecord.from_json(record.to_json())
    assert again == record and again.state is OperationState.RUNNING


def test_operation_body_has_null_end_time_until_terminal_and_error_when_failed() -> None:
    running = operation_body(operation(state=OperationState.RUNNING))
    assert running["endTime"] is None and "error" not in running
    assert running["createdTime"] == "1970-01-01T00:01:40Z"
    assert running["operationType"] == "Image"
    failed = operation_body(
        operation(
            state=OperationState.FAILED,
            ended=112.5,
            error=error_body(400, "bad", [("C", "x: why")]),
        )
    )
    assert failed["endTime"] == "1970-01-01T00:01:52.500000Z"
    assert failed["error"] == {
        "code": "BadRequest",
        "message": "bad",
        "statusCode": 400,
        "details": [{"code": "C", "message": "x: why"}],
    }


# --- fault decisions ------------------------------------------------------------------------


def test_seeded_fault_decisions_repeat() -> None:
    def decisions() -> list[int | None]:
        injector = FaultInjector(FaultSettings(throttle_rate=0.5, unavailable_rate=0.25, seed=3))
        return [f.status if (f := injector.for_request("POST")) else None for _ in range(40)]

    assert decisions() == decisions()
    assert {429, 503, None} == set(decisions())


def test_throttle_without_retry_after_has_none_and_unavailable_takes_it() -> None:
    bare = FaultInjector(FaultSettings(throttle_rate=1.0)).for_request("GET")
    assert bare is not None and bare.status == 429 and bare.retry_after is None
    unavailable = FaultInjector(FaultSettings(unavailable_rate=1.0, retry_after=1.5))
    fault = unavailable.for_request("GET")
    assert fault is not None and fault.status == 503 and fault.retry_after == 1.5


def test_delay_follows_the_methods_filter() -> None:
    injector = FaultInjector(FaultSettings(delay_seconds=0.2, methods=["POST"]))
    assert injector.delay("POST") == 0.2
    assert injector.delay("GET") == 0.0


def test_fail_next_operations_counts_down() -> None:
    injector = FaultInjector(FaultSettings(fail_next_operations=2))
    assert [injector.take_operation_failure() for _ in range(3)] == [True, True, False]
    assert injector.settings.fail_next_operations == 0
    assert injector.counts["failed_operations"] == 2


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"throttle": 1}, "unknown fault setting"),
        ({"throttle_rate": 1.5}, "between 0 and 1"),
        ({"throttle_rate": "often"}, "must be a number"),
        ({"retry_after": -1}, "0 or more"),
        ({"fail_next_operations": 1.5}, "whole number"),
        ({"seed": "x"}, "seed"),
        ({"methods": "GET"}, "list of HTTP methods"),
        ({"throttle_rate": 0.6, "unavailable_rate": 0.6}, "must not exceed 1"),
    ],
)
def test_bad_fault_settings_name_the_setting(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultSettings.from_json(settings)


def test_fault_settings_default_to_off_for_every_method() -> None:
    settings = FaultSettings.from_json({"methods": ["get", "post"]})
    assert settings.methods == ["GET", "POST"]
    assert FaultSettings.from_json({}).to_json()["methods"] == ["GET", "POST", "PUT", "DELETE"]


# --- request rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "token", "accepted"),
    [
        (None, None, False),
        ("", None, False),
        ("Bearer ", None, False),
        ("Basic dXNlcjpwYXNz", None, False),
        ("Bearer anything", None, True),
        ("bearer anything", None, True),
        ("Bearer s3cret", "s3cret", True),
        ("Bearer other", "s3cret", False),
    ],
)
def test_bearer_token_rules(header: str | None, token: str | None, accepted: bool) -> None:
    assert (auth_problem(header, token) is None) is accepted


def test_resource_groups_segment_is_matched_in_any_case() -> None:
    path = "/api/subscriptions/s/ResourceGROUPS/rg/hostingAccounts/a/models"
    assert normalize_resource_groups(path) == (
        "/api/subscriptions/s/resourceGroups/rg/hostingAccounts/a/models"
    )


@pytest.mark.parametrize(
    ("total", "page_size", "count", "token", "expected"),
    [
        (5, 0, None, None, None),
        (5, 2, None, None, (0, 2, 2)),
        (5, 2, None, "4", (4, 5, None)),
        (5, 0, "3", None, (0, 3, 3)),
        (5, 2, "10", None, (0, 5, None)),
        (0, 2, None, None, (0, 0, None)),
        (5, 2, None, "9", (9, 5, None)),
    ],
)
def test_page_bounds(
    total: int,
    page_size: int,
    count: str | None,
    token: str | None,
    expected: tuple[int, int, int | None] | None,
) -> None:
    assert page_bounds(total, page_size, count, token) == expected


@pytest.mark.parametrize(("count", "token"), [("0", None), ("two", None), (None, "abc")])
def test_bad_paging_parameters_are_400(count: str | None, token: str | None) -> None:
    with pytest.raises(ApiError) as raised:
        page_bounds(5, 2, count, token)
    assert raised.value.status == 400
    assert raised.value.details[0][1].startswith(("count:", "$skipToken:"))


def test_malformed_json_is_described_without_the_body() -> None:
    error = invalid_request(
        [{"type": "json_invalid", "loc": ("body", 1), "msg": "x", "ctx": {"error": "Expecting"}}]
    )
    assert error.status == 400
    assert error.details == [
        ("InvalidRequest", "(body): is not valid JSON (Expecting at position 1)")
    ]


# --- image build decisions ------------------------------------------------------------------


def manifest(**changes: object) -> Manifest:
    body: dict[str, object] = {
        "id": "man",
        "modelIds": ["m1"],
        "assets": [{"id": "score", "url": "file:///s/score.py", "mimeType": "text/x-python"}],
        "targetRuntime": {"runtimeType": "ScikitPython", "properties": {}},
        "driverProgram": "score",
        **changes,
    }
    return Manifest.model_validate(body)


def test_driver_program_must_be_an_asset_id() -> None:
    assert driver_problem(manifest()) is None
    assert driver_problem(manifest(driverProgram=None)) is None
    problem = driver_problem(manifest(driverProgram="main"))
    assert problem == (
        "InvalidDriverProgram",
        "driverProgram: 'main' is not one of the manifest's asset ids (score)",
    )


def test_image_files_are_models_then_assets_then_runtime_files() -> None:
    model = Model(id="m1", name="churn", version=1, url="file:///m/model.pkl")
    files = image_files(
        manifest(targetRuntime={"runtimeType": "TLC", "properties": {"pipRequirements": "r"}}),
        {"m1": model},
    )
    assert [f.label for f in files] == [
        "model churn (id m1)",
        "asset score",
        "targetRuntime.properties.pipRequirements",
    ]


def test_a_model_gone_from_the_account_fails_the_build() -> None:
    with pytest.raises(BuildFailure) as raised:
        image_files(manifest(), {"m1": None})
    assert raised.value.details[0][1].startswith("modelIds[0]: model m1")


def test_image_location_is_registry_repository_and_version() -> None:
    image = ImageRecord(
        id="i",
        version=3,
        registry_info=ResponseRegistryInfo(user="u", location="acr.io"),
    )
    assert image_location(image, manifest()) == f"acr.io/{DEFAULT_REPOSITORY}:3"
    assert image_location(image, manifest(name="churn")) == "acr.io/churn:3"


# --- settings and command line --------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("10.1.2.3", False), ("example.com", False)],
)  # fmt: skip
def test_control_routes_only_on_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    assert EmulatorSettings(host=host).control_enabled is loopback


def test_announced_url_reaches_a_wildcard_bind_on_this_machine() -> None:
    assert base_url("127.0.0.1", 5080) == "http://127.0.0.1:5080"
    assert base_url("0.0.0.0", 81) == "http://127.0.0.1:81"
    assert base_url("::", 82) == "http://[::1]:82"


def test_command_line_defaults() -> None:
    args = parse_args([])
    assert (args.host, args.port, str(args.data_dir)) == ("127.0.0.1", 5080, ".mms-emulator")
    assert (args.token, args.operation_seconds, args.page_size) == (None, 2.0, 0)
    assert (args.max_body_bytes, args.log_level) == (1024 * 1024, "info")
    assert parse_args(["--log-level", "WARNING", "--operation-seconds", "0"]).log_level == "warning"


@pytest.mark.parametrize(
    "argv", [["--operation-seconds", "-1"], ["--page-size", "-2"], ["--max-body-bytes", "0"]]
)
def test_command_line_refuses_nonsense(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)


def test_timestamps_are_utc_iso_8601() -> None:
    stamp = datetime(2026, 11, 22, 11, 40, 0, 123456, tzinfo=UTC)
    image = ImageRecord(id="i", created_time=stamp)
    assert image.to_wire()["createdTime"] == "2026-11-22T11:40:00.123456Z"


def test_the_scoring_road_takes_every_rule_but_those_of_mms_paths_in_order() -> None:
    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("not called")

    road, layers = scoring_road(endpoint, 1024), []
    while road is not endpoint:
        layers.append(type(road))
        road = road.app  # type: ignore[attr-defined]
    classes = [rule for rule, _ in rules(1024) if isinstance(rule, type)]
    assert layers == [rule for rule in classes if not issubclass(rule, OnMmsPaths)]
    assert layers == [RequestContext, LocalOnly, BodyLimit]


@pytest.mark.parametrize(
    ("method", "path", "served"),
    [
        ("POST", "/api/v1/service/svc/score", True),
        ("GET", "/api/v1/service/svc/", True),
        ("GET", "/api/v1/service/svc/swagger.json", True),
        ("POST", "/api/v1/service/other/score", False),  # another service's call
        ("GET", "/api/v1/service/svc/score", False),  # not one of the three calls
        ("GET", "/_emulator/health", False),  # the emulator's own routes live on its port
        ("GET", "/api/subscriptions/s/resourceGroups/g/hostingAccounts/a/models", False),
    ],
)
def test_a_service_s_scoring_port_serves_its_own_three_calls_only(
    method: str, path: str, served: bool
) -> None:
    refused = not_on_this_port("svc", method, path)
    assert (refused is None) is served
    if refused is not None:
        assert refused.status == 404


def test_scoring_uris_name_the_service_s_port_on_the_host_the_caller_reached() -> None:
    assert scoring_uri("http://127.0.0.1:5080", "abc", 40001) == (
        "http://127.0.0.1:40001/api/v1/service/abc/score"
    )
    assert scoring_uri("http://[::1]:5080/", "abc", 40001) == (
        "http://[::1]:40001/api/v1/service/abc/score"
    )
    assert scoring_uri("http://localhost:5080", "abc", None) == (
        "http://localhost:5080/api/v1/service/abc/score"  # no port of its own: the emulator's
    )
    assert scoring_path("abc", "/swagger.json") == "/api/v1/service/abc/swagger.json"


def test_a_replica_reads_back_the_settings_it_was_sent() -> None:
    settings = EmulatorSettings(
        host="::1", token="t", max_body_bytes=10, require_scoring_keys=True, file_roots=()
    )
    back, service_id = EmulatorSettings.from_replica(settings.for_replica("svc"))
    assert service_id == "svc"
    assert (back.host, back.token, back.max_body_bytes, back.require_scoring_keys) == (
        "::1",
        "t",
        10,
        True,
    )
    assert back.database == settings.database
