"""Guardrails for model deployments: a Pulumi policy pack ("CrossGuard") for mms-pulumi.

Run it on every preview and update::

    pulumi preview --policy-pack "$(python -m mms_pulumi.policy)"

``python -m mms_pulumi.policy`` prints ``PACK_DIR``, the installed pack's directory (its
``PulumiPolicy.yaml`` and ``__main__.py``). A pack of your own enables these policies in
one line of its ``__main__.py``: ``mms_policy_pack()``. Needs the ``policy`` extra
(``pip install mms-pulumi[policy]``, which brings ``pulumi-policy``).

The policies, their enforcement levels (``advisory``, ``mandatory``, ``disabled``) and
their settings can be changed in a config file given with ``--policy-pack-config``; the
decisions themselves are pure functions in ``mms_pulumi.policy.rules``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mms_pulumi.policy import rules

PACK_DIR = Path(__file__).resolve().parent / "pack"
# The same pack as an executable analyzer, for a CLI with no Python language host.
PACK_EXECUTABLE = PACK_DIR / "mms-pulumi-policy"
PACK_NAME = "mms-pulumi"

# What the engine configured the pack with (AnalyzerStackConfigureRequest): the stack (an
# executable pack gets it only there, not in PULUMI_STACK as the language host sets it),
# the stack's config and which of its keys are secrets.
_configured: dict[str, Any] = {"stack": "", "config": {}, "secret_keys": []}


def _stack() -> str:
    if "PULUMI_STACK" in os.environ:
        return os.environ["PULUMI_STACK"]
    return str(_configured["stack"])


def stack_config(environ: Mapping[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
    """The stack's config and its secret keys: as ``ConfigureStack`` gave them, or (under
    the Python language host, whose policy proxy turns that call into the environment) as
    ``PULUMI_CONFIG`` and ``PULUMI_CONFIG_SECRET_KEYS`` hold them."""
    if _configured["config"]:
        return dict(_configured["config"]), list(_configured["secret_keys"])
    env = os.environ if environ is None else environ
    try:
        config = json.loads(env.get("PULUMI_CONFIG") or "{}")
        secret_keys = json.loads(env.get("PULUMI_CONFIG_SECRET_KEYS") or "[]")
    except ValueError:
        return {}, []
    if not isinstance(config, dict) or not isinstance(secret_keys, list):
        return {}, []
    return {str(k): str(v) for k, v in config.items()}, [str(k) for k in secret_keys]


def _plaintext_config() -> dict[str, str]:
    """The stack config values set without ``--secret``."""
    config, secret_keys = stack_config()
    return {key: value for key, value in config.items() if key not in set(secret_keys)}


def _remember_the_stack() -> None:
    """Keep the stack, config and secret keys ``ConfigureStack`` gives: pulumi-policy's
    servicer reads only its tags (pulumi_policy.policy
    ``_PolicyAnalyzerServicer.ConfigureStack``, 1.21)."""
    from pulumi_policy import policy

    servicer = policy._PolicyAnalyzerServicer
    if getattr(servicer, "_mms_remembers_stack", False):
        return
    original = servicer.ConfigureStack

    def configure_stack(self: Any, request: Any, context: Any) -> Any:
        _configured["stack"] = request.stack
        _configured["config"] = dict(request.config)
        _configured["secret_keys"] = list(request.config_secret_keys)
        return original(self, request, context)

    servicer.ConfigureStack = configure_stack  # type: ignore[method-assign,assignment]
    servicer._mms_remembers_stack = True  # type: ignore[attr-defined]


def mms_policy_pack(name: str = PACK_NAME) -> Any:
    """Build (and, under the engine, serve) the policy pack; returns the ``PolicyPack``."""
    from pulumi_policy import (
        EnforcementLevel,
        Policy,
        PolicyConfigSchema,
        PolicyPack,
        ReportViolation,
        ResourceValidationArgs,
        ResourceValidationPolicy,
        StackValidationArgs,
        StackValidationPolicy,
    )

    def only(
        resource_type: str,
        check: Callable[[ResourceValidationArgs], str | None],
    ) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
        def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
            if args.resource_type != resource_type:
                return
            problem = check(args)
            if problem is not None:
                report(problem, None)

        return validate

    def token_as_secret(_args: StackValidationArgs, report: ReportViolation) -> None:
        problem = rules.plaintext_token(*stack_config())
        if problem is not None:
            report(problem, None)

    def production(args: ResourceValidationArgs) -> bool:
        return rules.is_production(_stack(), str(args.get_config().get("stacks")))

    stacks = {
        "stacks": {
            "type": "string",
            "default": rules.PRODUCTION_STACKS,
            "description": "stack names this applies to (shell pattern)",
        }
    }
    policies: list[Policy] = [
        ResourceValidationPolicy(
            name="mms-smoke-test-in-production",
            description=(
                "A Service (or Deployment) in a production stack must have a smoke test, so "
                "an update that breaks scoring is rolled back instead of recorded. Give it "
                "smoke_test=SmokeTestArgs(input=..., expect=...)."
            ),
            enforcement_level=EnforcementLevel.MANDATORY,
            config_schema=PolicyConfigSchema(properties=dict(stacks)),
            validate=only(
                rules.SERVICE,
                lambda args: rules.missing_smoke_test(args.props) if production(args) else None,
            ),
        ),
        ResourceValidationPolicy(
            name="mms-replicas-in-production",
            description=(
                "A 2017-09 Service in a production stack runs at least N replicas, fixed or as "
                "the autoscaler's minimum, so one failing replica does not take it down."
            ),
            enforcement_level=EnforcementLevel.MANDATORY,
            config_schema=PolicyConfigSchema(
                properties={
                    **stacks,
                    "minimum": {
                        "type": "integer",
                        "default": rules.MINIMUM_REPLICAS,
                        "minimum": 1,
                        "description": "the fewest replicas a production service may run",
                    },
                }
            ),
            validate=only(
                rules.SERVICE,
                lambda args: (
                    rules.too_few_replicas(
                        args.props, int(args.get_config().get("minimum", rules.MINIMUM_REPLICAS))
                    )
                    if production(args)
                    else None
                ),
            ),
        ),
        ResourceValidationPolicy(
            name="mms-local-files-need-the-emulator",
            description=(
                "Models and manifest files given as local paths or file:// URLs can only be "
                "read by the local emulator; against any other endpoint, upload them and give "
                "their https URLs."
            ),
            enforcement_level=EnforcementLevel.MANDATORY,
            validate=[
                only(
                    kind,
                    lambda args: rules.local_files_against_remote(args.props, args.resource_type),
                )
                for kind in (rules.MODEL, rules.MANIFEST)
            ],
        ),
        ResourceValidationPolicy(
            name="mms-registry-allow-list",
            description=(
                "Images are pushed only to registries on the allow-list (shell patterns of "
                "registry_info.location), so a model never lands in a registry the team does "
                "not control."
            ),
            enforcement_level=EnforcementLevel.MANDATORY,
            config_schema=PolicyConfigSchema(
                properties={
                    "locations": {
                        "type": "array",
                        "items": {"type": "string"},
                        "default": ["*"],
                        "description": "registry locations images may be pushed to",
                    }
                }
            ),
            validate=only(
                rules.IMAGE,
                lambda args: rules.registry_not_allowed(
                    args.props, [str(item) for item in args.get_config().get("locations", ["*"])]
                ),
            ),
        ),
        ResourceValidationPolicy(
            name="mms-credentials-as-secrets",
            description=(
                "Registry passwords and kubeconfigs must not come from stack config set "
                "without --secret, which Pulumi.<stack>.yaml holds in plain text."
            ),
            enforcement_level=EnforcementLevel.MANDATORY,
            validate=[
                only(
                    kind,
                    lambda args: rules.plaintext_credentials(
                        args.props, args.resource_type, _plaintext_config()
                    ),
                )
                for kind in (rules.IMAGE, rules.SERVICE)
            ],
        ),
        StackValidationPolicy(
            name="mms-token-as-secret",
            description=(
                "mms:token must be set with --secret (or given as MMS_TOKEN): a plain one is "
                "readable in the stack's config file and in the state."
            ),
            enforcement_level=EnforcementLevel.MANDATORY,
            validate=token_as_secret,
        ),
        ResourceValidationPolicy(
            name="mms-model-naming",
            description=(
                "Model names and tags follow the team's naming convention (a regular "
                "expression), so models can be found by name."
            ),
            enforcement_level=EnforcementLevel.ADVISORY,
            config_schema=PolicyConfigSchema(
                properties={
                    "namePattern": {
                        "type": "string",
                        "default": rules.NAME_PATTERN,
                        "description": "the regular expression names and tags must match",
                    }
                }
            ),
            validate=only(
                rules.MODEL,
                lambda args: rules.badly_named(
                    args.props.get("name"),
                    args.props.get("tags"),
                    str(args.get_config().get("namePattern", rules.NAME_PATTERN)),
                ),
            ),
        ),
    ]
    _remember_the_stack()
    return PolicyPack(name=name, policies=policies)


__all__ = ["PACK_DIR", "PACK_EXECUTABLE", "PACK_NAME", "mms_policy_pack", "rules", "stack_config"]
