"""Errors never carry a secret a request held, however the service quotes it: whole or
cut short, and every credential inside a kubeconfig, not only the kubeconfig whole."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import pytest
import yaml

from mms_pulumi.client._secrets import Secrets, kube_config_credentials
from mms_pulumi.errors import BadRequestError
from mms_pulumi.resources._smoke import _without_key
from tests.client.scripted import SERVICE_REQUEST, TOKEN, answer, scripted_client

CREDENTIALS: dict[str, Any] = {
    "token": "eyJhbGciOiJSUzI1NiJ9.kube-bearer-token.sig",
    "password": "kube-basic-password-42",
    "client-key-data": "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2Z0lCQURBTkJna3Fo",
    "auth-provider": {
        "name": "oidc",
        "config": {"id-token": "oidc-id-token-abcdef", "refresh-token": "oidc-refresh-123456"},
    },
    "exec": {
        "command": "get-token",
        "env": [{"name": "CLOUD_SECRET", "value": "exec-env-secret-value"}],
    },
}
KUBE_YAML = yaml.safe_dump(
    {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://10.0.0.1:6443"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
        "users": [{"name": "u", "user": CREDENTIALS}],
    }
)
SECRET_VALUES = [
    CREDENTIALS["token"],
    CREDENTIALS["password"],
    CREDENTIALS["client-key-data"],
    "oidc-id-token-abcdef",
    "oidc-refresh-123456",
    "exec-env-secret-value",
]


def test_every_credential_of_a_kubeconfig_is_found() -> None:
    found = kube_config_credentials(KUBE_YAML)
    assert set(SECRET_VALUES) <= found
    assert "https://10.0.0.1:6443" not in found  # a server is not a credential


def test_a_scrub_masks_whole_secrets_and_long_runs_of_them() -> None:
    secrets = Secrets.of({"kubeConfig": KUBE_YAML, "registryInfo": {"password": "hunter2-x"}})
    text = (
        f"user u: token {CREDENTIALS['token']} rejected; password "
        f"'{CREDENTIALS['password'][:10]}…' wrong; key {CREDENTIALS['client-key-data'][5:30]}; "
        "registry said hunter2-x; cluster https://10.0.0.1:6443 unreachable"
    )
    scrubbed = secrets.scrub(text)
    for value in [*SECRET_VALUES, "hunter2-x"]:
        for start in range(0, max(1, len(value) - 8)):
            assert value[start : start + 8] not in scrubbed, (value, scrubbed)
    assert "https://10.0.0.1:6443 unreachable" in scrubbed  # what is not secret stays
    assert scrubbed.startswith("user u: token ***")


def test_the_kubeconfig_whole_is_masked_but_its_plain_words_are_not() -> None:
    secrets = Secrets.of({"kube_config": KUBE_YAML})
    assert secrets.scrub(f"got {KUBE_YAML}") == "got ***"
    assert secrets.scrub("apiVersion: v1 is fine") == "apiVersion: v1 is fine"


def test_short_values_are_left_alone() -> None:
    assert Secrets.of({"password": "abc"}).scrub("abc abc") == "abc abc"


def test_a_service_quoting_kubeconfig_credentials_reaches_no_error_or_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    quoted = (
        f"kubeConfig user u: token {CREDENTIALS['token']} expired; oidc refresh "
        "oidc-refresh... refused"
    )
    body = {
        "code": "BadRequest",
        "message": quoted,
        "details": [
            {"code": "Kube", "message": f"env CLOUD_SECRET=exec-env-secret-value; {TOKEN}"}
        ],
    }
    mms, _, _ = scripted_client([answer(400, body)])
    with pytest.raises(BadRequestError) as refused:
        mms.begin_create_service({**SERVICE_REQUEST, "kube_config": KUBE_YAML})
    error = refused.value
    texts = [
        str(error),
        repr(error),
        repr(error.error),
        "".join(traceback.format_exception(error)),
        caplog.text,
    ]
    for text in texts:
        for value in [*SECRET_VALUES, TOKEN]:
            assert value[:8] not in text and value[-8:] not in text, (value, text)
    assert "expired" in str(error)  # the service's words, less the secrets


def test_a_smoke_test_answer_echoing_the_key_is_masked() -> None:
    key = "scoring-primary-key-0123"
    problem = f"the endpoint answered 401, not 200: bad key {key[:14]}"
    assert key[:8] not in (_without_key(problem, key) or "")
