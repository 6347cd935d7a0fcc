"""Program-side plumbing shared by the four resource classes: props, secrets, lookups."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, TypeVar

import pulumi
import pulumi.dynamic as dynamic

from mms_pulumi.account import CONFIG_NAMESPACE, ENV_FALLBACKS, AccountArgs, resolve_account
from mms_pulumi.resources._base import LOOKUP_KEY, MmsProvider
from mms_pulumi.resources._fields import to_props
from mms_pulumi.resources._pickling import reset_sdk_pickler_patch

_ACCOUNT_CONFIG_KEYS = (
    "endpoint",
    "subscriptionId",
    "resourceGroup",
    "hostingAccount",
    "apiVersion",
    "emulatorPort",
    "emulatorDataDir",
    "emulatorOperationSeconds",
)

AccountInput = AccountArgs | Mapping[str, Any] | None
MmsResourceT = TypeVar("MmsResourceT", bound="MmsResource")


def _stack_config() -> dict[str, str | None]:
    config = pulumi.Config(CONFIG_NAMESPACE)
    return {key: config.get(key) for key in _ACCOUNT_CONFIG_KEYS}


@functools.cache
def _default_account(config: tuple[tuple[str, str | None], ...]) -> dict[str, Any]:
    # Resolved once per configuration: the local emulator, when used, is started only once.
    settings = dict(config)
    environ = {
        key: value for key, value in settings.items() if key in ENV_FALLBACKS.values() and value
    }
    return resolve_account(None, settings, environ)


def account_props(account: AccountInput) -> dict[str, Any]:
    """The account a resource lives in, as recorded in its inputs."""
    config = _stack_config()
    if account is None:
        # The environment is part of the key: it is the fallback for unset config.
        environment = {name: os.environ.get(name) for name in ENV_FALLBACKS.values()}
        return dict(_default_account(tuple(sorted({**environment, **config}.items()))))
    return resolve_account(account, config)


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
    props["account"] = account_props(account)
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
        props["account"] = account_props(account)
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
