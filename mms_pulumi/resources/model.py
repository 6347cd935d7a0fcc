"""``Model``: a registered model version.

MMS models are immutable and have no delete: any input change registers a new version
(a replacement), and deleting the resource leaves the registration in the account.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from mms_pulumi import schema
from mms_pulumi.resources._base import (
    ACCOUNT_DOC,
    EMULATOR_KEY,
    ImmutableMmsProvider,
    inputs_of,
    iso,
    placement,
    wire_request,
)
from mms_pulumi.resources._fields import FieldSpec, OnChange
from mms_pulumi.resources._resource import AccountInput, MmsResource, build_props
from mms_pulumi.wire import DIALECTS

FIELDS = (
    FieldSpec("name", doc="the model's name; registering it again makes the next version"),
    FieldSpec("url", doc="where the image build fetches it: `file://`, `http://` or `https://`"),
    FieldSpec("mime_type", doc="e.g. `application/json`, `application/octet-stream`"),
    FieldSpec("description", default=""),
    FieldSpec("tags", default=[], doc="labels to find the model by"),
    FieldSpec("unpack", default=False, doc="unpack an archived model when the image is built"),
    FieldSpec("account", OnChange.REPLACE, doc=ACCOUNT_DOC),
    FieldSpec(EMULATOR_KEY, OnChange.IGNORE),
)
OUTPUTS = ("version", "created_at")


class ModelProvider(ImmutableMmsProvider):
    """Registers models; every change is a new registration (a new version and id)."""

    kind = "model"
    request_models = {g: dialect.register_model for g, dialect in DIALECTS.items()}
    fields = FIELDS

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        """Register the model and return its id, version and creation time."""
        request = wire_request(self, props)
        model = self.client(props).register_model(request)
        return dynamic.CreateResult(model.id, self._outputs(props, model))

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        """Fetch the live registration; a vanished one reads as deleted."""
        model = self.get_live(id_, props, self.client(props).get_model)
        if model is None:
            return dynamic.ReadResult(id_="", outs={})
        live = {
            "name": model.name,
            "url": model.url,
            "mime_type": model.mime_type,
            "description": model.description,
            "tags": list(model.tags),
            "unpack": model.unpack,
            **placement(props),
        }
        return dynamic.ReadResult(id_, self._outputs(live, model), inputs_of(FIELDS, live))

    @staticmethod
    def _outputs(inputs: Mapping[str, Any], model: schema.Model) -> dict[str, Any]:
        return {
            **inputs_of(FIELDS, inputs),
            "version": model.version,
            "created_at": iso(model.created_at),
        }


class Model(MmsResource, module="mms", name="Model"):
    """A model registered in MMS: ``version`` counts registrations of the same name."""

    provider_class = ModelProvider
    output_names = OUTPUTS

    name: pulumi.Output[str]
    url: pulumi.Output[str]
    mime_type: pulumi.Output[str]
    description: pulumi.Output[str]
    tags: pulumi.Output[list[str]]
    unpack: pulumi.Output[bool]
    account: pulumi.Output[dict[str, str]]
    version: pulumi.Output[int]
    created_at: pulumi.Output[str | None]

    def __init__(
        self,
        resource_name: str,
        *,
        name: pulumi.Input[str],
        url: pulumi.Input[str],
        mime_type: pulumi.Input[str],
        description: pulumi.Input[str] | None = None,
        tags: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None,
        unpack: pulumi.Input[bool] | None = None,
        account: AccountInput = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Register a model from ``url`` (``file://``, ``http://`` or ``https://``)."""
        inputs = {
            "name": name,
            "url": url,
            "mime_type": mime_type,
            "description": description,
            "tags": tags,
            "unpack": unpack,
        }
        super().__init__(
            ModelProvider(), resource_name, build_props(inputs, OUTPUTS, account), opts
        )


__all__ = ["Model", "ModelProvider"]
