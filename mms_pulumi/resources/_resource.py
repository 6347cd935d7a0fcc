"""Program-side plumbing shared by the four resource classes: props, secrets, lookups."""

from __future__ import annotations

import contextvars
import functools
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pulumi
import pulumi.dynamic as dynamic
from pulumi.runtime.config import is_config_secret

from mms_pulumi.account import (
    CONFIG_NAMESPACE,
    ENV_FALLBACKS,
    PROGRAM_CONFIG_KEYS,
    AccountArgs,
    LocalEmulator,
    resolve_placement,
)
from mms_pulumi.resources._base import EMULATOR_KEY, LOOKUP_KEY, MmsProvider
from mms_pulumi.resources._fields import to_props
from mms_pulumi.resources._pickling import reset_sdk_pickler_patch

AccountInput = AccountArgs | Mapping[str, Any] | None
MmsResourceT = TypeVar("MmsResourceT", bound="MmsResource")


TOKEN_KEY = f"{CONFIG_NAMESPACE}:token"
PLAINTEXT_TOKEN_WARNING = (
    f"{TOKEN_KEY} is set in plaintext, and Pulumi records the whole stack config in the "
    "state (as the inputs of the default pulumi-python provider), so the token is readable "
    f"there by anyone who can read the state. Set it as a secret: `pulumi config set "
    f"--secret {TOKEN_KEY} <token>`, or export MMS_TOKEN instead (never stored)."
)
# Per program run (a run's resources share its context), so the warning shows once.
_token_checked: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "mms_token_checked", default=False
)


def _stack_config() -> dict[str, str | None]:
    config = pulumi.Config(CONFIG_NAMESPACE)
    if not _token_checked.get():
        _token_checked.set(True)
        if config.get("token") and not is_config_secret(TOKEN_KEY):
            pulumi.log.warn(PLAINTEXT_TOKEN_WARNING)
    return {key: config.get(key) for key in PROGRAM_CONFIG_KEYS}


Placement = tuple[dict[str, Any], LocalEmulator | None]


def project_root() -> Path:
    """The directory of ``Pulumi.yaml``: the language host passes it to the program
    (``pulumi.get_root_directory``), while the working directory is the ``main:`` one."""
    root = pulumi.get_root_directory()
    return Path(root) if root else Path.cwd()


@functools.cache
def _default_placement(config: tuple[tuple[str, str | None], ...], root: Path) -> Placement:
    # Resolved once per configuration: the local emulator, when used, is started only once.
    settings = dict(config)
    environ = {
        key: value for key, value in settings.items() if key in ENV_FALLBACKS.values() and value
    }
    return resolve_placement(None, settings, environ, project_dir=root)


def placement_props(account: AccountInput) -> dict[str, Any]:
    """Where a resource lives, as recorded in its inputs: ``account``, and for the on-demand
    local emulator also ``local_emulator`` (how refresh and destroy bring it back)."""
    config = _stack_config()
    if account is None:
        # The environment is part of the key: it is the fallback for unset config.
        environment = {name: os.environ.get(name) for name in ENV_FALLBACKS.values()}
        key = tuple(sorted({**environment, **config}.items()))
        resolved, emulator = _default_placement(key, project_root())
    else:
        resolved, emulator = resolve_placement(account, config, project_dir=project_root())
    props: dict[str, Any] = {"account": dict(resolved)}
    if emulator is not None:
        props[EMULATOR_KEY] = emulator.to_props()
    return props


def build_props(
    inputs: Mapping[str, Any],
    outputs: Iterable[str],
    account: AccountInput,
    secrets: Iterable[str] = (),
) -> dict[str, Any]:
    """Resource props: inputs as plain data, secrets wrapped, outputs declared as ``None``."""
    reset_sdk_pickler_patch()
    props = {key: to_props(value) for key, value in inputs.items() if value is not None}
    for key in secrets:
        if key in props:
            # Secret in state and outputs even when the program passed a plain value.
            props[key] = pulumi.Output.secret(props[key])
    props.update(placement_props(account))
    for key in outputs:
        props.setdefault(key, None)
    return props


def secret_options(
    opts: pulumi.ResourceOptions | None, secrets: Iterable[str]
) -> pulumi.ResourceOptions:
    """Resource options that keep the secret outputs secret, merged with the caller's."""
    ours = pulumi.ResourceOptions(additional_secret_outputs=list(secrets))
    return pulumi.ResourceOptions.merge(ours, opts)


class MmsResource(dynamic.Resource):
    """Base of the four resources: ``get`` reads an existing object by id."""

    # Not `_provider`, `_outputs`…: pulumi.Resource uses those names itself.
    provider_class: ClassVar[type[MmsProvider]]
    output_names: ClassVar[tuple[str, ...]] = ()
    secret_names: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def get(
        cls: type[MmsResourceT],
        resource_name: str,
        id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
        account: AccountInput = None,
    ) -> MmsResourceT:
        """Read an existing object by id; this stack never deletes what it only read."""
        provider = cls.provider_class()
        names = [spec.name for spec in provider.fields if spec.name != "account"]
        props: dict[str, Any] = dict.fromkeys([*names, *cls.output_names])
        props.update(placement_props(account))
        props[LOOKUP_KEY] = True
        secrets = cls.secret_names
        reset_sdk_pickler_patch()
        resource = cls.__new__(cls)
        dynamic.Resource.__init__(
            resource,
            provider,
            resource_name,
            props,
            pulumi.ResourceOptions.merge(
                secret_options(opts, secrets), pulumi.ResourceOptions(id=id)
            ),
        )
        return resource
