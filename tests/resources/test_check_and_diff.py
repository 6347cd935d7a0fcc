"""The providers' check and diff as the engine calls them: no sockets, no engine."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi.output import Unknown

from mms_pulumi.resources.image import ImageProvider
from mms_pulumi.resources.manifest import ManifestProvider
from mms_pulumi.resources.model import ModelProvider
from mms_pulumi.resources.service import ServiceProvider

# A value the engine does not know yet, as it arrives in ``check`` and ``diff`` (the
# engine's class is untyped).
UNKNOWN: Any = Unknown()  # type: ignore[no-untyped-call]

ACCOUNT = {
    "endpoint": "http://127.0.0.1:5080",
    "subscription_id": "sub",
    "resource_group": "rg",
    "hosting_account": "acct",
    "api_version": "2017-06-01-privatepreview",
}
KUBE_CONFIG = (
    "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: https://k}}]\n"
    "users: [{name: u, user: {token: kube-secret-token}}]\n"
    "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
)


def model_inputs(**changes: Any) -> dict[str, Any]:
    return {
        "name": "churn",
        "url": "file:///models/churn.json",
        "mime_type": "application/json",
        "account": ACCOUNT,
        "__provider": "serialized-provider",
        **changes,
    }


def manifest_inputs(**changes: Any) -> dict[str, Any]:
    return {
        "model_ids": ["m1"],
        "driver_program": "score",
        "assets": [{"id": "score", "url": "file:///score.py", "mime_type": "application/x-python"}],
        "target_runtime": {"runtime_type": "ScikitPython", "properties": {}},
        "account": ACCOUNT,
        "__provider": "serialized-provider",
        **changes,
    }


def image_inputs(**changes: Any) -> dict[str, Any]:
    return {
        "manifest_id": "man-1",
        "registry_info": {"user": "acr", "location": "acr.example.io", "password": "hunter2"},
        "account": ACCOUNT,
        "__provider": "serialized-provider",
        **changes,
    }


def service_inputs(**changes: Any) -> dict[str, Any]:
    return {
        "name": "churn",
        "image_id": "img-1",
        "manifest_id": "man-1",
        "kube_config": KUBE_CONFIG,
        "acr_image_pull_secret": "acr-pull",
        "account": ACCOUNT,
        "__provider": "serialized-provider",
        **changes,
    }


def failures(provider: Any, news: dict[str, Any]) -> dict[str, str]:
    result = provider.check({}, news)
    return {failure.property: failure.reason for failure in result.failures}


def checked(provider: Any, news: dict[str, Any]) -> dict[str, Any]:
    result = provider.check({}, news)
    assert result.failures == []
    return dict(result.inputs)


# --- check -----------------------------------------------------------------------------------


def test_valid_model_passes_check_with_defaults_filled() -> None:
    inputs = checked(ModelProvider(), model_inputs())
    assert inputs["description"] == ""
    assert inputs["tags"] == []
    assert inputs["unpack"] is False
    assert "__provider" not in inputs


def test_check_reports_every_bad_model_field_by_name_and_rule() -> None:
    found = failures(
        ModelProvider(),
        model_inputs(name="churn model!", tags=["ok", "not ok"], description="d" * 201),
    )
    assert found == {
        "name": "model name must contain only letters, digits, hyphens, dots and underscores",
        "tags[1]": "model tags[1] must contain only letters and digits",
        "description": "model description must be at most 200 characters",
    }


def test_check_requires_url_and_mime_type() -> None:
    news = model_inputs()
    del news["url"], news["mime_type"]
    assert failures(ModelProvider(), news) == {
        "url": "model url is required",
        "mime_type": "model mime_type is required",
    }


def test_unknown_values_pass_check_unvalidated() -> None:
    provider = ManifestProvider()
    assert failures(provider, manifest_inputs(model_ids=UNKNOWN)) == {}
    assert failures(provider, manifest_inputs(model_ids=[UNKNOWN, "m2"])) == {}
    assert failures(provider, manifest_inputs(assets=UNKNOWN)) == {}
    news = manifest_inputs(target_runtime={"runtime_type": UNKNOWN, "properties": UNKNOWN})
    result = provider.check({}, news)
    assert result.failures == []
    assert isinstance(result.inputs["target_runtime"]["runtime_type"], Unknown)


def test_unknown_value_does_not_hide_other_failures() -> None:
    found = failures(ModelProvider(), model_inputs(url=UNKNOWN, name="bad name"))
    assert list(found) == ["name"]


def test_manifest_driver_program_must_be_an_asset() -> None:
    found = failures(ManifestProvider(), manifest_inputs(driver_program="main"))
    assert "one of the assets" in found["driver_program"]
    assert "'score'" in found["driver_program"]


def test_manifest_runtime_rules_and_typos() -> None:
    found = failures(
        ManifestProvider(),
        manifest_inputs(
            target_runtime={"runtime_type": "Python", "properties": {"pip": "u"}},
            assets=[{"id": "score", "url": "u", "mime_type": "t", "unpak": True}],
        ),
    )
    assert "ScikitPython" in found["target_runtime.runtime_type"]
    assert "pip_requirements" in found["target_runtime.properties.pip"]
    assert "not a known field" in found["assets[0].unpak"]


def test_manifest_nested_defaults_are_filled() -> None:
    inputs = checked(ManifestProvider(), manifest_inputs())
    assert inputs["assets"][0]["unpack"] is False
    assert inputs["target_runtime"] == {"runtime_type": "ScikitPython", "properties": {}}


def test_image_registry_info_rules_never_echo_the_password() -> None:
    found = failures(
        ImageProvider(),
        image_inputs(registry_info={"user": "", "location": "l", "password": "hunter2"}),
    )
    assert found == {"registry_info.user": "image registry_info.user must not be empty"}
    assert "hunter2" not in json.dumps(found)


def test_service_kube_config_is_normalised_to_single_line_json() -> None:
    inputs = checked(ServiceProvider(), service_inputs())
    assert "\n" not in inputs["kube_config"]
    assert json.loads(inputs["kube_config"])["kind"] == "Config"


def test_service_rejects_a_non_kubeconfig_without_echoing_it() -> None:
    found = failures(ServiceProvider(), service_inputs(kube_config="token: hunter2-but-a-string"))
    assert "kubeconfig" in found["kube_config"]
    assert "hunter2" not in json.dumps(found)


def test_account_problems_name_the_setting() -> None:
    found = failures(ModelProvider(), model_inputs(account={**ACCOUNT, "hosting_account": ""}))
    assert "mms:hostingAccount" in found["account.hosting_account"]
    found = failures(ModelProvider(), model_inputs(account={**ACCOUNT, "endpoint": "ftp://x"}))
    assert "http(s) URL" in found["account.endpoint"]


def test_floats_from_the_wire_become_ints() -> None:
    inputs = checked(ModelProvider(), model_inputs(tags=[], unpack=False, extra=3.0))
    assert inputs["extra"] == 3 and isinstance(inputs["extra"], int)


# --- diff ------------------------------------------------------------------------------------


def outputs_of(provider: Any, news: dict[str, Any], **outputs: Any) -> dict[str, Any]:
    return {**checked(provider, news), "__provider": "old-provider", **outputs}


def test_unchanged_model_has_no_diff_even_with_a_new_provider_pickle() -> None:
    provider = ModelProvider()
    olds = outputs_of(provider, model_inputs(), version=1, created_at="t")
    news = {**checked(provider, model_inputs()), "__provider": "a-different-pickle"}
    result = provider.diff("id", olds, news)
    assert result.changes is False
    assert result.replaces == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("url", "file:///models/v2.json"),
        ("name", "churn2"),
        ("tags", ["prod"]),
        ("account", {**ACCOUNT, "hosting_account": "other"}),
    ],
)
def test_changing_any_model_input_replaces_it(field: str, value: Any) -> None:
    provider = ModelProvider()
    olds = outputs_of(provider, model_inputs(), version=1)
    result = provider.diff("id", olds, checked(provider, model_inputs(**{field: value})))
    assert result.changes is True
    assert result.replaces == [field]
    assert result.delete_before_replace is False


def test_unknown_input_counts_as_a_replacing_change() -> None:
    provider = ManifestProvider()
    olds = outputs_of(provider, manifest_inputs())
    news = provider.check({}, manifest_inputs(model_ids=[UNKNOWN])).inputs
    result = provider.diff("id", olds, news)
    assert result.changes is True
    assert result.replaces == ["model_ids"]


@pytest.mark.parametrize("field", ["image_id", "manifest_id", "acr_image_pull_secret"])
def test_service_image_manifest_and_pull_secret_update_in_place(field: str) -> None:
    provider = ServiceProvider()
    olds = outputs_of(provider, service_inputs(), state="Succeeded")
    result = provider.diff("id", olds, checked(provider, service_inputs(**{field: "new"})))
    assert result.changes is True
    assert result.replaces == []


def test_service_kube_config_change_replaces_and_deletes_first() -> None:
    provider = ServiceProvider()
    olds = outputs_of(provider, service_inputs())
    other = KUBE_CONFIG.replace("kube-secret-token", "rotated")
    result = provider.diff("id", olds, checked(provider, service_inputs(kube_config=other)))
    assert result.replaces == ["kube_config"]
    # The new service takes the same unique name, so the old one must go first.
    assert result.delete_before_replace is True


def test_service_rename_replaces_creating_first() -> None:
    provider = ServiceProvider()
    olds = outputs_of(provider, service_inputs())
    result = provider.diff("id", olds, checked(provider, service_inputs(name="churn-v2")))
    assert result.replaces == ["name"]
    assert result.delete_before_replace is False


def test_unknown_image_id_is_an_update_not_a_replace() -> None:
    provider = ServiceProvider()
    olds = outputs_of(provider, service_inputs())
    news = provider.check({}, service_inputs(image_id=UNKNOWN)).inputs
    result = provider.diff("id", olds, news)
    assert result.changes is True
    assert result.replaces == []


def test_yaml_and_json_kubeconfig_of_the_same_cluster_do_not_diff() -> None:
    provider = ServiceProvider()
    olds = outputs_of(provider, service_inputs())
    as_json = json.dumps(json.loads(olds["kube_config"]), indent=2)
    assert (
        provider.diff("id", olds, checked(provider, service_inputs(kube_config=as_json))).changes
        is False
    )


# --- hostile kubeconfigs and empty structs (#14 class 13) -----------------------------------


def _alias_bomb(levels: int = 7) -> str:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join([*lines, f"clusters: *a{levels - 1}", "users: []", "contexts: []"])


@pytest.mark.parametrize(
    ("kube_config", "rule"),
    [
        ("[" * 5000 + "]" * 5000, "nested more than 64 levels deep"),
        ("{a: " * 100 + "1" + "}" * 100, "nested more than 64 levels deep"),
        (_alias_bomb(), "expands to more than 50000 values"),
        ("clusters: []\n" + "#" * (300 * 1024), "at most 256 KiB"),
    ],
    ids=["nested-brackets", "nested-maps", "alias-bomb", "huge"],
)
def test_a_hostile_kubeconfig_is_a_field_problem_not_a_crash(kube_config: str, rule: str) -> None:
    found = failures(ServiceProvider(), service_inputs(kube_config=kube_config))
    assert rule in found["kube_config"]
    assert "[[[" not in found["kube_config"] and "*a0" not in found["kube_config"]


@pytest.mark.parametrize("provider", [ModelProvider(), ServiceProvider()])
def test_check_and_diff_take_missing_structs_as_empty(provider: Any) -> None:
    assert provider.check(None, None).failures  # required fields are reported
    assert provider.check({}, None).failures
    assert provider.diff("id", None, None).changes is False
    assert provider.diff("id", {}, None).changes is False


# --- the 2017-09 generation (mms:apiVersion) -------------------------------------------------

ACCOUNT_2017_09 = {**ACCOUNT, "api_version": "2017-09-01-preview"}


def test_switching_an_image_to_2017_09_names_each_input_that_must_change() -> None:
    found = failures(ImageProvider(), image_inputs(account=ACCOUNT_2017_09))
    assert "belongs to the 2017-06-01-privatepreview API" in found["registry_info"]
    assert "set mms:apiVersion to 2017-06-01-privatepreview" in found["registry_info"]
    assert found["name"] == "image name is required"
    assert found["compute_resource_id"] == "image compute_resource_id is required"
    assert "hunter2" not in str(found)
    fixed = image_inputs(
        account=ACCOUNT_2017_09, registry_info=None, name="img", compute_resource_id="/c"
    )
    assert failures(ImageProvider(), fixed) == {}
    back = failures(ImageProvider(), image_inputs(name="img", compute_resource_id="/c"))
    assert set(back) == {"name", "compute_resource_id"}  # 2017-09 inputs on a 2017-06 account


def test_a_2017_09_manifest_needs_a_name_a_driver_and_its_runtime() -> None:
    found = failures(
        ManifestProvider(),
        manifest_inputs(account=ACCOUNT_2017_09, driver_program=None),
    )
    assert found["name"] == "manifest name is required"
    assert found["driver_program"] == "manifest driver_program is required"
    assert "'SparkPython' or 'Python'" in found["target_runtime.runtime_type"]
    good = manifest_inputs(
        account=ACCOUNT_2017_09,
        name="churn",
        target_runtime={"runtime_type": "Python", "properties": {"pip_requirements": "u"}},
    )
    assert failures(ManifestProvider(), good) == {}
    assert checked(ManifestProvider(), good)["target_runtime"]["properties"] == {
        "pipRequirements": "u"
    }


def test_a_2017_09_service_takes_its_settings_and_rotations_update_in_place() -> None:
    provider = ServiceProvider()
    inputs = service_inputs(
        account=ACCOUNT_2017_09,
        kube_config=None,
        acr_image_pull_secret=None,
        manifest_id=None,
        compute_resource={"id": "/c"},
        num_replicas=2.0,  # numbers arrive as floats
        autoscaler={"autoscale_enabled": False},
    )
    assert failures(provider, inputs) == {}
    news = checked(provider, inputs)
    assert news["num_replicas"] == 2
    assert news["autoscaler"]["max_replicas"] == 10  # defaults filled: refresh compares equal
    assert news["compute_resource"] == {"id": "/c", "type": "Cluster"}
    both = failures(provider, {**inputs, "autoscaler": {"autoscale_enabled": True}})
    assert "numReplicas cannot be given" in str(both)
    olds = {**news, "state": "Succeeded"}
    assert provider.diff("svc", olds, {**news, "num_replicas": 3}).replaces == []
    assert provider.diff("svc", olds, {**news, "primary_key_version": "2"}).replaces == []
    assert provider.diff("svc", olds, {**news, "compute_resource": {"id": "/d"}}).replaces == [
        "compute_resource"
    ]


REMOTE = {**ACCOUNT, "endpoint": "https://mms.example.invalid"}


def test_a_local_file_against_a_remote_endpoint_fails_check_naming_the_field() -> None:
    checked = ModelProvider().check({}, model_inputs(account=REMOTE))
    [failure] = checked.failures
    assert failure.property == "url"
    assert "is a local file" in failure.reason and "https://mms.example.invalid" in failure.reason
    assert "storage.Blob" in failure.reason
    manifest = ManifestProvider().check({}, manifest_inputs(account=REMOTE))
    assert [failure.property for failure in manifest.failures] == ["assets[0].url"]
    # The same files are fine for the local emulator, and a URL is fine anywhere.
    assert ModelProvider().check({}, model_inputs()).failures == []
    remote_url = model_inputs(account=REMOTE, url="https://blob.example.invalid/m.json?sig=x")
    assert ModelProvider().check({}, remote_url).failures == []
