"""Hostile requests get a 4xx in the seed's error shape with a request id, never a 500.

Against the real emulator on loopback, started with a token.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import threading
from typing import Any
from urllib.parse import urlsplit

import pytest

from mms_pulumi.emulator.process import EmulatorProcess
from tests.emulator.conftest import KUBE_CONFIG, Api

TOKEN = "hostile-token"

pytestmark = pytest.mark.emulator(operation_seconds=0.05, token=TOKEN)


@pytest.fixture(scope="module")
def api(emulator: EmulatorProcess) -> Api:
    return Api(emulator.base_url, "hostile", token=TOKEN)


def _seed_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = dict(response.json())
    assert set(body) == {"code", "message", "statusCode", "details"}
    assert body["statusCode"] == status
    assert response.headers.get("x-ms-request-id")
    return body


@pytest.mark.parametrize(
    ("name", "rule"),
    [("bad\x00name", "letters, digits"), ("x" * 200_000, "at most 63"), ("tab\tname", "letters")],
    ids=["nul", "200k", "tab"],
)
def test_a_hostile_service_name_is_a_400_naming_the_field(api: Api, name: str, rule: str) -> None:
    body = {"name": name, "imageId": "i", "kubeConfig": KUBE_CONFIG, "acrImagePullSecret": "p"}
    error = _seed_error(api.call("POST", "services", body), 400)
    messages = [detail["message"] for detail in error["details"]]
    assert any(m.startswith("name:") and rule in m for m in messages), messages
    assert "x" * 100 not in str(error)


@pytest.mark.parametrize("url", ["file:///tmp/a\x00b", "file:///tmp/a\nb", "http://h/\x7f"])
def test_a_url_with_a_control_character_is_a_400(api: Api, url: str) -> None:
    body = {"name": "m", "url": url, "mimeType": "a/b"}
    error = _seed_error(api.call("POST", "models", body), 400)
    assert "url: must contain no control characters" in str(error["details"])


def test_a_non_ascii_bearer_token_is_a_401_not_a_500(api: Api) -> None:
    parts = urlsplit(api.root)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.putrequest("GET", f"{parts.path}/models")
        connection.putheader("Authorization", "Bearer t\u00e9st\u2603".encode())
        connection.endheaders()
        answer = connection.getresponse()
        status, headers, text = answer.status, dict(answer.getheaders()), answer.read()
    finally:
        connection.close()
    assert status == 401, text
    assert headers.get("x-ms-request-id")


def test_a_deeply_nested_kubeconfig_is_a_400(api: Api) -> None:
    body = {
        "name": "deep",
        "imageId": "i",
        "kubeConfig": "[" * 5000 + "]" * 5000,
        "acrImagePullSecret": "p",
    }
    error = _seed_error(api.call("POST", "services", body), 400)
    assert "kubeConfig: is nested more than 64 levels deep" in str(error["details"])


# --- the emulator as a local service (#14 class 9) -------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "evil.example:5080", "10.0.0.7"])
def test_a_request_for_another_host_is_refused(api: Api, host: str) -> None:
    """A page whose DNS name was rebound to 127.0.0.1 sends its own name as Host."""
    answer = api.session.get(f"{api.root}/models", headers={"Host": host}, timeout=10)
    assert "localhost only" in _seed_error(answer, 403)["message"]


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "https://127.0.0.1:1"])
def test_a_request_from_a_web_page_of_another_origin_is_refused(api: Api, origin: str) -> None:
    """No CORS preflight for a text/plain POST: the Origin is the only tell."""
    answer = api.session.post(
        f"{api.base_url}/_emulator/reset",
        data="x",
        headers={"Origin": origin, "Content-Type": "text/plain"},
        timeout=10,
    )
    _seed_error(answer, 403)


def test_a_same_origin_page_and_a_plain_client_are_served(api: Api) -> None:
    port = urlsplit(api.base_url).port
    for headers in ({}, {"Origin": f"http://127.0.0.1:{port}"}):
        assert api.session.get(f"{api.root}/models", headers=headers, timeout=10).ok


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "reset"), ("GET", "faults"), ("PUT", "faults"), ("GET", "stats")],
)
def test_with_a_token_the_control_routes_want_it_too(api: Api, method: str, path: str) -> None:
    url = f"{api.base_url}/_emulator/{path}"
    refused = api.session.request(method, url, json={}, headers={"Authorization": None})
    _seed_error(refused, 401)
    wrong = api.session.request(method, url, json={}, headers={"Authorization": "Bearer no"})
    _seed_error(wrong, 401)
    health = api.session.get(f"{api.base_url}/_emulator/health", headers={"Authorization": None})
    assert health.json()["status"] == "ok"


def test_with_a_token_scoring_wants_a_service_key(api: Api) -> None:
    service = api.create_service("keyed-by-token", api.build_image()["id"])
    body = {"customers": [{"tenure_months": 3, "monthly_charges": 95.0, "support_calls": 4}]}
    bare = api.session.post(
        service["scoringUri"], json=body, headers={"Authorization": None}, timeout=30
    )
    _seed_error(bare, 401)
    key = api.call("GET", f"services/{service['id']}/keys").json()["primaryKey"]
    keyed = api.session.post(
        service["scoringUri"], json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert keyed.status_code == 200, keyed.text
    operator = api.session.post(service["scoringUri"], json=body, timeout=30)  # the token
    assert operator.status_code == 200, operator.text


# --- secrets at rest (#14 class 8) ------------------------------------------------------------


def test_registry_passwords_are_neither_stored_nor_echoed(
    api: Api, emulator: EmulatorProcess
) -> None:
    image = api.build_image()  # registryInfo.password "reg-secret"
    assert "password" not in api.call("GET", f"images/{image['id']}").json()["registryInfo"]
    stored = b"".join(path.read_bytes() for path in emulator.data_dir.glob("mms.sqlite3*"))
    assert b"reg-secret" not in stored


def test_a_driver_error_reaches_the_log_not_the_caller(api: Api, tmp_path: Any) -> None:
    driver = tmp_path / "score.py"
    driver.write_text(
        "def init():\n    pass\n\n\ndef run(data):\n"
        "    raise RuntimeError('db password is hunter2 at /srv/secret')\n"
    )
    manifest = api.manifest_body([api.register_model()["id"]])
    manifest["assets"][0]["url"] = driver.as_uri()
    manifest_id = api.call("POST", "manifests", manifest).json()["id"]
    image = api.build_image(manifest_id)
    service = api.create_service("leaky", image["id"])
    key = api.call("GET", f"services/{service['id']}/keys").json()["primaryKey"]
    answer = api.session.post(
        service["scoringUri"], json={}, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert answer.status_code == 500 and "hunter2" not in answer.text
    logs = api.session.get(f"{api.base_url}/_emulator/services/{service['id']}/logs", timeout=10)
    assert "hunter2" in logs.text  # where the operator can read it


def test_a_chunked_scoring_body_over_the_limit_is_a_413(api: Api) -> None:
    service = api.create_service("chunked", api.build_image()["id"])
    key = api.call("GET", f"services/{service['id']}/keys").json()["primaryKey"]

    def body() -> Any:
        for _ in range(2048):  # 2 MiB without a Content-Length
            yield b"x" * 1024

    answer = api.session.post(
        service["scoringUri"], data=body(), headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    _seed_error(answer, 413)


# --- found by probing the running emulator ----------------------------------------------------


def test_a_kubeconfig_json_cannot_hold_is_a_400(api: Api) -> None:
    for kube in ("clusters: 2020-01-01\n", "clusters: !!binary aGk=\n", "1: x\nclusters: []\n"):
        body = {"name": "k", "imageId": "i", "kubeConfig": kube, "acrImagePullSecret": "p"}
        error = _seed_error(api.call("POST", "services", body), 400)
        assert "kubeConfig: must be a kubeconfig JSON can hold" in str(error["details"])


@pytest.mark.parametrize(
    "query",
    [
        "count=%C2%B2",
        "count=1&$skipToken=%C2%B2",
        "count=" + "9" * 5000,
        "count=1&$skipToken=" + "9" * 5000,
    ],
)
def test_odd_paging_parameters_are_a_400(api: Api, query: str) -> None:
    answer = api.session.get(f"{api.root}/models?{query}", timeout=10)
    assert "InvalidQueryParameter" in str(_seed_error(answer, 400)["details"])


@pytest.mark.parametrize(
    "setting", ['{"delay_seconds": 1e309}', '{"retry_after": 1' + "0" * 400 + "}"]
)
def test_a_fault_setting_that_would_hang_every_request_is_refused(api: Api, setting: str) -> None:
    answer = api.session.put(
        f"{api.base_url}/_emulator/faults",
        data=setting,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 400, answer.text
    assert (
        api.session.get(f"{api.base_url}/_emulator/faults", timeout=10).json()["delay_seconds"]
        == 0.0
    )


def _raw_get(api: Api, headers: list[tuple[str, str]]) -> int:
    parts = urlsplit(api.root)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.putrequest("GET", f"{parts.path}/models", skip_host=True)
        for name, value in headers:
            connection.putheader(name, value)
        connection.putheader("Authorization", f"Bearer {TOKEN}")
        connection.endheaders()
        answer = connection.getresponse()
        answer.read()
        return answer.status
    finally:
        connection.close()


def test_a_host_that_only_starts_like_loopback_and_doubled_headers_are_refused(
    api: Api,
) -> None:
    port = urlsplit(api.root).port
    here = f"127.0.0.1:{port}"
    assert _raw_get(api, [("Host", here)]) == 200
    assert _raw_get(api, [("Host", "[::1]evil.example")]) == 403
    assert _raw_get(api, [("Host", here), ("Host", "evil.example")]) in (400, 403)
    origins = [("Origin", f"http://{here}"), ("Origin", "http://evil.example")]
    assert _raw_get(api, [("Host", here), *origins]) == 403


def _scoring_service(api: Api, tmp_path: Any, name: str, run_body: str) -> tuple[str, str]:
    driver = tmp_path / name / "score.py"
    driver.parent.mkdir()
    driver.write_text(f"import os\n\n\ndef init():\n    pass\n\n\ndef run(data):\n{run_body}\n")
    manifest = api.manifest_body([api.register_model()["id"]])
    manifest["assets"][0]["url"] = driver.as_uri()
    manifest_id = api.call("POST", "manifests", manifest).json()["id"]
    service = api.create_service(name, api.build_image(manifest_id)["id"])
    key = api.call("GET", f"services/{service['id']}/keys").json()["primaryKey"]
    return service["scoringUri"], key


def test_scoring_refuses_json_python_cannot_take_and_answers_only_json(
    api: Api, tmp_path: Any
) -> None:
    uri, key = _scoring_service(api, tmp_path, "echo-nan", "    return data")
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    for body in (b'{"x": NaN}', b'{"x": ' + b"9" * 5000 + b"}", b"[" * 200_000 + b"]" * 200_000):
        answer = api.session.post(uri, data=body, headers=auth, timeout=30)
        assert answer.status_code == 400, answer.text[:200]
    uri, key = _scoring_service(api, tmp_path, "makes-nan", "    return float('nan')")
    answer = api.session.post(uri, json={}, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert answer.status_code == 500, answer.text
    assert answer.json()["error"].startswith("run() returned a value JSON cannot hold")


def test_a_driver_error_names_files_relative_to_the_image(
    api: Api, emulator: EmulatorProcess, tmp_path: Any
) -> None:
    uri, key = _scoring_service(
        api, tmp_path, "pathy", "    raise ValueError(f'no model at {os.getcwd()}/m.pkl')"
    )
    answer = api.session.post(uri, json={}, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert answer.status_code == 400
    assert "m.pkl" in answer.text and str(emulator.data_dir) not in answer.text


class _Trickle(http.server.BaseHTTPRequestHandler):
    """Sends a byte every 0.1 s until the test closes it: a download that never ends."""

    stop = threading.Event()

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        with contextlib.suppress(OSError):
            while not self.stop.wait(0.1):
                self.wfile.write(b"x")
                self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


def test_slow_image_downloads_do_not_hold_up_service_deployments(api: Api) -> None:
    image = api.build_image()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    slow_url = f"http://127.0.0.1:{server.server_address[1]}/model.bin"
    try:
        building = []
        for index in range(10):  # more than the image workers
            model = api.register_model(f"slow{index}", url=slow_url)
            manifest = api.create_manifest([model["id"]])
            answer = api.call("POST", "images", api.image_body(manifest["id"]))
            building.append(answer.headers["Operation-Location"])
        service = api.create_service("not-held-up", image["id"])  # waits for Succeeded
        assert service["state"] == "Succeeded"
        states = {api.call("GET", f"{api.base_url}{op}").json()["state"] for op in building}
        assert "Succeeded" not in states  # the downloads were still going on
    finally:
        _Trickle.stop.set()
        server.shutdown()
        server.server_close()
