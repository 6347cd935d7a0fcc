"""``Service``: a web service running an image (create, update and delete are real).

``name``, ``kube_config`` and the account replace the service; ``image_id``,
``manifest_id`` and ``acr_image_pull_secret`` roll it in place with Update Service. A
replacement that keeps the name deletes the old service first, because names are unique
per account.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi.dynamic as dynamic

from mms_pulumi import schema
from mms_pulumi.account import Account
from mms_pulumi.resources._base import (
    EMULATOR_KEY,
    MmsProvider,
    inputs_of,
    iso,
    placement,
    progress_printer,
    say,
    wire_request,
)
from mms_pulumi.resources._fields import FieldSpec, OnChange, is_unknown
from mms_pulumi.resources._resource import (
    AccountInput,
    MmsResource,
    build_props,
    secret_options,
)
from mms_pulumi.schema import (
    CreateServiceRequest,
    OperationState,
    UpdateServiceRequest,
    normalize_kube_config,
)

if TYPE_CHECKING:
    from mms_pulumi.client import MmsClient, OperationPoller

FIELDS = (
    FieldSpec("name", OnChange.REPLACE),
    FieldSpec("kube_config", OnChange.REPLACE),
    FieldSpec("account", OnChange.REPLACE),
    FieldSpec(EMULATOR_KEY, OnChange.IGNORE),
    FieldSpec("image_id", OnChange.UPDATE),
    FieldSpec("manifest_id", OnChange.UPDATE, default=None),
    FieldSpec("acr_image_pull_secret", OnChange.UPDATE),
)
OUTPUTS = ("state", "created_at", "updated_at", "scoring_uri", "primary_key", "secondary_key")
# The scoring keys are outputs, secret like the kubeconfig: callers score with
# ``Authorization: Bearer <primary_key>`` (the emulator refuses a wrong key).
SECRETS = ("kube_config", "primary_key", "secondary_key")


class ServiceProvider(MmsProvider):
    """Deploys, rolls and deletes services, waiting on each MMS operation."""

    kind = "service"
    request_model = CreateServiceRequest
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
        return inputs

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        """Deploy the service and wait; adopt an unfinished deployment of the same image."""
        client = self.client(props)
        request = wire_request(self, props)
        existing = self._adoptable(client, request, Account.from_props(props["account"]))
        if existing is not None:
            say(f"service {request.name}: adopting existing service {existing.id}")
            service = self._wait_until_settled(client, existing)
            outputs = self._outputs(props, service, _keys(client, service.id))
            return dynamic.CreateResult(service.id, self.sealed(outputs))
        poller = client.begin_create_service(request)
        say(f"service {request.name}: deployment started, operation {poller.operation_id}")
        service = self._finish(client, poller, request.name, cleanup=True)
        outputs = self._outputs(props, service, _keys(client, service.id))
        return dynamic.CreateResult(service.id, self.sealed(outputs))

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        """Roll the service to the new image, manifest or pull secret, and wait."""
        client = self.client(news)
        request = UpdateServiceRequest(
            image_id=news["image_id"],
            manifest_id=news.get("manifest_id"),
            acr_image_pull_secret=news["acr_image_pull_secret"],
        )
        poller = client.begin_update_service(id_, request)
        say(f"service {news['name']}: update started, operation {poller.operation_id}")
        service = self._finish(client, poller, news["name"], cleanup=False)
        return dynamic.UpdateResult(
            self.sealed(self._outputs(news, service, _keys(client, service.id)))
        )

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        """Fetch the live service; a deleted one reads as deleted so refresh drops it."""
        client = self.client(props)
        service = self.get_live(id_, props, client.get_service)
        if service is None:
            return dynamic.ReadResult(id_="", outs={})
        live: dict[str, Any] = {
            "name": service.name,
            "image_id": service.image_id or props.get("image_id"),
            "manifest_id": service.manifest_id or props.get("manifest_id"),
            "acr_image_pull_secret": service.acr_image_pull_secret
            or props.get("acr_image_pull_secret"),
            **placement(props),
        }
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
        self, client: MmsClient, request: CreateServiceRequest, account: Account
    ) -> schema.Service | None:
        """A service of this name left by an interrupted create, or an error for any other."""
        for service in client.list_services(name=request.name):
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

    def _wait_until_settled(self, client: MmsClient, service: schema.Service) -> schema.Service:
        return self._finish(client, client.wait_on_service(service.id), service.name, cleanup=True)

    def _finish(
        self,
        client: MmsClient,
        poller: OperationPoller[schema.Service],
        name: str,
        *,
        cleanup: bool,
    ) -> schema.Service:
        from mms_pulumi.errors import OperationFailedError, OperationTimeoutError

        try:
            return poller.result(
                timeout=self.settings.operation_timeout,
                progress=progress_printer("service", name),
            )
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
        inputs: Mapping[str, Any], service: schema.Service, keys: schema.AuthKeys | None
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


def _keys(client: MmsClient, service_id: str) -> schema.AuthKeys | None:
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
    primary_key: pulumi.Output[str | None]
    secondary_key: pulumi.Output[str | None]

    def __init__(
        self,
        resource_name: str,
        *,
        name: pulumi.Input[str],
        image_id: pulumi.Input[str],
        kube_config: pulumi.Input[str],
        acr_image_pull_secret: pulumi.Input[str],
        manifest_id: pulumi.Input[str] | None = None,
        account: AccountInput = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Deploy ``image_id`` as service ``name``; the kubeconfig is kept secret."""
        inputs = {
            "name": name,
            "image_id": image_id,
            "manifest_id": manifest_id,
            "kube_config": kube_config,
            "acr_image_pull_secret": acr_image_pull_secret,
        }
        props = build_props(inputs, OUTPUTS, account, SECRETS)
        super().__init__(ServiceProvider(), resource_name, props, secret_options(opts, SECRETS))


__all__ = ["Service", "ServiceProvider"]
