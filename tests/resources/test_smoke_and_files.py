"""Pure parts of the smoke test and of shipping a Deployment's files: no sockets, no MMS."""

from __future__ import annotations

import hashlib
import http.server
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pulumi
import pytest

from mms_pulumi.resources import _files as files_module
from mms_pulumi.resources._files import LocalFileError, pack_directory, ship
from mms_pulumi.resources._smoke import (
    SmokeTest,
    run_smoke_test,
    scoring_uri_problem,
    smoke_test_of,
    smoke_test_problems,
    smoke_test_props,
    verdict,
)
from mms_pulumi.resources.deployment import wire_runtime
from mms_pulumi.resources.service import SmokeTestArgs, rollback_props
from mms_pulumi.schema import ApiGeneration
from mms_pulumi.schema_2017_09 import Service2017_09

EXPECTED = {"churn": [True]}


@pytest.mark.parametrize(
    ("status", "body", "test", "problem"),
    [
        (200, b'{"churn": [true]}', SmokeTest(input={}, expect=EXPECTED), None),
        (200, b'{"churn":[true]}\n', SmokeTest(input={}, expect=EXPECTED), None),
        (200, b"anything", SmokeTest(input={}), None),
        (201, b"", SmokeTest(input={}, expect_status=201), None),
        (200, b'{"churn": [false]}', SmokeTest(input={}, expect=EXPECTED), "not the expected"),
        (500, b"Traceback\nValueError", SmokeTest(input={}), "answered 500, not 200: Traceback"),
        (200, b"<html>", SmokeTest(input={}, expect=EXPECTED), "not JSON: <html>"),
        (400, b"", SmokeTest(input={}, expect_status=200), "(empty)"),
    ],
)
def test_verdict(status: int, body: bytes, test: SmokeTest, problem: str | None) -> None:
    answer = verdict(status, body, test)
    if problem is None:
        assert answer is None
    else:
        assert answer is not None and problem in answer


def test_verdict_shows_one_short_line_of_the_answer() -> None:
    answer = verdict(500, b"x" * 10_000 + b"\nsecond line", SmokeTest(input={}))
    assert answer is not None and "second line" not in answer and len(answer) < 400


@pytest.mark.parametrize(
    ("value", "path", "rule"),
    [
        ("yes", ("smoke_test",), "must be {input"),
        ({"expect": 1}, ("smoke_test",), "must be {input"),
        ({"input": 1, "expected": 2}, ("smoke_test",), "unknown keys expected"),
        ({"input": 1, "expect_status": 99}, ("smoke_test", "expect_status"), "HTTP status"),
        ({"input": 1, "expect_status": 200.5}, ("smoke_test", "expect_status"), "HTTP status"),
        ({"input": 1, "expect_status": True}, ("smoke_test", "expect_status"), "HTTP status"),
        ({"input": 1, "timeout": 0}, ("smoke_test", "timeout"), "above 0"),
        ({"input": 1, "timeout": float("nan")}, ("smoke_test", "timeout"), "above 0"),
        ({"input": 1, "timeout": 1e10}, ("smoke_test", "timeout"), "at most 3600"),
        ({"input_json": "[" * 100_000}, ("smoke_test", "input"), "JSON data"),
        ({"input_json": "1", "expect_json": "{"}, ("smoke_test", "expect"), "JSON data"),
        ({"expect_json": "1"}, ("smoke_test",), "must be {input"),
        ({"input": {1, 2}}, ("smoke_test", "input"), "JSON data"),
    ],
)
def test_smoke_test_problems(value: object, path: tuple[str, ...], rule: str) -> None:
    problems = smoke_test_problems(value)
    assert any(p.path == path and rule in p.rule for p in problems), problems


def test_a_good_smoke_test_has_no_problems_and_ints_may_arrive_as_floats() -> None:
    value = {"input": {"a": 1}, "expect": [1], "expect_status": 200.0, "timeout": 5}
    assert smoke_test_problems(value) == []
    assert smoke_test_problems(None) == []
    assert smoke_test_of(value) == SmokeTest({"a": 1}, [1], 200, 5.0)
    assert smoke_test_of(None) is None


def test_runtime_flags_map_as_the_cli_mapped_them() -> None:
    assert wire_runtime(None, ApiGeneration.V2017_06) == "ScikitPython"
    assert wire_runtime(None, ApiGeneration.V2017_09) == "Python"
    assert wire_runtime("spark-py", ApiGeneration.V2017_09) == "SparkPython"
    assert wire_runtime("tlc", ApiGeneration.V2017_06) == "Tlc37"
    assert wire_runtime("CNTKPython", ApiGeneration.V2017_06) == "CNTKPython"


def test_a_local_file_is_a_file_url_with_its_content_hash(tmp_path: Path) -> None:
    driver = tmp_path / "score.py"
    driver.write_text("def init(): pass\n")
    first = ship("driver", driver, endpoint_is_local=True, endpoint="http://127.0.0.1:1")
    digest = hashlib.sha256(driver.read_bytes()).hexdigest()
    assert first.url == f"{driver.as_uri()}#sha256={digest}" and not first.unpack
    assert first.name == "score.py"
    # The same file by str path, file:// URL and FileAsset: one URL.
    for same in (str(driver), driver.as_uri(), pulumi.FileAsset(str(driver))):
        assert ship("d", same, endpoint_is_local=True, endpoint="x").url == first.url
    driver.write_text("def init(): return 1\n")
    assert ship("d", driver, endpoint_is_local=True, endpoint="x").url != first.url


def test_remote_urls_and_remote_assets_pass_through() -> None:
    url = "https://blob.example.invalid/models/model.pkl?sig=abc"
    shipped = ship("model", url, endpoint_is_local=False, endpoint="https://mms.example.invalid")
    assert (shipped.url, shipped.unpack, shipped.name) == (url, False, "model.pkl")
    archive = ship(
        "model", pulumi.RemoteArchive(url), endpoint_is_local=False, endpoint="https://x"
    )
    assert archive.unpack
    remote = ship("m", pulumi.RemoteAsset(url), endpoint_is_local=False, endpoint="https://x")
    assert remote.url == url and not remote.unpack


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("ftp://host/model.pkl", "not an http, https or file URL"),
        ("https://host/", "names no file"),
        (pulumi.StringAsset("x"), "StringAsset has no file or URL"),
        (42, "must be a URL, a path"),
    ],
)
def test_unusable_file_inputs_are_named(value: object, rule: str) -> None:
    with pytest.raises(LocalFileError, match=rule):
        ship("model", value, endpoint_is_local=True, endpoint="x")  # type: ignore[arg-type]


def test_a_missing_local_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(LocalFileError, match="does not exist"):
        ship("driver", tmp_path / "nope.py", endpoint_is_local=True, endpoint="x")


def test_a_local_file_against_a_remote_endpoint_says_how_to_upload(tmp_path: Path) -> None:
    (tmp_path / "model.pkl").write_bytes(b"m")
    with pytest.raises(LocalFileError) as raised:
        ship("model", tmp_path / "model.pkl", endpoint_is_local=False, endpoint="https://mms.x")
    message = str(raised.value)
    assert message.startswith("model: ") and "https://mms.x" in message
    assert "storage.Blob" in message and "FileAsset" in message


def test_a_directory_packs_reproducibly_and_unpacks_under_its_name(tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "weights").mkdir(parents=True)
    (model / "weights" / "w.bin").write_bytes(b"\x00\x01")
    (model / "config.json").write_text("{}")
    first = pack_directory(model, tmp_path / "packed")
    second = pack_directory(model, tmp_path / "packed-again")
    assert first.read_bytes() == second.read_bytes()
    assert first.name.startswith("model-") and first.name.endswith(".tar.gz")
    with tarfile.open(first) as tar:
        assert tar.getnames() == [
            "model",
            "model/config.json",
            "model/weights",
            "model/weights/w.bin",
        ]
        assert {member.mtime for member in tar.getmembers()} == {0}
    shipped = ship("model", model, endpoint_is_local=True, endpoint="x", packed_dir=tmp_path)
    assert shipped.unpack and shipped.name == "model" and str(shipped.url).endswith(".tar.gz")
    (model / "config.json").write_text('{"v": 2}')
    assert pack_directory(model, tmp_path / "packed") != first


def test_a_directory_with_a_link_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "escape").symlink_to("/etc/passwd")
    with pytest.raises(LocalFileError, match="link or a special file"):
        pack_directory(model, tmp_path / "packed")


@pytest.mark.parametrize(
    ("uri", "endpoint", "problem"),
    [
        ("http://127.0.0.1:5080/score/s1", "http://127.0.0.1:5080", None),
        ("http://scoring.example.invalid/score", "https://mms.example.invalid", None),
        (None, "http://127.0.0.1:5080", "no scoringUri"),
        ("ftp://127.0.0.1/score", "http://127.0.0.1:5080", "not an http or https URL"),
        ("http://evil.example.invalid/s", "http://127.0.0.1:5080", "the key was not sent"),
    ],
)
def test_the_key_goes_only_where_a_service_of_that_mms_scores(
    uri: str | None, endpoint: str, problem: str | None
) -> None:
    answer = scoring_uri_problem(uri, endpoint)
    assert answer is None if problem is None else (answer is not None and problem in answer)


def test_the_recorded_smoke_test_keeps_nulls_and_reads_back() -> None:
    stored = smoke_test_props(
        SmokeTestArgs(input={"age": None, "x": [1, None]}, expect={"label": None}, timeout=5)
    )
    assert stored == {
        "input_json": '{"age": null, "x": [1, null]}',
        "expect_json": '{"label": null}',
        "expect_status": None,
        "timeout": 5,
    }
    assert smoke_test_problems(stored) == []
    test = smoke_test_of(stored)
    assert test == SmokeTest({"age": None, "x": [1, None]}, {"label": None}, 200, 5.0)
    # No expect: only the status is checked; input null is a JSON null to send.
    assert smoke_test_props({"input": None}) == {"input_json": "null"}
    assert smoke_test_of({"input_json": "null"}) == SmokeTest(None)


@pytest.mark.parametrize("bad", [{1, 2}, float("nan"), object()])
def test_an_input_that_is_not_json_fails_in_the_program_naming_the_field(bad: object) -> None:
    with pytest.raises(ValueError, match=r"smoke_test\.input must be JSON data"):
        smoke_test_props({"input": bad})


def test_a_deeply_nested_answer_is_a_failed_test_not_a_crash() -> None:
    answer = verdict(200, b"[" * 200_000, SmokeTest(input={}, expect=[1]))
    assert answer is not None and "not JSON" in answer


class _Recorder(http.server.BaseHTTPRequestHandler):
    statuses: ClassVar[list[int]] = []
    seen: ClassVar[list[str | None]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append(self.headers.get("Authorization"))
        status = self.statuses.pop(0) if self.statuses else 200
        body = b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def scoring() -> Iterator[str]:
    _Recorder.statuses, _Recorder.seen = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/score"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_key_goes_to_the_scoring_uri_despite_proxies_and_netrc(
    scoring: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("default login me password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    test = SmokeTest(input={"x": 1}, expect={"ok": True})
    assert run_smoke_test(scoring, "k3y", test, mms_endpoint="http://127.0.0.1:5080") is None
    assert _Recorder.seen == ["Bearer k3y"]


def test_a_service_not_ready_yet_is_tried_again_within_the_timeout(scoring: str) -> None:
    _Recorder.statuses = [503, 502]
    slept: list[float] = []
    test = SmokeTest(input={}, expect={"ok": True}, timeout=30)
    answer = run_smoke_test(
        scoring, None, test, mms_endpoint="http://127.0.0.1:5080", sleep=slept.append
    )
    assert answer is None and len(_Recorder.seen) == 3 and len(slept) == 2


def test_a_service_that_stays_unready_fails_with_its_last_answer(scoring: str) -> None:
    _Recorder.statuses = [503] * 1000
    clock = iter(range(0, 1000, 10))  # 10 s pass per look at the clock
    test = SmokeTest(input={}, timeout=30)
    answer = run_smoke_test(
        scoring,
        None,
        test,
        mms_endpoint="http://127.0.0.1:5080",
        monotonic=lambda: float(next(clock)),
        sleep=lambda _seconds: None,
    )
    assert answer is not None and "answered 503" in answer


def test_packing_leaves_out_our_own_state_and_bytecode(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "__pycache__").mkdir(parents=True)
    (root / "__pycache__" / "score.cpython-311.pyc").write_bytes(b"\x00")
    (root / ".mms-emulator").mkdir()
    (root / ".mms-emulator" / "state.db").write_bytes(b"db")
    (root / "model.json").write_text("{}")
    packed = root / ".mms-packed"
    first = pack_directory(root, packed)  # the archive lands inside what is packed
    second = pack_directory(root, packed)
    assert first == second
    with tarfile.open(first) as tar:
        assert tar.getnames() == ["project", "project/model.json"]


def test_archives_unpack_and_other_hosts_and_unreadable_files_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"not really")
    shipped = ship("model", pulumi.FileArchive(str(archive)), endpoint_is_local=True, endpoint="x")
    assert shipped.unpack and str(shipped.url).startswith(archive.as_uri())
    with pytest.raises(LocalFileError, match="another host"):
        ship("model", "file://otherhost/m.pkl", endpoint_is_local=True, endpoint="x")

    def unreadable(_path: Path) -> str:
        raise PermissionError(13, "Permission denied")

    # (Root reads any file, so the OS's refusal is played here.)
    monkeypatch.setattr(files_module, "file_digest", unreadable)
    with pytest.raises(LocalFileError, match="cannot be read \\(Permission denied\\)"):
        ship("model", archive, endpoint_is_local=True, endpoint="x")


def test_a_rollback_undoes_the_settings_an_update_added() -> None:
    before = Service2017_09.model_validate(
        {"id": "s", "name": "s", "imageId": "old", "numReplicas": 2, "appInsightsEnabled": True}
    )
    olds = {"name": "s", "image_id": "new-in-state?", "num_replicas": 2}
    back = rollback_props(olds, before)
    assert back["image_id"] == "old" and back["num_replicas"] == 2
    assert back["app_insights_enabled"] is True
    assert back["autoscaler"] == {"autoscale_enabled": False}
    assert back["data_collection"] == {"storage_enabled": False, "event_hub_enabled": False}
    autoscaled = Service2017_09.model_validate(
        {"id": "s", "name": "s", "imageId": "old", "autoScaler": {"autoscaleEnabled": True}}
    )
    back = rollback_props({"image_id": "x"}, autoscaled)
    assert back["num_replicas"] is None and back["autoscaler"] == {"autoscale_enabled": True}
