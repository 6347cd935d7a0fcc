"""The serialized provider in every resource's state: small, by reference, deterministic."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import dill
import pytest
from pulumi.dynamic import Config, ConfigureRequest
from pulumi.dynamic.dynamic import serialize_provider

from mms_pulumi.resources import ImageProvider, ManifestProvider, ModelProvider, ServiceProvider

PROVIDERS = [ModelProvider, ManifestProvider, ImageProvider, ServiceProvider]

_SERIALIZE = (
    "from pulumi.dynamic.dynamic import serialize_provider\n"
    "from mms_pulumi.resources import {name}\n"
    "print(serialize_provider({name}()))\n"
)


@pytest.mark.parametrize("provider_class", PROVIDERS)
def test_provider_pickles_by_reference_with_no_state(provider_class: type) -> None:
    raw = base64.b64decode(serialize_provider(provider_class()))
    assert provider_class.__module__.encode() in raw
    assert len(raw) < 120
    assert type(dill.loads(raw)) is provider_class


@pytest.mark.parametrize("provider_class", PROVIDERS)
def test_pickle_is_identical_across_hash_seeds(provider_class: type) -> None:
    pickles = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", _SERIALIZE.format(name=provider_class.__name__)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        pickles.add(result.stdout.strip())
    assert len(pickles) == 1


def test_configured_token_never_reaches_the_pickle() -> None:
    provider = ServiceProvider()
    config = Config({"mms:token": "tok-hunter2", "mms:operationTimeout": "12"}, "project")
    provider.configure(ConfigureRequest(config))
    assert provider.settings.token == "tok-hunter2"
    assert provider.settings.operation_timeout == 12.0
    assert b"hunter2" not in base64.b64decode(serialize_provider(provider))
