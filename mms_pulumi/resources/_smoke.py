"""Smoke tests of deployed services: one scoring request that must be answered as expected.

``smoke_test_of`` reads the input (a ``SmokeTestArgs`` as plain data), ``verdict`` is the
pure decision (tested without sockets), ``run_smoke_test`` makes the one request. The key
goes only to the service's own scoring URI, and no answer text longer than a line reaches
an error message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mms_pulumi.resources._fields import contains_unknown
from mms_pulumi.schema import FieldProblem

DEFAULT_STATUS = 200
DEFAULT_TIMEOUT = 30.0
SHOWN_ANSWER_CHARS = 300


@dataclass(frozen=True)
class SmokeTest:
    """A checked smoke test."""

    input: Any
    expect: Any = None
    expect_status: int = DEFAULT_STATUS
    timeout: float = DEFAULT_TIMEOUT


def smoke_test_problems(value: Any) -> list[FieldProblem]:
    """Why a ``smoke_test`` input is unusable (``check`` reports these at preview)."""
    if value is None or contains_unknown(value):
        return []
    if not isinstance(value, Mapping) or "input" not in value:
        return [FieldProblem(("smoke_test",), "must be {input, expect?, expect_status?, timeout?}")]
    problems = []
    unknown = sorted(set(value) - {"input", "expect", "expect_status", "timeout"})
    if unknown:
        problems.append(FieldProblem(("smoke_test",), f"has unknown keys {', '.join(unknown)}"))
    status = value.get("expect_status")
    if status is not None and (
        isinstance(status, bool)
        or not isinstance(status, int | float)
        or not 100 <= status <= 599
        or status != int(status)
    ):
        problems.append(
            FieldProblem(("smoke_test", "expect_status"), "must be an HTTP status (100 to 599)")
        )
    timeout = value.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        problems.append(FieldProblem(("smoke_test", "timeout"), "must be a positive number"))
    try:
        json.dumps(value.get("input"))
    except (TypeError, ValueError):
        problems.append(FieldProblem(("smoke_test", "input"), "must be JSON data"))
    return problems


def smoke_test_of(value: Any) -> SmokeTest | None:
    """The smoke test a checked input describes, or ``None`` when there is none."""
    if not isinstance(value, Mapping) or "input" not in value:
        return None
    return SmokeTest(
        input=value["input"],
        expect=value.get("expect"),
        expect_status=int(value.get("expect_status") or DEFAULT_STATUS),
        timeout=float(value.get("timeout") or DEFAULT_TIMEOUT),
    )


def verdict(status: int, body: bytes, test: SmokeTest) -> str | None:
    """Why an answer fails the test, or ``None`` when it passes (pure)."""
    shown = body.decode("utf-8", "replace").strip().splitlines()
    text = (shown[0] if shown else "")[:SHOWN_ANSWER_CHARS] or "(empty)"
    if status != test.expect_status:
        return f"the endpoint answered {status}, not {test.expect_status}: {text}"
    if test.expect is None:
        return None
    try:
        answered = json.loads(body)
    except ValueError:
        return f"the endpoint answered {status} with a body that is not JSON: {text}"
    if answered != test.expect:
        return f"the endpoint answered {text}, not the expected {json.dumps(test.expect)[:200]}"
    return None


def scoring_uri_problem(scoring_uri: str | None, mms_endpoint: str) -> str | None:
    """Why the key must not go to ``scoring_uri``, or ``None`` (pure).

    Only http(s) URLs are called; and a service of the local emulator scores on this
    machine, so a scoring URI elsewhere is refused rather than handed the key.
    """
    from mms_pulumi.resources._base import is_loopback

    if not scoring_uri:
        return "the service reports no scoringUri to call"
    parts = urlsplit(scoring_uri)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "the service's scoringUri is not an http or https URL; nothing was sent"
    if is_loopback(mms_endpoint) and not is_loopback(scoring_uri):
        return (
            f"the service's scoringUri is on {parts.hostname}, not on this machine like the "
            "local MMS it came from; the key was not sent"
        )
    return None


def run_smoke_test(
    scoring_uri: str | None, key: str | None, test: SmokeTest, *, mms_endpoint: str
) -> str | None:
    """POST the test's input to the service; why it failed, or ``None`` when it passed."""
    import requests

    refused = scoring_uri_problem(scoring_uri, mms_endpoint)
    if refused is not None or scoring_uri is None:
        return refused
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    try:
        answer = requests.post(
            scoring_uri,
            data=json.dumps(test.input),
            headers=headers,
            timeout=test.timeout,
            allow_redirects=False,  # the key goes to the scoring URI and nowhere else
        )
    except requests.RequestException as err:
        return f"the endpoint could not be called ({type(err).__name__})"
    return verdict(answer.status_code, answer.content, test)
