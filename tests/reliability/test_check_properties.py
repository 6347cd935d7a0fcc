"""Property tests of every provider's check: never a crash, every bad field named."""

from __future__ import annotations

import re
import string
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pulumi.output import Unknown

from mms_pulumi.resources import ImageProvider, ManifestProvider, ModelProvider, ServiceProvider
from mms_pulumi.schema import RuntimeType

ACCOUNT = {
    "endpoint": "http://127.0.0.1:5080",
    "subscription_id": "s",
    "resource_group": "r",
    "hosting_account": "a",
}
NAME = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
TEXT = re.compile(r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]{1,4096}$")  # ids, URLs: no Cc, Zl, Zp
TAG = re.compile(r"^[A-Za-z0-9]{1,30}$")

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    st.builds(Unknown),
)
names = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "-._", min_size=1, max_size=40), junk
)
tags = st.one_of(
    st.lists(
        st.text(alphabet=string.ascii_letters + string.digits + " -", max_size=35), max_size=4
    ),
    junk,
)

FAST = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def failures(provider: Any, inputs: dict[str, Any]) -> dict[str, str]:
    result = provider.check({}, {**inputs, "account": ACCOUNT, "__provider": "p"})
    return {failure.property: failure.reason for failure in result.failures}


@FAST
@given(
    name=names,
    tags=tags,
    url=st.one_of(st.text(max_size=20), junk),
    description=st.one_of(st.text(max_size=250), junk),
)
def test_model_check_names_exactly_the_bad_fields(
    name: Any, tags: Any, url: Any, description: Any
) -> None:
    found = failures(
        ModelProvider(),
        {"name": name, "tags": tags, "url": url, "mime_type": "a/b", "description": description},
    )
    for field, reason in found.items():
        assert reason.startswith(f"model {field} ")
    good_name = isinstance(name, Unknown) or (isinstance(name, str) and NAME.fullmatch(name))
    assert ("name" in found) != bool(good_name)
    good_url = isinstance(url, Unknown) or (isinstance(url, str) and bool(TEXT.fullmatch(url)))
    assert ("url" in found) != good_url
    if isinstance(tags, list) and all(isinstance(t, str) for t in tags):
        for index, tag in enumerate(tags):
            assert (f"tags[{index}]" in found) != bool(TAG.fullmatch(tag))


@FAST
@given(
    runtime=st.one_of(st.sampled_from(["SparkPython", "CNTKPython", "ScikitPython", "TLC"]), junk),
    driver=st.one_of(st.sampled_from(["score", "other"]), junk),
    asset_id=names,
    properties=st.one_of(
        st.dictionaries(
            st.sampled_from(["pip_requirements", "conda_env_file", "gpu", "pipRequirements"]),
            st.text(min_size=1, max_size=5),
            max_size=3,
        ),
        junk,
    ),
)
def test_manifest_check_never_crashes(
    runtime: Any, driver: Any, asset_id: Any, properties: Any
) -> None:
    found = failures(
        ManifestProvider(),
        {
            "model_ids": ["m"],
            "driver_program": driver,
            "assets": [{"id": asset_id, "url": "file:///s.py", "mime_type": "x"}],
            "target_runtime": {"runtime_type": runtime, "properties": properties},
        },
    )
    for field, reason in found.items():
        assert reason.startswith(f"manifest {field} ")
    valid_runtime = isinstance(runtime, Unknown) or runtime in [kind.value for kind in RuntimeType]
    assert ("target_runtime.runtime_type" in found) != valid_runtime


@FAST
@given(
    registry=st.one_of(
        st.fixed_dictionaries({"user": names, "location": names, "password": names}), junk
    )
)
def test_image_check_never_echoes_the_password(registry: Any) -> None:
    found = failures(ImageProvider(), {"manifest_id": "m", "registry_info": registry})
    if (
        isinstance(registry, dict)
        and isinstance(registry.get("password"), str)
        and len(registry["password"]) > 3
    ):
        assert all(registry["password"] not in reason for reason in found.values())


@FAST
@given(kube=st.one_of(st.text(max_size=60), junk), name=names, secret=names)
def test_service_check_never_crashes_or_echoes_the_kubeconfig(
    kube: Any, name: Any, secret: Any
) -> None:
    found = failures(
        ServiceProvider(),
        {"name": name, "image_id": "i", "kube_config": kube, "acr_image_pull_secret": secret},
    )
    for field, reason in found.items():
        assert reason.startswith(f"service {field} ")
        if isinstance(kube, str) and len(kube) > 8:
            assert kube not in reason
