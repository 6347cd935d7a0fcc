"""Command-line flags that change answers: paging, body limit, binding, faults, data dir."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psutil
import pytest
import requests

from mms_pulumi.emulator.process import EmulatorProcess
from tests.emulator.conftest import API_VERSION, Api


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """Bound to every interface, paging by 2, a 4 KiB body limit."""
    args = ["--host", "0.0.0.0", "--page-size", "2", "--max-body-bytes", "4096"]
    with EmulatorProcess(tmp_path_factory.mktemp("exposed"), 0.1, args) as running:
        yield running


def test_page_size_answers_pages_with_absolute_next_links(exposed: EmulatorProcess) -> None:
    api = Api(exposed.base_url, "paged")
    registered = [api.register_model(f"m{i}")["id"] for i in range(5)]
    # No api-version on the first request (as the 2017 CLI sent); the links still carry it.
    page = api.call("GET", "models", params={}).json()
    seen, links = [m["id"] for m in page["value"]], []
    while "nextLink" in page:
        links.append(page["nextLink"])
        page = api.call("GET", page["nextLink"], params={}).json()
        seen += [m["id"] for m in page["value"]]
    assert seen == registered
    assert len(links) == 2 and "nextLink" not in page
    for link in links:
        assert link.startswith(f"{exposed.base_url}/api/subscriptions/")
        query = parse_qs(urlsplit(link).query)
        assert query["api-version"] == [API_VERSION] and query["$skipToken"]


def test_count_overrides_the_page_size_and_bad_counts_are_400(exposed: EmulatorProcess) -> None:
    api = Api(exposed.base_url, "counted")
    for _ in range(3):
        api.register_model("c")
    page = api.call("GET", "models", params={"api-version": API_VERSION, "count": "3"}).json()
    assert len(page["value"]) == 3 and "nextLink" not in page
    bad = api.call("GET", "models", params={"api-version": API_VERSION, "count": "0"})
    assert bad.status_code == 400
    assert bad.json()["details"][0]["message"].startswith("count:")


def test_every_list_pages(exposed: EmulatorProcess) -> None:
    api = Api(exposed.base_url, "empty")
    for kind in ("models", "manifests", "images", "services"):
        assert api.call("GET", kind).json() == {"value": []}


def test_max_body_bytes_flag(exposed: EmulatorProcess) -> None:
    api = Api(exposed.base_url, "limited")
    body = {"name": "big", "url": "file:///m", "mimeType": "a/b", "description": "d" * 5000}
    response = api.call("POST", "models", body)
    assert response.status_code == 413
    assert response.json()["statusCode"] == 413


def test_control_routes_exist_only_on_loopback_binds(exposed: EmulatorProcess) -> None:
    for method, path in (
        ("GET", "faults"),
        ("PUT", "faults"),
        ("DELETE", "faults"),
        ("GET", "stats"),
        ("POST", "reset"),
    ):
        answer = requests.request(
            method, f"{exposed.base_url}/_emulator/{path}", json={}, timeout=10
        )
        assert answer.status_code in (404, 405), (method, path)
        assert answer.json()["statusCode"] == answer.status_code
    health = requests.get(f"{exposed.base_url}/_emulator/health", timeout=10).json()
    assert health["status"] == "ok" and "dataDir" not in health


def test_fault_flags_and_the_default_data_dir(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mms_pulumi.emulator",
            "--port",
            "0",
            "--fault-throttle-rate",
            "1",
            "--fault-retry-after",
            "3",
            "--fault-unavailable-rate",
            "0",
            "--fault-fail-operations",
            "2",
            "--fault-delay",
            "0.05",
            "--fault-seed",
            "5",
            "--log-level",
            "WARNING",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        faults = requests.get(f"{url}/_emulator/faults", timeout=10).json()
        assert faults["throttle_rate"] == 1.0 and faults["retry_after"] == 3.0
        assert faults["fail_next_operations"] == 2 and faults["delay_seconds"] == 0.05
        assert faults["seed"] == 5
        throttled = Api(url, "a").call("GET", "models")
        assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3"
        assert (tmp_path / ".mms-emulator" / "mms.sqlite3").is_file()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def test_the_token_comes_from_the_flag_a_file_or_the_environment(tmp_path: Path) -> None:
    from mms_pulumi.emulator.__main__ import TOKEN_ENV, resolve_token

    token_file = tmp_path / "token"
    token_file.write_text("from-file\nignored\n")
    assert resolve_token("from-flag", None, {TOKEN_ENV: "env"}) == "from-flag"
    assert resolve_token(None, token_file, {TOKEN_ENV: "env"}) == "from-file"
    assert resolve_token(None, None, {TOKEN_ENV: " from-env "}) == "from-env"
    assert resolve_token(None, None, {}) is None
    empty = tmp_path / "empty"
    empty.write_text("\n")
    for flag, path, rule in (
        ("a", token_file, "not both"),
        (None, empty, "holds no token"),
        (None, tmp_path / "missing", "No such file"),
        (" ", None, "must not be empty"),
    ):
        with pytest.raises(ValueError, match=rule):
            resolve_token(flag, path, {})


def test_a_token_file_guards_a_running_emulator(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("file-token-5\n")
    with EmulatorProcess(tmp_path / "data", 0.1, ["--token-file", str(token_file)]) as running:
        root = f"{running.base_url}/api/subscriptions/s/resourceGroups/r/hostingAccounts/a"

        def status(token: str) -> int:
            headers = {"Authorization": f"Bearer {token}"}
            return requests.get(f"{root}/models", headers=headers, timeout=10).status_code

        assert status("x") == 401
        assert status("file-token-5") == 200
        # Unlike --token, the token is not in the process list.
        assert "file-token-5" not in " ".join(psutil.Process(running.pid).cmdline())
