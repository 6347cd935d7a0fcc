"""The policies' decisions, without the engine: each rule passes what it should and names
the fix for what it refuses."""

from __future__ import annotations

from mms_pulumi.policy import rules

JUNE = {"endpoint": "http://127.0.0.1:5080", "api_version": "2017-06-01-privatepreview"}
SEPTEMBER = {"endpoint": "http://127.0.0.1:5080", "api_version": "2017-09-01-preview"}
REMOTE = {"endpoint": "https://eastus2.modelmanagement.azureml.net"}


def test_production_is_a_shell_pattern_on_the_stack_name() -> None:
    assert rules.is_production("prod") and rules.is_production("prod-eu")
    assert not rules.is_production("dev") and not rules.is_production("preprod")
    assert rules.is_production("live", "live|prod") is False  # one pattern, not a list
    assert rules.is_production("live-1", "live-*")


def test_a_service_without_a_smoke_test_is_told_how_to_add_one() -> None:
    problem = rules.missing_smoke_test({"name": "churn"})
    assert problem is not None and "smoke_test=SmokeTestArgs(" in problem
    assert rules.missing_smoke_test({"smoke_test": {"input": "{}"}}) is None


def test_replicas_count_fixed_or_as_the_autoscalers_floor() -> None:
    assert rules.too_few_replicas({"account": SEPTEMBER, "num_replicas": 2.0}) is None
    one = rules.too_few_replicas({"account": SEPTEMBER})
    assert one is not None and "runs 1 replica(s)" in one and "num_replicas=2" in one
    scaled = {"autoscale_enabled": True, "min_replicas": 1.0}
    low = rules.too_few_replicas({"account": SEPTEMBER, "autoscaler": scaled})
    assert low is not None and "autoscaler.min_replicas" in low
    scaled_ok = {"autoscale_enabled": True, "min_replicas": 3.0}
    assert rules.too_few_replicas({"account": SEPTEMBER, "autoscaler": scaled_ok}) is None
    assert rules.too_few_replicas({"account": SEPTEMBER, "num_replicas": 2}, minimum=3)
    # 2017-06 services have no replica setting.
    assert rules.too_few_replicas({"account": JUNE}) is None


def test_names_and_tags_follow_the_convention() -> None:
    assert rules.badly_named("churn-model", ["prod"]) is None
    problem = rules.badly_named("Churn_Model", ["ok", "Bad Tag"])
    assert problem is not None
    assert (
        "name 'Churn_Model'" in problem and "tag 'Bad Tag'" in problem and "tag 'ok'" not in problem
    )
    assert rules.badly_named("Churn", [], r"^[A-Z]\w+$") is None
    assert rules.badly_named(None, None) is None  # not known yet in a preview


def test_local_files_are_refused_only_against_a_remote_endpoint() -> None:
    model = {"url": "file:///models/churn.json"}
    assert rules.local_files_against_remote({**model, "account": JUNE}, rules.MODEL) is None
    problem = rules.local_files_against_remote({**model, "account": REMOTE}, rules.MODEL)
    assert problem is not None and problem.startswith("url point(s) at this machine's disk")
    manifest = {
        "account": REMOTE,
        "assets": [{"id": "s", "url": "https://x/score.py"}, {"id": "d", "url": "/src/d.py"}],
        "target_runtime": {"properties": {"pip_requirements": "file:///r.txt"}},
    }
    problem = rules.local_files_against_remote(manifest, rules.MANIFEST)
    assert problem is not None
    assert "assets[1].url" in problem and "target_runtime.properties.pip_requirements" in problem
    assert "assets[0]" not in problem
    remote = {"url": "https://blob/churn.json", "account": REMOTE}
    assert rules.local_files_against_remote(remote, rules.MODEL) is None


def test_list_inputs_are_read_as_any_sequence() -> None:
    """The engine hands a policy read-only sequences (pulumi_policy's proxies), not lists."""
    problem = rules.badly_named("churn", ("Bad Tag",))
    assert problem is not None and "tag 'Bad Tag'" in problem
    assert rules.badly_named("churn", "Bad Tag") is None  # a string is not a list of tags


def test_registries_must_be_on_the_allow_list() -> None:
    image = {"registry_info": {"user": "u", "location": "acr.example.io", "password": "p"}}
    assert rules.registry_not_allowed(image, ["*.example.io"]) is None
    problem = rules.registry_not_allowed(image, ["acr.corp.io"])
    assert problem is not None and "'acr.example.io'" in problem and "acr.corp.io" in problem
    assert rules.registry_not_allowed({"name": "2017-09 image"}, ["acr.corp.io"]) is None


def test_credentials_must_not_come_from_plaintext_config() -> None:
    image = {"registry_info": {"location": "l", "password": "hunter2"}}
    plain = {"proj:registryPassword": "hunter2", "proj:other": "x"}
    problem = rules.plaintext_credentials(image, rules.IMAGE, plain)
    assert problem is not None
    assert "registry_info.password" in problem and "proj:registryPassword" in problem
    assert "pulumi config set --secret proj:registryPassword" in problem
    assert rules.plaintext_credentials(image, rules.IMAGE, {"proj:other": "x"}) is None
    # A kubeconfig matches as a document: the provider stores it as single-line JSON.
    yaml_config = "apiVersion: v1\nkind: Config\nusers: []\n"
    service = {"kube_config": '{"apiVersion":"v1","kind":"Config","users":[]}'}
    assert rules.plaintext_credentials(service, rules.SERVICE, {"p:kubeConfig": yaml_config})


def test_the_token_must_be_a_secret() -> None:
    problem = rules.plaintext_token({"mms:token": "t"}, [])
    assert problem is not None and "pulumi config set --secret mms:token" in problem
    assert rules.plaintext_token({"mms:token": "t"}, ["mms:token"]) is None
    assert rules.plaintext_token({}, []) is None


def test_the_stack_config_comes_from_the_environment_under_a_language_host() -> None:
    from mms_pulumi.policy import stack_config

    environ = {
        "PULUMI_CONFIG": '{"mms:token": "t", "proj:x": "1"}',
        "PULUMI_CONFIG_SECRET_KEYS": '["mms:token"]',
    }
    assert stack_config(environ) == ({"mms:token": "t", "proj:x": "1"}, ["mms:token"])
    assert stack_config({"PULUMI_CONFIG": "not json"}) == ({}, [])
    assert stack_config({}) == ({}, [])
