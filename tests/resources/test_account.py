"""Where a resource lives: override, stack config, environment, and the emulator default."""

from __future__ import annotations

from pathlib import Path

import pytest

from mms_pulumi import account as account_module
from mms_pulumi.account import Account, AccountArgs, AccountError, account_problems, resolve_account

REAL = {
    "endpoint": "https://eastus2.modelmanagement.azureml.net",
    "subscriptionId": "sub-1",
    "resourceGroup": "rg-1",
    "hostingAccount": "acct-1",
}


def test_stack_config_wins_over_environment() -> None:
    env = {"MMS_ENDPOINT": "https://env.example", "MMS_HOSTING_ACCOUNT": "env-acct"}
    resolved = resolve_account(None, REAL, env)
    assert resolved == {
        "endpoint": "https://eastus2.modelmanagement.azureml.net",
        "subscription_id": "sub-1",
        "resource_group": "rg-1",
        "hosting_account": "acct-1",
        "api_version": "2017-06-01-privatepreview",
    }


def test_environment_fills_what_config_leaves_out() -> None:
    env = {
        "MMS_ENDPOINT": "https://env.example",
        "MMS_SUBSCRIPTION_ID": "s",
        "MMS_RESOURCE_GROUP": "r",
        "MMS_HOSTING_ACCOUNT": "a",
    }
    resolved = resolve_account(None, {}, env)
    assert resolved["endpoint"] == "https://env.example"
    assert resolved["hosting_account"] == "a"


def test_resource_override_wins_field_by_field() -> None:
    resolved = resolve_account(AccountArgs(hosting_account="other"), REAL, {})
    assert resolved["hosting_account"] == "other"
    assert resolved["resource_group"] == "rg-1"
    assert resolve_account({"resource_group": "rg-2"}, REAL, {})["resource_group"] == "rg-2"


def test_unknown_override_key_is_an_error_naming_the_allowed_keys() -> None:
    with pytest.raises(AccountError, match=r"hostingaccount.*allowed: api_version, endpoint"):
        resolve_account({"hostingaccount": "x"}, REAL, {})


def test_no_endpoint_means_the_local_emulator(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    started: list[tuple[dict[str, str | None], Path]] = []

    def fake_start(config: dict[str, str | None], project_dir: Path) -> str:
        started.append((config, project_dir))
        return "http://127.0.0.1:5999"

    monkeypatch.setattr(account_module, "start_local_emulator", fake_start)
    resolved = resolve_account(None, {"emulatorPort": "5999"}, {}, project_dir=tmp_path)
    assert resolved["endpoint"] == "http://127.0.0.1:5999"
    assert resolved["hosting_account"] == "local"
    assert started == [({"emulatorPort": "5999"}, tmp_path)]
    explicit = resolve_account(None, {"endpoint": "emulator"}, {}, project_dir=tmp_path)
    assert explicit["endpoint"] == "http://127.0.0.1:5999"


def test_account_round_trips_through_props() -> None:
    account = Account("https://x", "s", "r", "a")
    assert Account.from_props(account.to_props()) == account
    with pytest.raises(AccountError, match="hosting_account"):
        Account.from_props({"endpoint": "https://x", "subscription_id": "s", "resource_group": "r"})


def test_account_problems_say_how_to_fix() -> None:
    problems = dict(
        account_problems(
            {
                "endpoint": "not a url",
                "subscription_id": "",
                "resource_group": "r",
                "hosting_account": "a",
            }
        )
    )
    assert "http(s) URL" in problems["endpoint"]
    assert "mms:subscriptionId" in problems["subscription_id"]
    assert "MMS_SUBSCRIPTION_ID" in problems["subscription_id"]


def test_an_endpoint_carrying_credentials_is_refused_at_preview_without_echoing_them() -> None:
    account = {
        "endpoint": "https://admin:hunter2@mms.invalid",
        "subscription_id": "s",
        "resource_group": "r",
        "hosting_account": "a",
    }
    (problem,) = account_problems(account)
    assert problem[0] == "endpoint" and "mms:token" in problem[1]
    assert "hunter2" not in problem[1]
