"""Where tokens come from, and that they are refreshed before they expire."""

from __future__ import annotations

import pickle
import sys
import types
from typing import Any

import pytest

from mms_pulumi.auth import (
    AccessToken,
    AzureIdentityCredential,
    CredentialError,
    StaticTokenCredential,
    needs_refresh,
    resolve_credential,
)


def test_explicit_token_wins_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMS_TOKEN", "from-env")
    assert resolve_credential("explicit").get_token().token == "explicit"
    assert resolve_credential(None).get_token().token == "from-env"


def test_tokens_never_show_in_repr_or_pickle() -> None:
    credential = StaticTokenCredential("tok-secret-1")
    assert "tok-secret-1" not in repr(credential)
    assert "tok-secret-1" not in repr(credential.get_token())
    with pytest.raises(TypeError, match="never pickled"):
        pickle.dumps(credential)


def test_refresh_margin() -> None:
    token = AccessToken("t", expires_on=1000.0)
    assert not needs_refresh(token, now=600.0)
    assert needs_refresh(token, now=700.0)
    assert needs_refresh(token, now=1000.0)


class _FakeAzure:
    def __init__(self) -> None:
        self.calls = 0

    def get_token(self, scope: str) -> Any:
        self.calls += 1
        return types.SimpleNamespace(token=f"aad-{self.calls}", expires_on=1000 * self.calls)


def test_azure_identity_tokens_are_cached_until_near_expiry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = _FakeAzure()
    module = types.ModuleType("azure.identity")
    module.DefaultAzureCredential = lambda: fake  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure.identity", module)
    now = [0.0]
    credential = AzureIdentityCredential(clock=lambda: now[0])
    assert credential.get_token().token == "aad-1"
    now[0] = 600.0
    assert credential.get_token().token == "aad-1"
    now[0] = 800.0  # within five minutes of expiry
    assert credential.get_token().token == "aad-2"
    assert fake.calls == 2


def test_missing_azure_identity_says_every_way_to_authenticate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MMS_TOKEN", raising=False)
    monkeypatch.setitem(sys.modules, "azure.identity", None)
    with pytest.raises(CredentialError, match=r"mms:token.*MMS_TOKEN.*azure-identity"):
        resolve_credential(None)
