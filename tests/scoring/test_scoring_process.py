"""The scoring process: contract checks, init, POST /score, swagger, clean shutdown."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mms_pulumi.emulator.scoring.server import SECRET_HEADER

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"


def scoring(bundle: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mms_pulumi.emulator.scoring", "--bundle", str(bundle), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def announced(process: subprocess.Popen[str]) -> tuple[str, str]:
    """The base URL and the secret a scoring process run by hand prints once ready."""
    assert process.stdout is not None
    document = json.loads(process.stdout.readline())
    return f"http://127.0.0.1:{document['port']}", document["secret"]


def http(url: str, body: Any = None, *, secret: str, **headers: str) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", SECRET_HEADER: secret, **headers}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
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


@pytest.fixture
def served(quickstart_bundle: Path) -> Iterator[tuple[str, str, subprocess.Popen[str]]]:
    process = scoring(quickstart_bundle, "--driver", "score.py", "--name", "churn")
    base, secret = announced(process)
    try:
        yield base, secret, process
    finally:
        process.terminate()
        process.wait(timeout=10)


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


def test_failing_init_exits_with_the_traceback_last_line(tmp_path: Path) -> None:
    (tmp_path / "score.py").write_text(
        "def init():\n    open('model.pkl')\ndef run(x):\n    return x\n"
    )
    process = scoring(tmp_path, "--driver", "score.py")
    _, err = process.communicate(timeout=30)
    assert process.returncode == 3
    assert err.strip().splitlines()[-1].startswith("init() failed: FileNotFoundError")


def test_scores_health_and_errors(served: tuple[str, str, subprocess.Popen[str]]) -> None:
    base, secret, _ = served
    assert http(f"{base}/", secret=secret) == (200, {"status": "Healthy"})
    status, result = http(
        f"{base}/score",
        {"customers": [{"tenure_months": 2, "monthly_charges": 99, "support_calls": 5}]},
        secret=secret,
    )
    assert status == 200
    assert result["churn"] == [True]
    assert 0.5 < result["churn_probability"][0] <= 1
    status, error = http(f"{base}/score", {"customers": [{"tenure_months": 2}]}, secret=secret)
    assert status == 400
    assert "missing monthly_charges" in error["error"]
    assert http(f"{base}/swagger.json", secret=secret)[0] == 404


@pytest.mark.parametrize(
    "headers",
    [
        {},  # a program on this machine that found the port
        {"Origin": "http://attacker.example"},  # a web page's cross-site post
        {SECRET_HEADER + "-Not": "x"},
    ],
    ids=["no-secret", "web-page", "other-header"],
)
@pytest.mark.parametrize("path", ["/score", "/", "/swagger.json"])
def test_a_call_without_the_secret_is_refused_before_any_driver_code(
    served: tuple[str, str, subprocess.Popen[str]], headers: dict[str, str], path: str
) -> None:
    base, secret, _ = served
    body: dict[str, list[object]] | None = {"customers": []} if path == "/score" else None
    for wrong in ("", secret[:-1], secret + "x"):
        status, error = http(f"{base}{path}", body, secret=wrong, **headers)
        assert status == 403 and "answers the emulator only" in error["error"]
    assert http(f"{base}/", secret=secret)[0] == 200  # the process still serves


def test_swagger_is_served_when_the_bundle_has_a_schema(quickstart_bundle: Path) -> None:
    schema = {
        "input": {"customers": {"type": 0, "internal": "x", "swagger": {"type": "array"}}},
        "output": {"churn": {"type": 0, "internal": "y", "swagger": {"type": "array"}}},
    }
    (quickstart_bundle / "service_schema.json").write_text(json.dumps(schema))
    process = scoring(quickstart_bundle, "--driver", "score.py", "--name", "churn")
    base, secret = announced(process)
    try:
        status, swagger = http(f"{base}/swagger.json", secret=secret)
        assert status == 200
        assert swagger["info"]["title"] == "churn"
        body = swagger["paths"]["/score"]["post"]["parameters"][0]["schema"]
        assert body["properties"]["customers"] == {"type": "array"}
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_sigterm_exits_cleanly(served: tuple[str, str, subprocess.Popen[str]]) -> None:
    _, _, process = served
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
