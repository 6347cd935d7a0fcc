"""Where a resource lives: endpoint, subscription, resource group, hosting account, api version.

An account is resolved once, in the Pulumi program, from (first match wins) a resource's
``account=`` argument, stack config ``mms:*`` and the ``MMS_*`` environment variables. It is
then an ordinary input of every resource, so it is recorded in state: moving a resource to
another account shows as a replacement in preview, and a delete always goes to the account
the object lives in. With no endpoint configured anywhere, resources use the local
emulator, started on demand and reused when it is already running.

The on-demand emulator's settings (data directory, operation time) are recorded beside the
account as ``local_emulator``: ``pulumi refresh`` and ``pulumi destroy`` do not run the
program (the CLI's ``--run-program`` is off by default), so the provider itself starts the
recorded emulator again when it is not running, on the same data directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from mms_pulumi.auth import TOKEN_ENV
from mms_pulumi.client._defaults import OPERATION_TIMEOUT
from mms_pulumi.client._urls import endpoint_problem
from mms_pulumi.local import DEFAULT_DATA_DIR, DEFAULT_OPERATION_SECONDS, DEFAULT_PORT
from mms_pulumi.schema import API_VERSION, API_VERSION_2017_09, generation_of

CONFIG_NAMESPACE = "mms"

# The value of ``mms:endpoint`` (or ``MMS_ENDPOINT``) that asks for the local emulator.
EMULATOR_ENDPOINT = "emulator"


@dataclass(frozen=True)
class ConfigKey:
    """One ``mms:`` stack config key, declared once: the docs' table is made from these.

    ``account_field`` names the ``Account`` field it sets (resolved in the program, with
    the environment variable ``env`` as its fallback); ``provider`` keys are read by the
    provider from the config the engine passes it, so refresh and destroy see them too.
    """

    name: str
    meaning: str
    default: str
    env: str | None = None
    account_field: str | None = None
    provider: bool = False
    secret: bool = False

    @property
    def key(self) -> str:
        """The key with its namespace, as ``pulumi config set`` takes it."""
        return f"{CONFIG_NAMESPACE}:{self.name}"


CONFIG_KEYS = (
    ConfigKey(
        "endpoint",
        "MMS base URL, e.g. `https://eastus2.modelmanagement.azureml.net`; "
        f"`{EMULATOR_ENDPOINT}` (or unset) asks for the local emulator",
        "the local emulator",
        env="MMS_ENDPOINT",
        account_field="endpoint",
    ),
    ConfigKey(
        "subscriptionId",
        "Azure subscription id",
        "emulator: `00000000-…`",
        env="MMS_SUBSCRIPTION_ID",
        account_field="subscription_id",
    ),
    ConfigKey(
        "resourceGroup",
        "resource group",
        "emulator: `local`",
        env="MMS_RESOURCE_GROUP",
        account_field="resource_group",
    ),
    ConfigKey(
        "hostingAccount",
        "MMS hosting account (2017-06) or account (2017-09)",
        "emulator: `local`",
        env="MMS_HOSTING_ACCOUNT",
        account_field="hosting_account",
    ),
    ConfigKey(
        "apiVersion",
        f"the API generation: `{API_VERSION}` (`hostingAccounts`) or "
        f"`{API_VERSION_2017_09}` (`accounts`); the resources' inputs follow it, and "
        "changing it replaces every resource",
        f"`{API_VERSION}`",
        env="MMS_API_VERSION",
        account_field="api_version",
    ),
    ConfigKey(
        "token",
        "bearer token; without it, `MMS_TOKEN`, then azure-identity's "
        "`DefaultAzureCredential` (`pip install mms-pulumi[azure]`); set it with `--secret`",
        "the emulator accepts any token",
        env=TOKEN_ENV,
        provider=True,
        secret=True,
    ),
    ConfigKey(
        "operationTimeout",
        "seconds create and update wait for an image build or a service deployment",
        f"`{OPERATION_TIMEOUT:.0f}`",
        provider=True,
    ),
    ConfigKey("emulatorPort", "port of the on-demand local emulator", f"`{DEFAULT_PORT}`"),
    ConfigKey(
        "emulatorDataDir",
        "its data directory; a relative one is taken from the project root (the directory "
        "of `Pulumi.yaml`, not the `main:` directory the program runs in)",
        f"`{DEFAULT_DATA_DIR}`",
    ),
    ConfigKey(
        "emulatorOperationSeconds",
        "how long its async operations take",
        f"`{DEFAULT_OPERATION_SECONDS:g}`",
    ),
)
# Keys the program reads to resolve an account (the rest are the provider's).
PROGRAM_CONFIG_KEYS = tuple(key.name for key in CONFIG_KEYS if not key.provider)
# Stack config key (without the namespace) → environment fallback, for the account's keys.
ENV_FALLBACKS = {key.name: key.env for key in CONFIG_KEYS if key.account_field and key.env}
_KEY_OF_FIELD = {key.account_field: key.name for key in CONFIG_KEYS if key.account_field}

# The emulator's account: any values work there; these make its paths readable.
EMULATOR_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
EMULATOR_RESOURCE_GROUP = "local"
EMULATOR_HOSTING_ACCOUNT = "local"


class AccountError(ValueError):
    """The account is incomplete or malformed; the message names the setting to fix."""


@dataclass(frozen=True)
class Account:
    """One MMS hosting account: the scope every model, manifest, image and service lives in."""

    endpoint: str
    subscription_id: str
    resource_group: str
    hosting_account: str
    api_version: str = API_VERSION

    def to_props(self) -> dict[str, str]:
        """The account as a resource input (plain strings, stable key order)."""
        return asdict(self)

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> Account:
        """Rebuild an account recorded in a resource's inputs or outputs."""
        names = {f.name for f in fields(cls)}
        values = {key: str(value) for key, value in props.items() if key in names}
        missing = sorted(names - values.keys() - {"api_version"})
        if missing:
            raise AccountError(f"account is missing {', '.join(missing)}")
        return cls(**values)

    def describe(self) -> str:
        """A short human label, e.g. ``local/local at http://127.0.0.1:5080``."""
        return f"{self.resource_group}/{self.hosting_account} at {self.endpoint}"


@dataclass(frozen=True)
class AccountArgs:
    """A per-resource ``account=`` override; unset fields fall back to stack config."""

    endpoint: str | None = None
    subscription_id: str | None = None
    resource_group: str | None = None
    hosting_account: str | None = None
    api_version: str | None = None


def account_problems(account: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every problem with an account's fields as (field, rule); empty when it is usable."""
    problems: list[tuple[str, str]] = []
    for field in fields(Account):
        value = account.get(field.name)
        if field.name == "api_version" and value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append((field.name, "is required: set it with " + _setting_hint(field.name)))
    endpoint = account.get("endpoint")
    if isinstance(endpoint, str) and endpoint.strip():
        problem = endpoint_problem(endpoint)
        if problem is not None:
            problems.append(("endpoint", problem))
    version = account.get("api_version")
    if isinstance(version, str) and version.strip():
        try:
            generation_of(version)
        except ValueError as err:
            problems.append(("api_version", f"{err}; set it with {_setting_hint('api_version')}"))
    return problems


def _setting_hint(field_name: str) -> str:
    camel = _KEY_OF_FIELD[field_name]
    return f"`pulumi config set mms:{camel} ...`, {ENV_FALLBACKS[camel]} or account={{...}}"


@dataclass(frozen=True)
class LocalEmulator:
    """How to bring the on-demand local emulator back: its port, data directory (absolute)
    and operation time. Recorded with every resource that lives in it."""

    port: int
    data_dir: str
    operation_seconds: float = DEFAULT_OPERATION_SECONDS

    def to_props(self) -> dict[str, Any]:
        """As recorded in a resource's inputs and outputs."""
        return asdict(self)

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> LocalEmulator:
        """Rebuild recorded settings (numbers come back from the engine as floats)."""
        return cls(
            port=int(props["port"]),
            data_dir=str(props["data_dir"]),
            operation_seconds=float(props["operation_seconds"]),
        )

    @classmethod
    def from_config(cls, config: Mapping[str, str | None], project_dir: Path) -> LocalEmulator:
        """``mms:emulatorPort`` (default 5080), ``mms:emulatorDataDir`` (default
        ``.mms-emulator``; a relative one is taken from ``project_dir``, the directory of
        ``Pulumi.yaml``) and ``mms:emulatorOperationSeconds`` (default 2)."""
        data_dir = Path(config.get("emulatorDataDir") or DEFAULT_DATA_DIR).expanduser()
        if not data_dir.is_absolute():
            data_dir = project_dir / data_dir
        return cls(
            port=int(config.get("emulatorPort") or DEFAULT_PORT),
            data_dir=os.path.normpath(data_dir.absolute()),
            operation_seconds=float(
                config.get("emulatorOperationSeconds") or DEFAULT_OPERATION_SECONDS
            ),
        )

    def ensure(self) -> str:
        """Reuse the emulator running on the port, or start it; its base URL."""
        # Imported here: only programs and plugins that use the emulator pay for it.
        from mms_pulumi.emulator import ensure_emulator

        return str(
            ensure_emulator(self.data_dir, port=self.port, operation_seconds=self.operation_seconds)
        )


def resolve_account(
    override: AccountArgs | Mapping[str, Any] | None,
    config: Mapping[str, str | None],
    environ: Mapping[str, str] | None = None,
    *,
    project_dir: Path | None = None,
) -> dict[str, Any]:
    """Resolve the account a resource lives in; pure apart from starting the emulator.

    ``config`` maps stack config keys without the namespace (``endpoint``,
    ``subscriptionId`` …) to values. Returns the account as resource input props; values
    may be Pulumi Outputs when the override holds them. Raises ``AccountError`` when an
    explicit endpoint is given without the rest of the account.
    """
    return resolve_placement(override, config, environ, project_dir=project_dir)[0]


def resolve_placement(
    override: AccountArgs | Mapping[str, Any] | None,
    config: Mapping[str, str | None],
    environ: Mapping[str, str] | None = None,
    *,
    project_dir: Path | None = None,
) -> tuple[dict[str, Any], LocalEmulator | None]:
    """The account (as :func:`resolve_account`) and, when that account is the on-demand
    local emulator, the settings it was started with (else ``None``)."""
    env = os.environ if environ is None else environ
    given = _override_values(override)

    def setting(field_name: str, key: str) -> Any:
        if given.get(field_name) is not None:
            return given[field_name]
        if config.get(key):
            return config[key]
        return env.get(ENV_FALLBACKS[key]) or None

    endpoint = setting("endpoint", "endpoint")
    if endpoint is None or endpoint == EMULATOR_ENDPOINT:
        where = project_dir or Path.cwd()
        base_url = start_local_emulator(config, where)
        account = Account(
            endpoint=base_url,
            subscription_id=setting("subscription_id", "subscriptionId")
            or EMULATOR_SUBSCRIPTION_ID,
            resource_group=setting("resource_group", "resourceGroup") or EMULATOR_RESOURCE_GROUP,
            hosting_account=setting("hosting_account", "hostingAccount")
            or EMULATOR_HOSTING_ACCOUNT,
            api_version=setting("api_version", "apiVersion") or API_VERSION,
        ).to_props()
        return account, LocalEmulator.from_config(config, where)
    account = {
        "endpoint": endpoint,
        "subscription_id": setting("subscription_id", "subscriptionId"),
        "resource_group": setting("resource_group", "resourceGroup"),
        "hosting_account": setting("hosting_account", "hostingAccount"),
        "api_version": setting("api_version", "apiVersion") or API_VERSION,
    }
    return account, None


def _override_values(override: AccountArgs | Mapping[str, Any] | None) -> dict[str, Any]:
    if override is None:
        return {}
    if isinstance(override, AccountArgs):
        return {k: v for k, v in asdict(override).items() if v is not None}
    allowed = {f.name for f in fields(AccountArgs)}
    unknown = sorted(set(override) - allowed)
    if unknown:
        raise AccountError(
            f"account has unknown key(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    return {k: v for k, v in override.items() if v is not None}


def start_local_emulator(config: Mapping[str, str | None], project_dir: Path) -> str:
    """Start the local emulator for this project, or reuse the one already running; its URL.

    Settings as :meth:`LocalEmulator.from_config`.
    """
    return LocalEmulator.from_config(config, project_dir).ensure()
