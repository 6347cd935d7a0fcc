"""The guardrails' decisions, pure: what a resource's inputs break, in words a user acts on.

Each function takes a resource's inputs as the engine shows them to a policy (snake_case
keys; mappings and sequences, not dicts and lists; ints may arrive as floats; a value not
known yet during a preview is ``None``) and
the policy's configuration, and returns a violation message or ``None``. The policy pack
(``mms_pulumi.policy``) wires them to ``pulumi_policy``; tests call them directly.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from typing import Any

from mms_pulumi.account import EMULATOR_ENDPOINT
from mms_pulumi.schema import ApiGeneration

# The type tokens of the four resources (pulumi.dynamic.Resource with module "mms").
TYPE_PREFIX = "pulumi-python:dynamic/mms:"
MODEL = f"{TYPE_PREFIX}Model"
MANIFEST = f"{TYPE_PREFIX}Manifest"
IMAGE = f"{TYPE_PREFIX}Image"
SERVICE = f"{TYPE_PREFIX}Service"

# Defaults of the policies' configuration (the pack's config file may change each).
PRODUCTION_STACKS = "prod*"
MINIMUM_REPLICAS = 2
NAME_PATTERN = r"^[a-z][a-z0-9-]*$"


def is_production(stack: str, pattern: str = PRODUCTION_STACKS) -> bool:
    """Whether a stack's name matches the production pattern (shell-style: ``prod*``)."""
    return fnmatch.fnmatchcase(stack, pattern)


def missing_smoke_test(props: Mapping[str, Any]) -> str | None:
    """A production service must prove it answers before it is recorded as deployed."""
    if props.get("smoke_test"):
        return None
    return (
        "this Service has no smoke test: in a production stack every service must be scored "
        "once after each create or update. Give it smoke_test=SmokeTestArgs(input=..., "
        "expect=...) (or Deployment(smoke_test=...))."
    )


def too_few_replicas(props: Mapping[str, Any], minimum: int = MINIMUM_REPLICAS) -> str | None:
    """A 2017-09 production service runs at least ``minimum`` replicas, fixed or autoscaled
    (2017-06 services have no replica setting: the rule does not apply)."""
    from mms_pulumi.resources._base import generation_of_account

    # generation: only 2017-09 services have replicas (mms-api.md §5.1).
    if generation_of_account(props.get("account")) is not ApiGeneration.V2017_09:
        return None
    autoscaler = props.get("autoscaler")
    if isinstance(autoscaler, Mapping) and autoscaler.get("autoscale_enabled"):
        floor = autoscaler.get("min_replicas")
        if isinstance(floor, int | float) and floor >= minimum:
            return None
        return (
            f"this Service autoscales from {floor if floor is not None else 1} replica(s): a "
            f"production service needs at least {minimum}. Set autoscaler.min_replicas to "
            f"{minimum} or more."
        )
    replicas = props.get("num_replicas")
    count = replicas if isinstance(replicas, int | float) else 1
    if count >= minimum:
        return None
    return (
        f"this Service runs {count:g} replica(s): a production service needs at least "
        f"{minimum}, so one failing replica does not take it down. Set num_replicas={minimum} "
        "or enable the autoscaler with min_replicas of at least that."
    )


def badly_named(name: Any, tags: Any, pattern: str = NAME_PATTERN) -> str | None:
    """A model's name and each of its tags follow the team's convention (a regex)."""
    rule = re.compile(pattern)
    wrong = [
        f"name {name!r}" if isinstance(name, str) and not rule.fullmatch(name) else None,
        *(
            f"tag {tag!r}"
            for tag in _items(tags)
            if isinstance(tag, str) and not rule.fullmatch(tag)
        ),
    ]
    found = [item for item in wrong if item]
    if not found:
        return None
    return (
        f"this Model's {', '.join(found)} do(es) not match the naming convention {pattern}: "
        "rename them, or change the pattern in the policy pack's config (namePattern)."
    )


def _items(value: Any) -> Sequence[Any]:
    """A list input's items: the engine's values arrive as read-only sequences, not lists."""
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return value
    return ()


def _is_local(url: Any) -> bool:
    return isinstance(url, str) and (url.startswith("file:") or url.startswith("/"))


def local_files_against_remote(props: Mapping[str, Any], resource_type: str) -> str | None:
    """A local path or ``file://`` URL works only against the local emulator: a remote MMS
    cannot read this machine's disk."""
    account = props.get("account")
    endpoint = account.get("endpoint") if isinstance(account, Mapping) else None
    if not isinstance(endpoint, str) or _is_loopback(endpoint):
        return None
    urls: list[tuple[str, Any]] = []
    if resource_type == MODEL:
        urls.append(("url", props.get("url")))
    elif resource_type == MANIFEST:
        for index, asset in enumerate(_items(props.get("assets"))):
            if isinstance(asset, Mapping):
                urls.append((f"assets[{index}].url", asset.get("url")))
        runtime = props.get("target_runtime")
        properties = runtime.get("properties") if isinstance(runtime, Mapping) else None
        for key, value in (properties or {}).items():
            urls.append((f"target_runtime.properties.{key}", value))
    local = [field for field, url in urls if _is_local(url)]
    if not local:
        return None
    return (
        f"{', '.join(local)} point(s) at this machine's disk, and the account's endpoint "
        f"{endpoint} is not the local emulator, which alone can read it. Upload the file "
        "(e.g. a storage blob) and give its https URL instead."
    )


def _is_loopback(endpoint: str) -> bool:
    if endpoint == EMULATOR_ENDPOINT:
        return True
    from mms_pulumi.resources._base import is_loopback

    return is_loopback(endpoint)


def registry_not_allowed(props: Mapping[str, Any], allowed: Sequence[str]) -> str | None:
    """A 2017-06 image is pushed only to a registry on the allow-list (shell patterns of
    ``registry_info.location``)."""
    registry = props.get("registry_info")
    location = registry.get("location") if isinstance(registry, Mapping) else None
    if not isinstance(location, str):
        return None  # no registry (2017-09), or not known yet
    if any(fnmatch.fnmatchcase(location, pattern) for pattern in allowed):
        return None
    return (
        f"this Image is pushed to {location!r}, which is not on the registry allow-list "
        f"({', '.join(allowed) or 'empty'}). Push to an allowed registry, or add it to the "
        "policy's `locations`."
    )


def _same_secret(value: str, config_value: str) -> bool:
    """Whether an input's value is a config value (a kubeconfig compared as documents)."""
    if value == config_value:
        return True
    from mms_pulumi.schema import normalize_kube_config

    try:
        return normalize_kube_config(value) == normalize_kube_config(config_value)
    except ValueError:
        return False


def plaintext_credentials(
    props: Mapping[str, Any], resource_type: str, plaintext_config: Mapping[str, str]
) -> str | None:
    """A registry password or a kubeconfig must not come from stack config set without
    ``--secret``: such config is stored in plain text in ``Pulumi.<stack>.yaml``."""
    values: list[tuple[str, Any]] = []
    if resource_type == IMAGE:
        registry = props.get("registry_info")
        if isinstance(registry, Mapping):
            values.append(("registry_info.password", registry.get("password")))
    elif resource_type == SERVICE:
        values.append(("kube_config", props.get("kube_config")))
    found = [
        (field, key)
        for field, value in values
        if isinstance(value, str) and value
        for key, config_value in plaintext_config.items()
        if config_value and _same_secret(value, config_value)
    ]
    if not found:
        return None
    keys = sorted({key for _field, key in found})
    fields = ", ".join(sorted({field for field, _key in found}))
    return (
        f"this resource's {fields} comes from stack config set in plain text "
        f"({', '.join(keys)}): anyone who can read Pulumi.<stack>.yaml can read it. Set it "
        f"again as a secret: `pulumi config set --secret {keys[0]} ...`."
    )


TOKEN_KEY = "mms:token"


def plaintext_token(config: Mapping[str, str], secret_keys: Sequence[str]) -> str | None:
    """``mms:token`` must be a secret: a plain one is readable in the stack's config file
    and in the state (Pulumi records the whole config as the default provider's inputs)."""
    if TOKEN_KEY not in config or TOKEN_KEY in secret_keys:
        return None
    return (
        f"{TOKEN_KEY} is set in plain text, so the config file and the state show it. Set it "
        f"as a secret (`pulumi config set --secret {TOKEN_KEY} <token>`) or export MMS_TOKEN "
        "instead, which is never stored."
    )
