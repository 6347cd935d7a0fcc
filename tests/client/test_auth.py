"""Where tokens come from, that they are refreshed before they expire, and kept secret."""

from __future__ import annotations

import pickle
import subprocess
import sys
import types
from typing import Any

import pytest

from mms_pulumi.auth import (
    ARM_SCOPE,
    MMS_SCOPE,
    AccessToken,
    AzureIdentityCredential,
    CredentialError,
    StaticTokenCredential,
    needs_refresh,
    resolve_credential,
)
from mms_pulumi.errors import MmsError
from tests.client.scripted import answer, model_body, scripted_client


class _FakeAzure:
    """Stands in for DefaultAzureCredential: counts calls, can be told to fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.fail = False

    def get_token(self, *scopes: str) -> Any:
        self.calls.append(scopes)
        if self.fail:
            raise RuntimeError("no az login")
        return types.SimpleNamespace(
            token=f"aad-{len(self.calls)}", expires_on=1000 * len(self.calls)
        )


@pytest.fixture
def fake_azure(monkeypatch: pytest.MonkeyPatch) -> _FakeAzure:
    fake = _FakeAzure()
    module = types.ModuleType("azure.identity")
    module.DefaultAzureCredential = lambda: fake  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure.identity", module)
    monkeypatch.delenv("MMS_TOKEN", raising=False)
    return fake


def test_explicit_token_wins_then_environment_then_azure_identity(
    monkeypatch: pytest.MonkeyPatch, fake_azure: _FakeAzure
) -> None:
    monkeypatch.setenv("MMS_TOKEN", "from-env")
    assert resolve_credential("explicit").get_token().token == "explicit"
    assert resolve_credential(None).get_token().token == "from-env"
    own = StaticTokenCredential("object")
    assert resolve_credential(own) is own
    monkeypatch.delenv("MMS_TOKEN")
    credential = resolve_credential(None)
    assert isinstance(credential, AzureIdentityCredential)
    assert credential.get_token().token == "aad-1"
    assert fake_azure.calls == [(ARM_SCOPE,)]
    assert ARM_SCOPE == "https://management.azure.com/.default"


def test_missing_azure_identity_names_every_way_to_authenticate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MMS_TOKEN", raising=False)
    monkeypatch.setitem(sys.modules, "azure.identity", None)
    with pytest.raises(CredentialError, match=r"mms:token.*MMS_TOKEN.*azure-identity"):
        resolve_credential(None)
    assert issubclass(CredentialError, MmsError)


def test_empty_or_unusable_credentials_are_refused() -> None:
    with pytest.raises(CredentialError, match="empty"):
        resolve_credential("  ")
    with pytest.raises(CredentialError, match="get_token"):
        resolve_credential(42)


def test_tokens_never_show_in_repr_str_or_pickle(fake_azure: _FakeAzure) -> None:
    static = StaticTokenCredential("tok-secret-1")
    azure = AzureIdentityCredential()
    token = azure.get_token()
    for thing in (static, static.get_token(), azure, token):
        assert "tok-secret-1" not in repr(thing) and "tok-secret-1" not in str(thing)
        assert token.token not in repr(thing) and token.token not in str(thing)
        with pytest.raises(TypeError, match="never pickled"):
            pickle.dumps(thing)


def test_refresh_margin() -> None:
    token = AccessToken("t", expires_on=1000.0)
    assert not needs_refresh(token, now=600.0)
    assert needs_refresh(token, now=700.0)
    assert needs_refresh(token, now=1000.0)


def test_azure_identity_tokens_are_cached_until_five_minutes_before_expiry(
    fake_azure: _FakeAzure,
) -> None:
    now = [0.0]
    credential = AzureIdentityCredential(clock=lambda: now[0])
    assert credential.get_token().token == "aad-1"
    now[0] = 600.0
    assert credential.get_token().token == "aad-1"
    now[0] = 800.0  # within five minutes of expiry
    assert credential.get_token().token == "aad-2"
    assert len(fake_azure.calls) == 2


def test_a_failed_early_refresh_keeps_the_token_that_still_works(fake_azure: _FakeAzure) -> None:
    now = [0.0]
    credential = AzureIdentityCredential(clock=lambda: now[0])
    assert credential.get_token().token == "aad-1"
    fake_azure.fail = True
    now[0] = 800.0  # due for refresh, not yet expired
    assert credential.get_token().token == "aad-1"
    now[0] = 1000.0  # expired: nothing left to fall back on
    with pytest.raises(CredentialError, match=r"RuntimeError.*MMS_TOKEN") as failed:
        credential.get_token()
    assert "aad-1" not in str(failed.value)


def test_an_azure_credential_object_is_used_with_the_arm_scope() -> None:
    fake = _FakeAzure()
    fake_type = type("ClientSecretCredential", (), {"get_token": _FakeAzure.get_token})
    fake_type.__module__ = "azure.identity._credentials.client_secret"
    instance = fake_type()
    instance.calls, instance.fail = fake.calls, False
    credential = resolve_credential(instance)
    assert isinstance(credential, AzureIdentityCredential)
    assert credential.get_token().token == "aad-1"
    assert fake.calls == [(ARM_SCOPE,)]


def test_a_credential_that_fails_at_request_time_sends_nothing() -> None:
    class Broken:
        def get_token(self, *_scopes: str, **_kwargs: Any) -> AccessToken:
            raise OSError("keyring locked")

    mms, wire, _ = scripted_client([answer(200, model_body())], credential=Broken())
    with pytest.raises(CredentialError, match="OSError"):
        mms.get_model("m1")
    assert wire.sent == []


def test_an_azure_core_credential_is_asked_for_the_mms_scope_and_its_token_sent() -> None:
    from azure.core.credentials import AccessToken as AzureAccessToken

    class AzureShaped:
        def __init__(self) -> None:
            self.scopes: list[tuple[str, ...]] = []

        def get_token(self, *scopes: str, **_kwargs: Any) -> AzureAccessToken:
            self.scopes.append(scopes)
            return AzureAccessToken("aad-token", 4_000_000_000)

    credential = AzureShaped()
    mms, wire, _ = scripted_client([answer(200, model_body())] * 2, credential=credential)
    mms.get_model("m1")
    mms.get_model("m1")
    assert [r.headers["Authorization"] for r in wire.sent] == ["Bearer aad-token"] * 2
    assert credential.scopes == [(MMS_SCOPE,)]  # cached until shortly before it expires


def test_azure_identity_failures_are_credential_errors_and_send_nothing() -> None:
    from azure.core.exceptions import ClientAuthenticationError

    class NotLoggedIn:
        def get_token(self, *_scopes: str, **_kwargs: Any) -> Any:
            raise ClientAuthenticationError("run az login")

    mms, wire, _ = scripted_client([answer(200, model_body())], credential=NotLoggedIn())
    with pytest.raises(CredentialError, match="ClientAuthenticationError") as failed:
        mms.get_model("m1")
    assert isinstance(failed.value, MmsError)
    assert wire.sent == []


@pytest.mark.parametrize(
    ("returned", "rule"),
    [
        ("just-a-string", "'token' string"),
        (types.SimpleNamespace(token="", expires_on=1), "'token' string"),
        (types.SimpleNamespace(token="t", expires_on="soon"), "numeric 'expires_on'"),
    ],
)
def test_a_credential_breaking_the_protocol_is_a_credential_error(returned: Any, rule: str) -> None:
    class Odd:
        def get_token(self, *_scopes: str, **_kwargs: Any) -> Any:
            return returned

    mms, wire, _ = scripted_client([answer(200, model_body())], credential=Odd())
    with pytest.raises(CredentialError, match=rule):
        mms.get_model("m1")
    assert wire.sent == []


def test_a_credential_without_scopes_is_refused_when_the_client_is_made() -> None:
    class Scopeless:
        def get_token(self) -> AccessToken:
            return AccessToken("t", 1.0)

    with pytest.raises(CredentialError, match=r"get_token\(\*scopes, \*\*kwargs\)"):
        scripted_client([], credential=Scopeless())


def test_the_client_imports_neither_azure_identity_nor_the_emulator() -> None:
    probe = (
        "import sys; from mms_pulumi.client import MmsClient; "
        "MmsClient('http://127.0.0.1:9', 's', 'r', 'a', 't').close(); "
        "print(' '.join(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    assert not {"azure.identity", "fastapi", "uvicorn", "mms_pulumi.emulator"} & loaded
