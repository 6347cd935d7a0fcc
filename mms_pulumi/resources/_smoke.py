"""Smoke tests of deployed services: one scoring request that must be answered as expected.

``smoke_test_props`` turns the program's ``SmokeTestArgs`` into what state records (the
input and the expected answer as JSON text, so a ``null`` inside them survives: props drop
``None`` values), ``smoke_test_of`` reads it back, ``verdict`` is the pure decision (tested
without sockets), ``run_smoke_test`` makes the request. The key goes only to the service's
own scoring URI (no proxies, no ``~/.netrc``, no redirects), at most ``MAX_ANSWER_BYTES`` of
the answer are read within the test's whole ``timeout``, and no answer text longer than a
line reaches an error message.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from mms_pulumi.client._secrets import Secrets
from mms_pulumi.client._urls import AmbiguousUrlError, sent_origin
from mms_pulumi.resources._base import is_loopback
from mms_pulumi.resources._fields import contains, contains_unknown
from mms_pulumi.schema import FieldProblem

DEFAULT_STATUS = 200
DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 3600.0
SHOWN_ANSWER_CHARS = 300
MAX_ANSWER_BYTES = 1024 * 1024
RETRY_PAUSE = 0.5  # between tries while the new service is not answering yet
# A just-deployed service may not take requests for a moment: these answers are tried again
# (within the test's timeout); any other answer is the verdict.
NOT_READY_STATUSES = frozenset({502, 503, 504})
STORED_KEYS = frozenset({"input_json", "expect_json", "expect_status", "timeout"})
GIVEN_KEYS = frozenset({"input", "expect", "expect_status", "timeout"})


@dataclass(frozen=True)
class SmokeTest:
    """A checked smoke test."""

    input: Any
    expect: Any = None
    expect_status: int = DEFAULT_STATUS
    timeout: float = DEFAULT_TIMEOUT


def smoke_test_props(value: Any) -> Any:
    """What state records for a program's ``smoke_test`` (``SmokeTestArgs`` or a mapping
    with the same names): ``input`` and ``expect`` as JSON text. Raises ``ValueError``
    naming the field when one is not JSON data."""
    if value is None:
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        given: Any = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    else:
        given = value
    if not isinstance(given, Mapping):
        return given  # check names the problem
    stored = {key: item for key, item in given.items() if key not in ("input", "expect")}
    for name in ("input", "expect"):
        if name == "expect" and given.get(name) is None:
            continue
        if name in given:
            stored[f"{name}_json"] = _json_text(f"smoke_test.{name}", given[name])
    return stored


def _json_text(field: str, value: Any) -> Any:
    if contains(value, lambda item: isinstance(item, pulumi.Output)):
        return pulumi.Output.from_input(value).apply(lambda known: _dumps(field, known))
    return _dumps(field, value)


def _dumps(field: str, value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as err:
        raise ValueError(f"{field} must be JSON data ({type(err).__name__}: {err})") from None


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def smoke_test_problems(value: Any) -> list[FieldProblem]:
    """Why a ``smoke_test`` input is unusable (``check`` reports these at preview)."""
    if value is None or contains_unknown(value):
        return []
    shape = "must be {input, expect?, expect_status?, timeout?} (SmokeTestArgs)"
    if not isinstance(value, Mapping):
        return [FieldProblem(("smoke_test",), shape)]
    stored = "input_json" in value
    if not stored and "input" not in value:
        return [FieldProblem(("smoke_test",), shape)]
    problems = []
    unknown = sorted(set(value) - (STORED_KEYS if stored else GIVEN_KEYS))
    if unknown:
        problems.append(FieldProblem(("smoke_test",), f"has unknown keys {', '.join(unknown)}"))
    status = value.get("expect_status")
    if status is not None and (
        isinstance(status, bool)
        or not isinstance(status, int | float)
        or not math.isfinite(status)
        or not 100 <= status <= 599
        or status != int(status)
    ):
        problems.append(
            FieldProblem(("smoke_test", "expect_status"), "must be an HTTP status (100 to 599)")
        )
    timeout = value.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or not 0 < timeout <= MAX_TIMEOUT
    ):
        problems.append(
            FieldProblem(
                ("smoke_test", "timeout"), "must be a number of seconds, above 0, at most 3600"
            )
        )
    for name in ("input", "expect"):
        rule = _data_problem(value, name, stored)
        if rule is not None:
            problems.append(FieldProblem(("smoke_test", name), rule))
    return problems


def _data_problem(value: Mapping[str, Any], name: str, stored: bool) -> str | None:
    if stored:
        text = value.get(f"{name}_json")
        if text is None:
            return None if name == "expect" else "is required"
        if not isinstance(text, str):
            return "must be JSON data"
        try:
            _loads(text)
        except ValueError as err:
            return f"must be JSON data ({err})"
        return None
    try:
        json.dumps(value.get(name), allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return "must be JSON data"
    return None


def smoke_test_of(value: Any) -> SmokeTest | None:
    """The smoke test a checked input describes, or ``None`` when there is none."""
    if not isinstance(value, Mapping):
        return None
    if "input_json" in value:
        expect_text = value.get("expect_json")
        test_input = _loads(value["input_json"])
        expect = None if expect_text is None else _loads(expect_text)
    elif "input" in value:
        test_input, expect = value["input"], value.get("expect")
    else:
        return None
    return SmokeTest(
        input=test_input,
        expect=expect,
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
    except (ValueError, RecursionError):
        return f"the endpoint answered {status} with a body that is not JSON: {text}"
    if answered != test.expect:
        return f"the endpoint answered {text}, not the expected {json.dumps(test.expect)[:200]}"
    return None


def scoring_uri_problem(scoring_uri: str | None, mms_endpoint: str) -> str | None:
    """Why the key must not go to ``scoring_uri``, or ``None`` (pure).

    Only http(s) URLs are called; and a service of the local emulator scores on this
    machine, so a scoring URI elsewhere is refused rather than handed the key.
    """
    if not scoring_uri:
        return "the service reports no scoringUri to call"
    try:
        origin = sent_origin(scoring_uri)
    except AmbiguousUrlError as err:
        return f"the service's scoringUri cannot be called safely ({err}); nothing was sent"
    if is_loopback(mms_endpoint) and not origin.is_loopback:
        return (
            f"the service's scoringUri is on {origin.host}, not on this machine like the "
            "local MMS it came from; the key was not sent"
        )
    return None


def run_smoke_test(
    scoring_uri: str | None,
    key: str | None,
    test: SmokeTest,
    *,
    mms_endpoint: str,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """POST the test's input to the service; why it failed, or ``None`` when it passed.

    Tried again while the service answers 502/503/504 or refuses connections (it may need
    a moment after ``Succeeded``), all within ``test.timeout``.
    """
    import requests

    from mms_pulumi.client import NoNetrc

    refused = scoring_uri_problem(scoring_uri, mms_endpoint)
    if refused is not None or scoring_uri is None:
        return refused
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    body = json.dumps(test.input)
    deadline = monotonic() + test.timeout
    with requests.Session() as session:
        session.trust_env = False  # no proxies from the environment, no ~/.netrc
        session.auth = NoNetrc()
        while True:
            left = deadline - monotonic()
            problem: str | None = None
            try:
                status, answer = _post(session, scoring_uri, body, headers, left, monotonic)
            except requests.RequestException as err:
                status, answer = None, b""
                problem = f"could not be called ({type(err).__name__})"
            if status is not None and status not in NOT_READY_STATUSES:
                return _without_key(verdict(status, answer, test), key)
            if deadline - monotonic() <= RETRY_PAUSE:
                return (
                    f"the endpoint {problem}"
                    if status is None
                    else _without_key(verdict(status, answer, test), key)
                )
            sleep(RETRY_PAUSE)


def _without_key(problem: str | None, key: str | None) -> str | None:
    """A failed test's reason, never quoting the key (the answer may echo it)."""
    if problem is None or not key:
        return problem
    return Secrets.of(None, key).scrub(problem)


def _post(
    session: Any,
    url: str,
    body: str,
    headers: Mapping[str, str],
    left: float,
    monotonic: Callable[[], float],
) -> tuple[int, bytes]:
    """One POST; the status and at most ``MAX_ANSWER_BYTES`` of the answer, read before
    ``left`` seconds pass (a server that drips bytes cannot hold the test longer)."""
    deadline = monotonic() + left
    with session.post(
        url,
        data=body,
        headers=headers,
        timeout=max(0.1, left),
        allow_redirects=False,  # the key goes to the scoring URI and nowhere else
        stream=True,
    ) as answer:
        chunks: list[bytes] = []
        size = 0
        for chunk in answer.iter_content(64 * 1024):
            chunks.append(chunk)
            size += len(chunk)
            if size >= MAX_ANSWER_BYTES or monotonic() > deadline:
                break
        return int(answer.status_code), b"".join(chunks)[:MAX_ANSWER_BYTES]
