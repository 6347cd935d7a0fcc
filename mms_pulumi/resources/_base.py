"""What the four providers share: settings from stack config, one client per account, check.

A provider object is pickled into every resource's state (``__provider``), so it holds no
data at all: its class lives in this package and is pickled by reference, which keeps the
pickle byte-identical across runs and hash seeds. Everything a provider learns at run
time (the token, the operation timeout) comes from ``configure`` and lives in this
process only.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import pulumi.dynamic as dynamic
from pulumi.runtime import rpc
from pydantic import BaseModel, ValidationError

from mms_pulumi.account import Account, LocalEmulator, account_problems
from mms_pulumi.client._defaults import OPERATION_TIMEOUT
from mms_pulumi.client._urls import AmbiguousUrlError, sent_origin
from mms_pulumi.resources._fields import (
    DiffPlan,
    FieldSpec,
    contains_unknown,
    plan_diff,
    python_parts,
    under_unknown,
    unknown_keys,
    with_defaults,
)
from mms_pulumi.resources._lifeline import start_engine_lifeline
from mms_pulumi.resources._workers import widen_plugin_pool
from mms_pulumi.schema import (
    ApiGeneration,
    FieldProblem,
    Operation,
    RequestModel,
    generation_of,
    validate_request,
)

if TYPE_CHECKING:
    from mms_pulumi.client import MmsClient, MmsClient2017_09

# Marks the props of a ``.get`` so ``read`` can tell a lookup (missing object = error) from a
# refresh (missing object = deleted).
LOOKUP_KEY = "lookup_by_id"

# The rule of every resource's ``account`` input, for the docs.
ACCOUNT_DOC = "where the object lives (`AccountArgs`); unset fields come from the stack config"

# The on-demand local emulator a resource lives in (``LocalEmulator`` props), when it does.
EMULATOR_KEY = "local_emulator"

# The token used for a local emulator when none is configured: it accepts any bearer token.
EMULATOR_TOKEN = "local-emulator"


@dataclass(frozen=True)
class ProviderSettings:
    """Run-time settings read from stack config by ``configure``; never pickled."""

    token: str | None = None
    operation_timeout: float = OPERATION_TIMEOUT


T = TypeVar("T")

_clients: dict[tuple[Account, str | None], MmsClient | MmsClient2017_09] = {}
_clients_lock = threading.Lock()
_reached: set[LocalEmulator] = set()
_reach_lock = threading.Lock()


def reach_local_emulator(emulator: LocalEmulator) -> None:
    """Make sure the recorded local emulator runs, once per plugin process.

    ``pulumi refresh`` and ``pulumi destroy`` do not run the program, which is what starts
    the emulator on ``up``; after a reboot nothing else would. The same data directory
    brings back the same objects.
    """
    with _reach_lock:
        if emulator in _reached:
            return
        emulator.ensure()
        _reached.add(emulator)


def placement(props: Mapping[str, Any]) -> dict[str, Any]:
    """The props saying where an object lives (``account``, ``local_emulator``), for outputs."""
    return {key: props[key] for key in ("account", EMULATOR_KEY) if props.get(key) is not None}


def client_for(account: Account, token: str | None) -> MmsClient | MmsClient2017_09:
    """The process-wide client of an account, created on first use and shared by all threads;
    the account's api-version picks the client of its generation."""
    key = (account, token)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            from mms_pulumi.client import client_class

            credential = token
            if credential is None and is_loopback(account.endpoint):
                credential = _local_token()
            client = client_class(generation_of_account(account.to_props()))(
                account.endpoint,
                account.subscription_id,
                account.resource_group,
                account.hosting_account,
                credential,
                api_version=account.api_version,
            )
            _clients[key] = client
        return client


def _local_token() -> str:
    from mms_pulumi.auth import TOKEN_ENV  # with the client: not needed for a preview

    return os.environ.get(TOKEN_ENV) or EMULATOR_TOKEN


def is_loopback(endpoint: str) -> bool:
    """Whether an endpoint is on this machine (the local emulator), read as requests will
    send to it; an ambiguous URL is not (``client._urls``)."""
    try:
        return sent_origin(endpoint).is_loopback
    except AmbiguousUrlError:
        return False


def say(message: str) -> None:
    """Print one line for the person running Pulumi (the CLI shows the plugin's stdout)."""
    print(f"mms: {message}", file=sys.stdout, flush=True)


class MmsProvider(dynamic.ResourceProvider):
    """Base of the four providers: configure, check against the shared schema, explicit diff."""

    # The pickle holds no secrets, so it need not be encrypted into every resource's state.
    serialize_as_secret_always = False

    kind: ClassVar[str]
    # The request model of each generation (read from ``mms_pulumi.wire.DIALECTS``).
    request_models: ClassVar[Mapping[ApiGeneration, type[RequestModel]]]
    # Inputs that belong to one generation only: given to the other, they are an error.
    only_in: ClassVar[Mapping[str, ApiGeneration]] = {}
    fields: ClassVar[Sequence[FieldSpec]]
    # Wire fields with one allowed value, sent on every request rather than taken as inputs.
    fixed_wire: ClassVar[Mapping[str, Any]] = {}
    # Inputs holding credentials: returned to the engine as secrets whatever the program did.
    secret_fields: ClassVar[tuple[str, ...]] = ()
    # Fields that together make the object's name unique in MMS (see plan_diff).
    unique_name_fields: ClassVar[tuple[str, ...]] = ()

    def __getstate__(self) -> dict[str, Any]:
        # Run-time settings (the token among them) must never reach the pickle in state.
        return {}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        # Older pickles may carry attributes; this class keeps none.
        del state

    def configure(self, req: dynamic.ConfigureRequest) -> None:
        """Read ``mms:token`` and ``mms:operationTimeout`` from stack config."""
        start_engine_lifeline()
        widen_plugin_pool()
        timeout = req.config.get("mms:operationTimeout")
        self._settings = ProviderSettings(
            token=req.config.get("mms:token") or None,
            operation_timeout=float(timeout) if timeout else OPERATION_TIMEOUT,
        )

    @property
    def settings(self) -> ProviderSettings:
        """Settings from ``configure``, or defaults when the engine did not configure us."""
        return getattr(self, "_settings", ProviderSettings())

    def client(self, props: Mapping[str, Any]) -> MmsClient | MmsClient2017_09:
        """The client of the account a resource's props record; a recorded local emulator
        that is not running is started first."""
        account = Account.from_props(props["account"])
        recorded = props.get(EMULATOR_KEY)
        if isinstance(recorded, Mapping) and is_loopback(account.endpoint):
            reach_local_emulator(LocalEmulator.from_props(recorded))
        return client_for(account, self.settings.token)

    def get_live(self, id_: str, props: Mapping[str, Any], getter: Callable[[str], T]) -> T | None:
        """Get a live object; ``None`` when it is gone, an error when a ``.get`` names none."""
        from mms_pulumi.errors import NotFoundError

        try:
            return getter(id_)
        except NotFoundError:
            if props.get(LOOKUP_KEY):
                account = Account.from_props(props["account"]).describe()
                raise LookupError(
                    f"no {self.kind} with id {id_} in {account}; check the id and the account"
                ) from None
            return None

    def sealed(self, props: dict[str, Any]) -> dict[str, Any]:
        """Props with every credential field wrapped as a secret for the engine.

        The engine marks these secret anyway (the resource declares them secret); wrapping
        them here keeps them secret even for callers that forgot, e.g. a ``.get``.
        """
        return {
            key: rpc.wrap_rpc_secret(value)
            if key in self.secret_fields and value is not None and not rpc.is_rpc_secret(value)
            else value
            for key, value in props.items()
        }

    # --- check -------------------------------------------------------------------------------

    def check(
        self, _olds: dict[str, Any] | None, news: dict[str, Any] | None
    ) -> dynamic.CheckResult:
        """Validate every input with the shared schema; one failure per bad field."""
        given = news or {}  # the engine sends an empty struct as None in some paths
        inputs = with_defaults(self.fields, {k: v for k, v in given.items() if k != "__provider"})
        inputs = self.normalize(inputs)
        problems = [
            problem
            for problem in self.problems(inputs)
            if not under_unknown(inputs, python_parts(problem))
        ]
        failures = []
        for problem in problems:
            path = FieldProblem(python_parts(problem), problem.rule).python_path()
            failures.append(dynamic.CheckFailure(path, f"{self.kind} {path} {problem.rule}"))
        return dynamic.CheckResult(inputs, failures)

    def normalize(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Bring known inputs into the form MMS requires; subclasses extend."""
        return inputs

    def request_model_for(self, props: Mapping[str, Any]) -> type[RequestModel]:
        """The request model of the generation the props' account speaks."""
        return self.request_models[generation_of_account(props.get("account"))]

    def problems(self, inputs: Mapping[str, Any]) -> list[FieldProblem]:
        """Every rule the inputs break: the wire schema of the account's generation, inputs
        of the other generation, unknown keys, the account."""
        model = self.request_model_for(inputs)
        body = {**wire_inputs(model, inputs), **self.fixed_wire}
        # Typos first: "not a known field; allowed: ..." reads better than the wire's wording.
        problems = unknown_keys(model, body)
        problems += self.other_generation_inputs(inputs)
        _, wire_problems = validate_request(model, body)
        reported = {problem.path for problem in problems}
        problems += [problem for problem in wire_problems if problem.path not in reported]
        account = inputs.get("account")
        if isinstance(account, Mapping):
            problems += [
                FieldProblem(("account", name), rule) for name, rule in account_problems(account)
            ]
        elif account is not None:
            problems.append(FieldProblem(("account",), "must be an object"))
        return problems + local_file_problems(inputs)

    def other_generation_inputs(self, inputs: Mapping[str, Any]) -> list[FieldProblem]:
        """A problem for each input of the generation the account does not speak."""
        speaks = generation_of_account(inputs.get("account"))
        return [
            FieldProblem(
                (name,),
                f"belongs to the {belongs.value} API ({belongs.account_segment} paths) and this "
                f"account speaks {speaks.value} (mms:apiVersion): remove it, or set "
                f"mms:apiVersion to {belongs.value}",
            )
            for name, belongs in self.only_in.items()
            if belongs is not speaks and inputs.get(name) is not None
        ]

    # --- diff --------------------------------------------------------------------------------

    def diff(
        self, _id: str, olds: dict[str, Any] | None, news: dict[str, Any] | None
    ) -> dynamic.DiffResult:
        """Explicit per-field diff; never leaves the decision to the engine."""
        plan = self.plan(olds or {}, news or {})
        return dynamic.DiffResult(
            changes=plan.changes,
            replaces=list(plan.replaces),
            stables=[],
            delete_before_replace=plan.delete_before_replace,
        )

    def plan(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffPlan:
        """The pure diff decision (separated for tests)."""
        return plan_diff(self.fields, olds, news, unique_name_fields=self.unique_name_fields)


class ImmutableMmsProvider(MmsProvider):
    """A provider of an object MMS can neither change nor delete (models, manifests, images)."""

    def update(
        self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]
    ) -> dynamic.UpdateResult:
        """Never called: every input of an immutable object replaces it (``diff`` says so)."""
        raise RuntimeError(
            f"an MMS {self.kind} cannot change in place; a changed input makes a new one"
        )

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """MMS has no delete for this kind: the object stays in the account; say so."""
        say(f"{self.kind} {id_} stays in the account: MMS has no delete for {self.kind}s")


def wire_inputs(model: type[BaseModel], props: Mapping[str, Any]) -> dict[str, Any]:
    """The props that are fields of a wire request model (``None``: not given, so a
    required field reads as missing and an optional one takes its default)."""
    return {
        name: props[name]
        for name in model.model_fields
        if name in props and props[name] is not None
    }


def wire_request(provider: MmsProvider, props: Mapping[str, Any]) -> Any:
    """The provider's wire request (of the account's generation) built from checked inputs."""
    model = provider.request_model_for(props)
    body = {**wire_inputs(model, props), **provider.fixed_wire}
    return model.model_validate(body)


def canonical(model: type[BaseModel], value: Any) -> Any:
    """A fully known nested input in canonical form (defaults filled, snake_case keys);
    anything else as is, for ``check`` to report."""
    if contains_unknown(value) or not isinstance(value, Mapping) or unknown_keys(model, value):
        return value
    try:
        parsed = model.model_validate(value)
    except ValidationError:
        return value
    return parsed.model_dump(mode="json", by_alias=False, exclude_none=True)


def local_file_rule(endpoint: str) -> str:
    """Why a local file cannot go to a remote MMS, and what to compose in front instead."""
    return (
        f"is a local file, and the MMS endpoint {endpoint} fetches files from URLs it can "
        "reach: it cannot read this machine's disk. Upload the file first and pass its URL, "
        "e.g. with pulumi-azure-native: `blob = storage.Blob(..., source=pulumi.FileAsset("
        "path))` and a SAS URL of it as the input (MMS expected a shared access signature "
        "URL); or run against the local emulator (unset mms:endpoint)"
    )


def local_file_problems(inputs: Mapping[str, Any]) -> list[FieldProblem]:
    """A problem for each ``file://`` URL in the inputs when the endpoint is not this
    machine (only the local emulator reads ``file://`` URLs)."""
    account = inputs.get("account")
    endpoint = account.get("endpoint") if isinstance(account, Mapping) else None
    if not isinstance(endpoint, str) or is_loopback(endpoint):
        return []
    found: list[FieldProblem] = []

    def walk(value: Any, path: tuple[str | int, ...]) -> None:
        if isinstance(value, str) and value[:7].lower() == "file://":
            found.append(FieldProblem(path, local_file_rule(endpoint)))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, (*path, str(key)))
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                walk(item, (*path, index))

    for name, value in inputs.items():
        # Only URLs: a description or a smoke test's input may say "file://" as text.
        if name not in ("account", EMULATOR_KEY, "__provider", "description", "smoke_test"):
            walk(value, (name,))
    return found


def generation_of_account(account: Any) -> ApiGeneration:
    """The API generation an account's props speak (2017-06 when unknown or unset)."""
    version = account.get("api_version") if isinstance(account, Mapping) else None
    if isinstance(version, str):
        try:
            return generation_of(version)
        except ValueError:
            pass  # account_problems reports it
    return ApiGeneration.V2017_06


def inputs_of(specs: Sequence[FieldSpec], props: Mapping[str, Any]) -> dict[str, Any]:
    """The input-shaped subset of a resource's props."""
    return {spec.name: props[spec.name] for spec in specs if spec.name in props}


def iso(value: datetime | None) -> str | None:
    """A timestamp as ISO-8601 UTC text, the form outputs carry."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def progress_printer(kind: str, label: str) -> Callable[[Any, Any, Operation], None]:
    """A progress callback printing one line per observed operation state change."""

    def report(old: Any, new: Any, operation: Operation) -> None:
        before = f"{old} → " if old else ""
        say(f"{kind} {label}: operation {operation.id} {before}{new}")

    return report
