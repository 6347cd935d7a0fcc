"""Each resource input is declared once, as a ``FieldSpec``; what is derived from it agrees."""

from __future__ import annotations

import pytest

from mms_pulumi.resources import Image, Manifest, Model, Service
from mms_pulumi.resources._base import EMULATOR_KEY, MmsProvider
from mms_pulumi.resources._fields import FieldSpec, OnChange, generation_only, secret_inputs
from mms_pulumi.resources._resource import MmsResource
from mms_pulumi.resources.image import ImageProvider
from mms_pulumi.resources.manifest import ManifestProvider
from mms_pulumi.resources.model import ModelProvider
from mms_pulumi.resources.service import ServiceProvider
from mms_pulumi.schema import ApiGeneration

RESOURCES: list[tuple[type[MmsResource], type[MmsProvider]]] = [
    (Model, ModelProvider),
    (Manifest, ManifestProvider),
    (Image, ImageProvider),
    (Service, ServiceProvider),
]


def _outputs(resource: type[MmsResource]) -> set[str]:
    """The class's own ``pulumi.Output[...]`` annotations (as written: the module defers
    them), which give a program's type checker each output's type."""
    return {
        name
        for name, hint in vars(resource).get("__annotations__", {}).items()
        if str(hint).startswith(("pulumi.Output[", "Output["))
    }


@pytest.mark.parametrize(("resource", "provider"), RESOURCES, ids=lambda r: r.__name__)
def test_every_input_has_an_output_annotation(
    resource: type[MmsResource], provider: type[MmsProvider]
) -> None:
    inputs = {spec.name for spec in provider.fields} - {EMULATOR_KEY}
    assert inputs - set(_outputs(resource)) == set()


@pytest.mark.parametrize(("resource", "provider"), RESOURCES, ids=lambda r: r.__name__)
def test_every_declared_output_has_an_annotation(
    resource: type[MmsResource], provider: type[MmsProvider]
) -> None:
    assert set(resource.output_names) - set(_outputs(resource)) == set()


@pytest.mark.parametrize(("resource", "provider"), RESOURCES, ids=lambda r: r.__name__)
def test_generation_and_secrecy_come_from_the_specs(
    resource: type[MmsResource], provider: type[MmsProvider]
) -> None:
    assert dict(provider.only_in) == generation_only(provider.fields)
    assert set(secret_inputs(provider.fields)) == set(provider.secret_fields) & {
        spec.name for spec in provider.fields
    }
    assert set(provider.secret_fields) <= set(resource.secret_names)


@pytest.mark.parametrize(("resource", "provider"), RESOURCES, ids=lambda r: r.__name__)
def test_every_input_a_user_gives_is_named_once(
    resource: type[MmsResource], provider: type[MmsProvider]
) -> None:
    names = [spec.name for spec in provider.fields]
    assert len(names) == len(set(names))


def test_the_derivations_read_the_specs() -> None:
    specs = (
        FieldSpec("a"),
        FieldSpec("b", OnChange.UPDATE, only_in=ApiGeneration.V2017_09, secret=True),
        FieldSpec("c", only_in=ApiGeneration.V2017_06),
    )
    assert generation_only(specs) == {"b": ApiGeneration.V2017_09, "c": ApiGeneration.V2017_06}
    assert secret_inputs(specs) == ("b",)


def test_a_deployment_takes_every_service_input_it_does_not_derive() -> None:
    """A new Service input reaches ``Deployment`` by being added to ``DeploymentArgs``; the
    pass-through itself is read off the Service's specs, so it cannot be forgotten there."""
    from mms_pulumi.resources.deployment import DERIVED_SERVICE_INPUTS, SERVICE_PASS_THROUGH

    own = {spec.name for spec in ServiceProvider.fields} - {EMULATOR_KEY}
    assert set(SERVICE_PASS_THROUGH) == own - DERIVED_SERVICE_INPUTS
