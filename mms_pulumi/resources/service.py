"""``Service``: a web service running an image (create, update and delete are real).

``name``, ``kube_config`` (2017-06), ``compute_resource`` (2017-09) and the account replace
the service; ``image_id``, ``manifest_id`` and ``acr_image_pull_secret`` (2017-06) and the
replica and monitoring settings (2017-09, what ServiceUpdateRequest takes) roll it in place
with Update Service. A replacement that keeps the name deletes the old service first,
because names are unique per account.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi.dynamic as dynamic
from pydantic import BaseModel
from pydantic.alias_generators import to_snake

from mms_pulumi import schema
from mms_pulumi.account import Account
from mms_pulumi.resources._base import (
    ACCOUNT_DOC,
    EMULATOR_KEY,
    MmsProvider,
    canonical,
    inputs_of,
    iso,
    placement,
    progress_printer,
    say,
    wire_request,
)
from mms_pulumi.resources._fields import (
    FieldSpec,
    OnChange,
    generation_only,
    is_unknown,
    secret_inputs,
)
from mms_pulumi.resources._resource import (
    AccountInput,
    MmsResource,
    build_props,
    secret_options,
)
from mms_pulumi.resources._smoke import (
    run_smoke_test,
    smoke_test_of,
    smoke_test_problems,
    smoke_test_props,
)
from mms_pulumi.schema import (
    ApiGeneration,
    FieldProblem,
    KeyType,
    OperationState,
    normalize_kube_config,
)
from mms_pulumi.schema_2017_09 import (
    AutoScaler,
    ComputeResource,
    ContainerResourceReservation,
    DataCollection,
    Service2017_09,
)
from mms_pulumi.wire import DIALECTS, dialect_of, dialect_of_body

if TYPE_CHECKING:
    from mms_pulumi.client import MmsClient, MmsClient2017_09, OperationPoller

# The 2017-09 settings (mms-api.md §5.1), each updated in place by ServiceUpdateRequest;
# nested ones with the model that canonicalizes them.
SETTINGS_2017_09: dict[str, type[BaseModel] | None] = {
    "num_replicas": None,
    "autoscaler": AutoScaler,
    "container_resource_reservation": ContainerResourceReservation,
    "max_concurrent_requests_per_container": None,
    "app_insights_enabled": None,
    "data_collection": DataCollection,
}
# What an unset 2017-09 setting behaves as, sent when rolling back an update that set it:
# MMS's update changes only the settings it is given, so "unset" cannot be sent as such.
UNSET_SETTINGS = {
    "num_replicas": 1,
    "autoscaler": {"autoscale_enabled": False},
    "app_insights_enabled": False,
    "data_collection": {"storage_enabled": False, "event_hub_enabled": False},
}
# Input → the scoring key a change of it regenerates (``regenerateKeys``).
ROTATIONS = {"primary_key_version": KeyType.PRIMARY, "secondary_key_version": KeyType.SECONDARY}
_SETTING_DOCS = {
    "num_replicas": "replicas to run; excludes an enabled autoscaler",
    "autoscaler": "`AutoscalerArgs`; an enabled one excludes `num_replicas`",
    "container_resource_reservation": "`ContainerResourceReservationArgs`: cpu and memory",
    "max_concurrent_requests_per_container": "requests one replica serves at once",
    "app_insights_enabled": "send telemetry to App Insights",
    "data_collection": "`DataCollectionArgs`: model data collection",
}
FIELDS = (
    FieldSpec("name", OnChange.REPLACE, doc="unique in the account"),
    FieldSpec(
        "kube_config",
        OnChange.REPLACE,
        only_in=ApiGeneration.V2017_06,
        secret=True,
        doc="a kubeconfig (YAML or JSON), stored as single-line JSON as the seed asks",
    ),
    FieldSpec(
        "compute_resource",
        OnChange.REPLACE,
        only_in=ApiGeneration.V2017_09,
        doc='`{id, type: "Cluster"}` (`ComputeResourceArgs`)',
    ),
    FieldSpec("account", OnChange.REPLACE, doc=ACCOUNT_DOC),
    FieldSpec(EMULATOR_KEY, OnChange.IGNORE),
    FieldSpec("image_id", OnChange.UPDATE, doc="an image whose build succeeded"),
    FieldSpec(
        "manifest_id",
        OnChange.UPDATE,
        default=None,
        only_in=ApiGeneration.V2017_06,
        doc="optional; sent on update as the seed requires",
    ),
    FieldSpec(
        "acr_image_pull_secret",
        OnChange.UPDATE,
        only_in=ApiGeneration.V2017_06,
        doc="the name of the Kubernetes image pull secret",
    ),
    *(
        FieldSpec(name, OnChange.UPDATE, default=None, only_in=ApiGeneration.V2017_09, doc=doc)
        for name, doc in _SETTING_DOCS.items()
    ),
    # Declarative key rotation: any change of one of these regenerates that key in place.
    *(
        FieldSpec(
            name,
            OnChange.UPDATE,
            default=None,
            doc=f"a label: a change regenerates the {key.value.lower()} scoring key in place "
            "(the old key stops working)",
        )
        for name, key in ROTATIONS.items()
    ),
    # Checked after each create or update; changing it alone changes nothing live.
    FieldSpec(
        "smoke_test",
        OnChange.IGNORE,
        default=None,
        doc="`SmokeTestArgs`: scored after each create or update; a failure rolls back",
    ),
)
OUTPUTS = ("state", "created_at", "updated_at", "scoring_uri", "primary_key", "secondary_key")
# The scoring keys are outputs, secret like the kubeconfig: callers score with
# ``Authorization: Bearer <primary_key>`` (the emulator refuses a wrong key).
SECRETS = (*secret_inputs(FIELDS), "primary_key", "secondary_key")


@dataclass(frozen=True)
class ComputeResourceArgs:
    """Where a 2017-09 service runs: the ML compute environment's ARM id."""

    id: pulumi.Input[str]
    type: pulumi.Input[str] | None = None  # "Cluster"


@dataclass(frozen=True)
class AutoscalerArgs:
    """A 2017-09 service's replica bounds (``numReplicas`` must then be left out)."""

    autoscale_enabled: pulumi.Input[bool] | None = None
    min_replicas: pulumi.Input[int] | None = None
    max_replicas: pulumi.Input[int] | None = None
    refresh_period_in_seconds: pulumi.Input[int] | None = None
    target_utilization: pulumi.Input[int] | None = None


@dataclass(frozen=True)
class ContainerResourceReservationArgs:
    """CPU and memory reserved per container, as Kubernetes quantities (``"0.1"``, ``"1Gi"``)."""

    cpu: pulumi.Input[str] | None = None
    memory: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class DataCollectionArgs:
    """Where a 2017-09 service collects its inputs and outputs."""

    storage_enabled: pulumi.Input[bool] | None = None
    event_hub_enabled: pulumi.Input[bool] | None = None


@dataclass(frozen=True)
class SmokeTestArgs:
    """A request the service must answer before ``pulumi up`` calls it done: ``input`` is
    POSTed (as JSON) to its scoring URI, with its key where it has one; the answer must have
    ``expect_status`` (default 200) and, when ``expect`` is given, equal it as JSON."""

    input: Any
    expect: Any = None
    expect_status: pulumi.Input[int] | None = None
    timeout: pulumi.Input[float] | None = None


class ServiceProvider(MmsProvider):
    """Deploys, rolls and deletes services, waiting on each MMS operation."""

    kind = "service"
    request_models = {g: dialect.create_service for g, dialect in DIALECTS.items()}
    only_in = generation_only(FIELDS)
    fields = FIELDS
    unique_name_fields = ("name", "account")
    secret_fields = SECRETS

    def normalize(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Strip the kubeconfig's newlines as the seed asks (single-line JSON)."""
        kube_config = inputs.get("kube_config")
        if isinstance(kube_config, str) and not is_unknown(kube_config):
            # An unparseable one is left as is: check() reports it through the schema's rule.
            with contextlib.suppress(ValueError):
                inputs["kube_config"] = normalize_kube_config(kube_config)
        for name, model in (("compute_resource", ComputeResource), *SETTINGS_2017_09.items()):
            if model is not None and inputs.get(name) is not None:
                inputs[name] = canonical(model, inputs[name])
        return inputs

    def problems(self, inputs: Mapping[str, Any]) -> list[FieldProblem]:
        """The wire rules, plus a usable ``smoke_test``."""
        return [*super().problems(inputs), *smoke_test_problems(inputs.get("smoke_test"))]

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        """Deploy the service and wait; adopt an unfinished deployment of the same image.
        A ``smoke_test`` must pass, for an adopted service too, or the service is deleted."""
        client = self.client(props)
        request = wire_request(self, props)
        existing = self._adoptable(client, request, Account.from_props(props["account"]))
        if existing is not None:
            say(f"service {request.name}: adopting existing service {existing.id}")
            service = self._wait_until_settled(client, existing)
        else:
            poller = client.begin_create_service(request)
            say(f"service {request.name}: deployment started, operation {poller.operation_id}")
            service = self._finish(client, poller, request.name, cleanup=True)
        keys = _keys(client, service.id)
        problem = self._smoke(props, service, keys)
        if problem is not None:
            failed = f"service {request.name}: the smoke test failed: {problem}."
            try:
                client.delete_service(service.id)
            except Exception as err:
                raise RuntimeError(
                    f"{failed} Deleting the new service {service.id} failed too "
                    f"({type(err).__name__}: {err}); the next `pulumi up` tests it again "
                    "before it adopts it."
                ) from err
            raise RuntimeError(
                f"{failed} The new service {service.id} was deleted; fix the driver or the "
                "image and run `pulumi up` again."
            )
        outputs = self._outputs(props, service, keys)
        return dynamic.CreateResult(service.id, self.sealed(outputs))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        """Roll the service to the new image, manifest, pull secret or settings, and wait;
        regenerate the keys whose ``*_key_version`` changed (after the smoke test passed:
        a rolled-back update leaves the keys that state records working)."""
        client = self.client(news)
        changed = set(self.plan(olds, news).changed)
        rotations = [key_type for name, key_type in ROTATIONS.items() if name in changed]
        if changed <= set(ROTATIONS):
            self._rotate(client, id_, news["name"], rotations)
            service: schema.Service | Service2017_09 = client.get_service(id_)
            return dynamic.UpdateResult(
                self.sealed(self._outputs(news, service, _keys(client, id_)))
            )
        # What runs now, exactly: a failed smoke test rolls back to it.
        before = client.get_service(id_) if smoke_test_of(news.get("smoke_test")) else None
        poller = _roll(client, id_, news)
        say(f"service {news['name']}: update started, operation {poller.operation_id}")
        service = self._finish(client, poller, news["name"], cleanup=False)
        problem = self._smoke(news, service, _keys(client, service.id))
        if problem is not None and before is not None:
            self._roll_back(client, id_, olds, before, news, problem)
        self._rotate(client, id_, news["name"], rotations)
        keys = _keys(client, service.id)
        return dynamic.UpdateResult(self.sealed(self._outputs(news, service, keys)))

    def _rotate(
        self, client: MmsClient | MmsClient2017_09, id_: str, name: str, keys: list[KeyType]
    ) -> None:
        for key_type in keys:
            client.regenerate_service_keys(id_, key_type)
            say(f"service {name}: {key_type.value.lower()} key regenerated")

    def _roll_back(
        self,
        client: MmsClient | MmsClient2017_09,
        id_: str,
        olds: Mapping[str, Any],
        before: schema.Service | Service2017_09,
        news: Mapping[str, Any],
        problem: str,
    ) -> None:
        """Roll the service back to what ran ``before`` the update, wait, and raise."""
        back_to = rollback_props(olds, before)
        say(f"service {news['name']}: smoke test failed; rolling back to {back_to['image_id']}")
        failed = f"service {news['name']}: the smoke test of image {news['image_id']} failed: "
        try:
            back = self._finish(client, _roll(client, id_, back_to), news["name"], cleanup=False)
        except Exception as err:
            raise RuntimeError(
                f"{failed}{problem}. Rolling back to image {back_to['image_id']} failed too "
                f"({type(err).__name__}: {err}); run `pulumi refresh` to record what the "
                "service runs now."
            ) from err
        raise RuntimeError(
            f"{failed}{problem}. The service was rolled back to image {back.image_id}, "
            "which is serving again; fix the driver or the image and run `pulumi up` again."
        )

    def _smoke(
        self,
        props: Mapping[str, Any],
        service: schema.Service | Service2017_09,
        keys: schema.AuthKeys | None,
    ) -> str | None:
        """Run the props' smoke test against the service; why it failed, or ``None``.
        Whatever goes wrong while testing is a failed test, never an untested success."""
        test = smoke_test_of(props.get("smoke_test"))
        if test is None:
            return None
        say(f"service {service.name}: smoke test")
        endpoint = Account.from_props(props["account"]).endpoint
        key = keys.primary_key if keys else None
        try:
            return run_smoke_test(service.scoring_uri, key, test, mms_endpoint=endpoint)
        except Exception as err:  # a failed test, whatever broke; the key is in no message
            return f"the smoke test could not run ({type(err).__name__})"

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        """Fetch the live service; a deleted one reads as deleted so refresh drops it."""
        client = self.client(props)
        getter: Callable[[str], schema.Service | Service2017_09] = client.get_service
        service = self.get_live(id_, props, getter)
        if service is None:
            return dynamic.ReadResult(id_="", outs={})
        live: dict[str, Any] = {
            "name": service.name,
            "image_id": service.image_id or props.get("image_id"),
            # Labels of the keys' generations and the smoke test: ours alone.
            **{name: props.get(name) for name in (*ROTATIONS, "smoke_test")},
            **placement(props),
        }
        live.update(_LIVE_INPUTS[dialect_of_body(service).generation](service, props))
        live = self.normalize(live)
        if props.get("kube_config") is not None:
            # MMS never returns the kubeconfig; the recorded one is the truth we have.
            live["kube_config"] = props["kube_config"]
        live = {key: value for key, value in live.items() if value is not None}
        outputs = self._outputs(live, service, _keys(client, service.id))
        return dynamic.ReadResult(id_, self.sealed(outputs), self.sealed(inputs_of(FIELDS, live)))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Delete the service; one that is already gone counts as deleted."""
        if self.client(props).delete_service(id_):
            say(f"service {props.get('name')} ({id_}) deleted")
        else:
            say(f"service {props.get('name')} ({id_}) was already gone")

    # --- helpers -----------------------------------------------------------------------------

    def _adoptable(
        self, client: MmsClient | MmsClient2017_09, request: Any, account: Account
    ) -> schema.Service | Service2017_09 | None:
        """A service of this name left by an interrupted create, or an error for any other."""
        named: list[schema.Service | Service2017_09] = list(client.list_services(name=request.name))
        for service in named:
            if service.name != request.name:
                continue
            if service.image_id == request.image_id and service.state is not OperationState.FAILED:
                return service
            if service.image_id == request.image_id:
                # A failed earlier attempt of this very deployment: clear it and start over.
                say(f"service {request.name}: removing failed earlier attempt {service.id}")
                client.delete_service(service.id)
                return None
            raise RuntimeError(
                f"a service named {request.name!r} already exists in {account.describe()} "
                f"(id {service.id}, image {service.image_id}) and this stack does not manage "
                "it. Choose another name, or delete that service and run `pulumi up` again."
            )
        return None

    def _wait_until_settled(
        self, client: MmsClient | MmsClient2017_09, service: schema.Service | Service2017_09
    ) -> schema.Service | Service2017_09:
        poller: OperationPoller[Any] = client.wait_on_service(service.id)
        return self._finish(client, poller, service.name, cleanup=True)

    def _finish(
        self,
        client: MmsClient | MmsClient2017_09,
        poller: OperationPoller[Any],
        name: str,
        *,
        cleanup: bool,
    ) -> schema.Service | Service2017_09:
        from mms_pulumi.errors import OperationFailedError, OperationTimeoutError

        try:
            done: schema.Service | Service2017_09 = poller.result(
                timeout=self.settings.operation_timeout,
                progress=progress_printer("service", name),
            )
            return done
        except OperationFailedError as err:
            removed = ""
            if cleanup and err.resource_id:
                client.delete_service(err.resource_id)
                removed = f" The failed service {err.resource_id} was deleted."
            raise RuntimeError(
                f"service {name}: {err}.{removed} Check the image and the cluster, then run "
                "`pulumi up` again."
            ) from err
        except OperationTimeoutError as err:
            raise RuntimeError(
                f"service {name} still {err.last_state} after "
                f"{self.settings.operation_timeout:.0f} s (operation {err.operation_id}). It was "
                "left deploying; the next `pulumi up` adopts it. Raise mms:operationTimeout to "
                "wait longer."
            ) from err

    @staticmethod
    def _outputs(
        inputs: Mapping[str, Any],
        service: schema.Service | Service2017_09,
        keys: schema.AuthKeys | None,
    ) -> dict[str, Any]:
        return {
            **inputs_of(FIELDS, inputs),
            "state": service.state.value if service.state else None,
            "created_at": iso(service.created_at),
            "updated_at": iso(service.updated_at),
            "scoring_uri": service.scoring_uri,
            "primary_key": keys.primary_key if keys else None,
            "secondary_key": keys.secondary_key if keys else None,
        }


def _live_2017_06(service: Any, props: Mapping[str, Any]) -> dict[str, Any]:
    """A 2017-06 service's own inputs as MMS reports them."""
    live = {
        "acr_image_pull_secret": service.acr_image_pull_secret or props.get("acr_image_pull_secret")
    }
    # Left out, MMS takes the image's manifest: that is implied, not drift.
    if props.get("manifest_id") is not None:
        live["manifest_id"] = service.manifest_id or props["manifest_id"]
    return live


def _live_2017_09(service: Any, _props: Mapping[str, Any]) -> dict[str, Any]:
    """A 2017-09 service's own inputs as MMS reports them: its compute and settings."""
    return {
        "compute_resource": _snake(service.compute_resource),
        **{name: _snake(getattr(service, name)) for name in SETTINGS_2017_09},
    }


# What ``read`` takes from a live service besides what both generations share.
_LIVE_INPUTS: dict[ApiGeneration, Callable[[Any, Mapping[str, Any]], dict[str, Any]]] = {
    ApiGeneration.V2017_06: _live_2017_06,
    ApiGeneration.V2017_09: _live_2017_09,
}
# The inputs an update sends (mms-api.md §3 Update Service, §5.1 ServiceUpdateRequest);
# the settings are also what a rollback restores.
_UPDATE_INPUTS = {
    ApiGeneration.V2017_06: ("image_id", "manifest_id", "acr_image_pull_secret"),
    ApiGeneration.V2017_09: ("image_id", *SETTINGS_2017_09),
}
_ROLLED_BACK_SETTINGS = {
    ApiGeneration.V2017_06: (),
    ApiGeneration.V2017_09: tuple(SETTINGS_2017_09),
}


def _roll(client: MmsClient | MmsClient2017_09, id_: str, props: Mapping[str, Any]) -> Any:
    """Start rolling the service to what ``props`` say (an update, or a rollback to olds)."""
    dialect = dialect_of(client.generation)
    update = dialect.update_service.model_validate(
        {name: props.get(name) for name in _UPDATE_INPUTS[dialect.generation]}
    )
    return client.begin_update_service(id_, update)  # type: ignore[arg-type]


def rollback_props(
    olds: Mapping[str, Any], before: schema.Service | Service2017_09
) -> dict[str, Any]:
    """What to roll a service back to: the recorded inputs, with the image and (2017-09)
    the settings it really ran before the update; a setting that was unset goes back to
    what unset behaves as, so settings the update added are undone too."""
    back = {**olds, "image_id": before.image_id or olds["image_id"]}
    for name in _ROLLED_BACK_SETTINGS[dialect_of_body(before).generation]:
        value = getattr(before, name)
        back[name] = _snake(value) if value is not None else UNSET_SETTINGS.get(name)
    autoscaler = back.get("autoscaler")
    autoscaled = isinstance(autoscaler, Mapping) and autoscaler.get("autoscale_enabled")
    if autoscaled and getattr(before, "num_replicas", None) is None:
        back["num_replicas"] = None  # an enabled autoscaler excludes numReplicas
    return back


def _snake(value: Any) -> Any:
    """A wire object (camelCase keys, at any depth) with this package's snake_case keys."""
    if isinstance(value, Mapping):
        return {to_snake(key): _snake(item) for key, item in value.items()}
    return value


def _keys(client: MmsClient | MmsClient2017_09, service_id: str) -> schema.AuthKeys | None:
    """The service's scoring keys; ``None`` where the service has none to give (404)."""
    from mms_pulumi.errors import NotFoundError

    try:
        return client.get_service_keys(service_id)
    except NotFoundError:
        return None


class Service(MmsResource, module="mms", name="Service"):
    """An MMS web service running an image on a Kubernetes cluster."""

    provider_class = ServiceProvider
    output_names = OUTPUTS
    secret_names = SECRETS

    name: pulumi.Output[str]
    image_id: pulumi.Output[str]
    manifest_id: pulumi.Output[str | None]
    kube_config: pulumi.Output[str]
    acr_image_pull_secret: pulumi.Output[str]
    account: pulumi.Output[dict[str, str]]
    state: pulumi.Output[str | None]
    created_at: pulumi.Output[str | None]
    updated_at: pulumi.Output[str | None]
    scoring_uri: pulumi.Output[str | None]
    compute_resource: pulumi.Output[dict[str, Any] | None]
    num_replicas: pulumi.Output[int | None]
    autoscaler: pulumi.Output[dict[str, Any] | None]
    container_resource_reservation: pulumi.Output[dict[str, Any] | None]
    max_concurrent_requests_per_container: pulumi.Output[int | None]
    app_insights_enabled: pulumi.Output[bool | None]
    data_collection: pulumi.Output[dict[str, Any] | None]
    smoke_test: pulumi.Output[dict[str, Any] | None]
    primary_key_version: pulumi.Output[str | None]
    secondary_key_version: pulumi.Output[str | None]
    primary_key: pulumi.Output[str | None]
    secondary_key: pulumi.Output[str | None]

    def __init__(
        self,
        resource_name: str,
        *,
        name: pulumi.Input[str],
        image_id: pulumi.Input[str],
        kube_config: pulumi.Input[str] | None = None,
        acr_image_pull_secret: pulumi.Input[str] | None = None,
        manifest_id: pulumi.Input[str] | None = None,
        compute_resource: pulumi.Input[ComputeResourceArgs | Mapping[str, Any]] | None = None,
        num_replicas: pulumi.Input[int] | None = None,
        autoscaler: pulumi.Input[AutoscalerArgs | Mapping[str, Any]] | None = None,
        container_resource_reservation: pulumi.Input[
            ContainerResourceReservationArgs | Mapping[str, Any]
        ]
        | None = None,
        max_concurrent_requests_per_container: pulumi.Input[int] | None = None,
        app_insights_enabled: pulumi.Input[bool] | None = None,
        data_collection: pulumi.Input[DataCollectionArgs | Mapping[str, Any]] | None = None,
        primary_key_version: pulumi.Input[str] | None = None,
        secondary_key_version: pulumi.Input[str] | None = None,
        smoke_test: SmokeTestArgs | Mapping[str, Any] | None = None,
        account: AccountInput = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Deploy ``image_id`` as service ``name``.

        2017-06 (``hostingAccounts``) services take ``kube_config`` (kept secret) and
        ``acr_image_pull_secret``; 2017-09 (``accounts``, ``mms:apiVersion``) ones a
        ``compute_resource`` and optionally the replica and monitoring settings. Changing
        ``primary_key_version`` or ``secondary_key_version`` (any string, e.g. a date)
        regenerates that scoring key in place: the old one stops working at once. A
        ``smoke_test`` must pass after each create or update: a failed one deletes a new
        service, or rolls an updated one back to its previous image.
        """
        inputs = {
            "name": name,
            "image_id": image_id,
            "manifest_id": manifest_id,
            "kube_config": kube_config,
            "acr_image_pull_secret": acr_image_pull_secret,
            "compute_resource": compute_resource,
            "num_replicas": num_replicas,
            "autoscaler": autoscaler,
            "container_resource_reservation": container_resource_reservation,
            "max_concurrent_requests_per_container": max_concurrent_requests_per_container,
            "app_insights_enabled": app_insights_enabled,
            "data_collection": data_collection,
            "primary_key_version": primary_key_version,
            "secondary_key_version": secondary_key_version,
            "smoke_test": smoke_test_props(smoke_test),
        }
        props = build_props(inputs, OUTPUTS, account, SECRETS)
        super().__init__(ServiceProvider(), resource_name, props, secret_options(opts, SECRETS))


__all__ = [
    "AutoscalerArgs",
    "ComputeResourceArgs",
    "ContainerResourceReservationArgs",
    "DataCollectionArgs",
    "Service",
    "ServiceProvider",
    "SmokeTestArgs",
]
