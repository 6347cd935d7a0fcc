"""The scoring process: contract checks, init, and the service's scoring URI as it serves
it on the service's scoring port (``ServiceHost`` in this process, no emulator server):
the emulator's rules, kept-alive connections, clean shutdown."""

from __future__ import annotations

import http.client
import json
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mms_pulumi.emulator.ports import BACKLOG
from mms_pulumi.emulator.runtime import Backend, BackendError, start_backend
from mms_pulumi.emulator.scoring_rules import CALL_SLOTS
from mms_pulumi.emulator.services import ServiceHost
from mms_pulumi.emulator.settings import EmulatorSettings
from mms_pulumi.emulator.store import NewObject, Store

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
SCOPE = "subscription/group/account"  # a 2017-06 account: no key is required
CHURNING = {"customers": [{"tenure_months": 2, "monthly_charges": 99, "support_calls": 5}]}
# Never sent: a direct route opener, so no proxy of the environment is asked.
LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def scoring(bundle: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mms_pulumi.emulator.scoring", "--bundle", str(bundle), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def call(url: str, body: Any = None, **headers: str) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **headers}
    )
    try:
        with LOOPBACK.open(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture
def quickstart_bundle(tmp_path: Path) -> Path:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    shutil.copy(QUICKSTART / "score.py", bundle)
    shutil.copy(QUICKSTART / "churn-model.json", bundle)
    return bundle


@dataclass
class Served:
    """A service served by one replica of a ``ServiceHost``."""

    host: ServiceHost
    backend: Backend
    base: str  # the scoring URI without its last segment


def _serve(tmp_path: Path, bundle: Path, **settings: Any) -> Iterator[Served]:
    emulator = EmulatorSettings(data_dir=tmp_path / "data", file_roots=(), **settings)
    emulator.data_dir.mkdir()
    store = Store(emulator.database)
    store.create("services", SCOPE, lambda _version: NewObject("svc", {"id": "svc"}))
    host = ServiceHost(store, emulator)
    try:
        backend = host.start("svc", "churn", bundle, "score.py")
        host.route("svc", backend)
        yield Served(host, backend, f"http://127.0.0.1:{host.ports.port('svc')}/api/v1/service/svc")
    finally:
        host.stop_all()
        store.close()


def _log_once_stopped(served: Served) -> str:
    """The service's log, its access lines included, once its replica has stopped (a line
    is written once its call is answered)."""
    served.host.stop("svc")
    return served.host.log_path("svc").read_text()


@pytest.fixture
def served(tmp_path: Path, quickstart_bundle: Path) -> Iterator[Served]:
    yield from _serve(tmp_path, quickstart_bundle)


def test_check_accepts_a_driver_keeping_the_contract(quickstart_bundle: Path) -> None:
    process = scoring(quickstart_bundle, "--driver", "score.py", "--check")
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert json.loads(out) == {"driver": "score.py", "ok": True}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def init(): pass\n", "defines no run(input) function"),
        ("def run(x): return x\n", "defines no init() function"),
        ("def init(): pass\ndef run(): return 1\n", "run() must take one argument"),
        ("import not_a_module_anywhere\n", "ModuleNotFoundError"),
        ("def init(:\n", "SyntaxError"),
    ],
)
def test_check_names_what_is_wrong_with_a_broken_driver(
    tmp_path: Path, source: str, message: str
) -> None:
    (tmp_path / "score.py").write_text(source)
    process = scoring(tmp_path, "--driver", "score.py", "--check")
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "driver program score.py" in err
    assert message in err


def test_serving_wants_the_emulator_s_link(quickstart_bundle: Path) -> None:
    process = scoring(quickstart_bundle, "--driver", "score.py")
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "--link-fd and --busy-fd are required unless --check" in err


def test_failing_init_fails_the_start_with_the_traceback_last_line(tmp_path: Path) -> None:
    (tmp_path / "score.py").write_text(
        "def init():\n    open('model.pkl')\ndef run(x):\n    return x\n"
    )
    settings = EmulatorSettings(data_dir=tmp_path, file_roots=()).for_replica("svc")
    with pytest.raises(BackendError, match=r"^init\(\) failed: FileNotFoundError"):
        start_backend(tmp_path, "score.py", "svc", tmp_path / "svc.log", settings)


def test_scores_health_and_errors(served: Served) -> None:
    base = served.base
    assert call(f"{base}/") == (200, {"status": "Healthy"})
    status, result = call(f"{base}/score", CHURNING)
    assert status == 200
    assert result["churn"] == [True]
    assert 0.5 < result["churn_probability"][0] <= 1
    status, error = call(f"{base}/score", {"customers": [{"tenure_months": 2}]})
    assert status == 400
    assert "missing monthly_charges" in error["error"]
    assert call(f"{base}/swagger.json")[0] == 404
    status, error = call(f"{base}/score", "NaN")  # a JSON string: the driver says why
    assert status == 400
    assert "POST /api/v1/service/svc/score 200" in _log_once_stopped(served)


def test_the_port_serves_its_own_service_only(served: Served) -> None:
    other = served.base.replace("/svc", "/another")
    status, error = call(f"{other}/score", CHURNING)
    assert status == 404 and error["code"] == "NotFound"
    assert call(served.base.replace("/api/v1/service/svc", "/_emulator/health"))[0] == 404


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "http://attacker.example"}, 403),  # a web page's cross-site post
        ({"Host": "attacker.example"}, 403),  # a page that rebound its name to loopback
        ({"Authorization": "Bearer not-a-key"}, 401),  # a key that is not the service's
    ],
    ids=["web-page", "rebinding", "wrong-key"],
)
def test_the_emulator_s_rules_hold_before_any_driver_code(
    served: Served, headers: dict[str, str], status: int
) -> None:
    answered, error = call(f"{served.base}/score", CHURNING, **headers)
    assert answered == status and error["statusCode"] == status
    assert f"POST /api/v1/service/svc/score {status}" in _log_once_stopped(served)


def test_a_body_over_the_limit_is_refused_chunked_or_not(
    tmp_path: Path, quickstart_bundle: Path
) -> None:
    for served in _serve(tmp_path, quickstart_bundle, max_body_bytes=1024):
        port = served.host.ports.port("svc")
        assert port is not None
        for chunked in (False, True):
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            body = json.dumps({"pad": "x" * 4096}).encode()
            if chunked:
                client.request("POST", "/api/v1/service/svc/score", body=iter([body]))
            else:
                client.request("POST", "/api/v1/service/svc/score", body=body)
            answer = client.getresponse()
            assert answer.status == 413, chunked
            assert json.loads(answer.read())["code"] == "PayloadTooLarge"
            client.close()


def test_a_token_guards_the_scoring_uri_unless_a_key_or_the_token_is_sent(
    tmp_path: Path, quickstart_bundle: Path
) -> None:
    for served in _serve(tmp_path, quickstart_bundle, token="the-token"):
        assert call(f"{served.base}/")[0] == 401
        assert call(f"{served.base}/", Authorization="Bearer the-token")[0] == 200
        keys = served.host._store.keys_of("svc")  # made before the replica started
        assert keys is not None
        primary = f"Bearer {keys['primaryKey']}"
        assert call(f"{served.base}/score", CHURNING, Authorization=primary)[0] == 200


def test_a_kept_alive_connection_gets_every_answer(served: Served) -> None:
    port = served.host.ports.port("svc")
    assert port is not None
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(3):
        client.request("POST", "/api/v1/service/svc/score", body=json.dumps(CHURNING))
        answer = client.getresponse()
        assert answer.status == 200 and json.loads(answer.read())["churn"] == [True]
        assert answer.getheader("x-ms-request-id")
    client.close()


def test_a_stop_ends_a_connection_waiting_for_its_next_request(served: Served) -> None:
    port = served.host.ports.port("svc")
    assert port is not None
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    client.request("GET", "/api/v1/service/svc/")
    assert client.getresponse().read() == b'{"status": "Healthy"}'
    # The connection now waits, idle, for a next request that never comes; the emulator
    # holds it too, so the replica's stop must reach it through the emulator.
    served.backend.process.send_signal(signal.SIGTERM)
    assert served.backend.process.wait(timeout=30) == 0  # drained, and exited cleanly
    assert client.sock is not None
    assert client.sock.recv(4096) == b""  # closed, not left hanging
    client.close()


def test_the_link_closing_stops_the_process(served: Served) -> None:
    served.backend.replica.link.shutdown(2)  # as the emulator's exit closes it
    assert served.backend.process.wait(timeout=30) == 0


def test_swagger_is_served_when_the_bundle_has_a_schema(
    tmp_path: Path, quickstart_bundle: Path
) -> None:
    schema = {
        "input": {"customers": {"type": 0, "internal": "x", "swagger": {"type": "array"}}},
        "output": {"churn": {"type": 0, "internal": "y", "swagger": {"type": "array"}}},
    }
    (quickstart_bundle / "service_schema.json").write_text(json.dumps(schema))
    for served in _serve(tmp_path, quickstart_bundle):
        status, swagger = call(f"{served.base}/swagger.json")
        assert status == 200
        assert swagger["info"]["title"] == "churn"
        body = swagger["paths"]["/score"]["post"]["parameters"][0]["schema"]
        assert body["properties"]["customers"] == {"type": "array"}


def test_the_listen_backlog_takes_every_scoring_slot_connecting_at_once() -> None:
    # Fewer, and the connections past the backlog lose their SYN and retry a second later.
    assert BACKLOG >= CALL_SLOTS
