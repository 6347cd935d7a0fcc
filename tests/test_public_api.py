"""The public names, pinned, and the import paths kept lean."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import mms_pulumi

PUBLIC = {
    "Account",
    "AccountArgs",
    "AssetArgs",
    "AuthenticationError",
    "AutoscalerArgs",
    "BadRequestError",
    "ComputeResourceArgs",
    "ConflictError",
    "ContainerResourceReservationArgs",
    "CredentialError",
    "DataCollectionArgs",
    "Deployment",
    "DeploymentArgs",
    "ForeignOriginError",
    "Image",
    "InvalidRequestError",
    "Manifest",
    "MmsClient",
    "MmsError",
    "MmsHttpError",
    "Model",
    "NotFoundError",
    "OperationFailedError",
    "OperationPoller",
    "OperationTimeoutError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "ProtocolError",
    "RegistryInfoArgs",
    "RequestNotSentError",
    "RuntimePropertiesArgs",
    "ServerError",
    "Service",
    "SmokeTestArgs",
    "TargetRuntimeArgs",
    "ThrottledError",
}


def test_public_exports_are_pinned() -> None:
    assert set(mms_pulumi.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(mms_pulumi, name).__name__ == name


def _imported_after(statement: str) -> set[str]:
    probe = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_provider_import_path_leaves_out_the_emulator_and_azure() -> None:
    loaded = _imported_after("import mms_pulumi.resources, mms_pulumi.client")
    assert not {"fastapi", "uvicorn", "azure.identity", "mms_pulumi.emulator.app"} & loaded


def test_scoring_process_imports_neither_pulumi_nor_fastapi() -> None:
    # pydantic it does load: it applies the emulator's own rules, whose error shape and keys
    # are the schema's models (one place for each rule, not a copy of them).
    loaded = _imported_after("import mms_pulumi.emulator.scoring.server")
    assert not {"pulumi", "fastapi", "requests", "mms_pulumi.emulator.app"} & loaded


def test_no_public_name_shadows_an_azure_core_one() -> None:
    """The ``azure`` extra installs azure-core next to us; a user imports from both."""
    import azure.core.credentials
    import azure.core.exceptions

    import mms_pulumi.auth
    import mms_pulumi.errors

    ours = set(mms_pulumi.__all__) | set(mms_pulumi.errors.__all__)
    theirs = set(dir(azure.core.exceptions))
    assert not ours & theirs
    # auth shares exactly the protocol's own names, for the same things (structurally equal).
    shared = set(mms_pulumi.auth.__all__) & set(dir(azure.core.credentials))
    assert shared == {"AccessToken", "TokenCredential"}


def test_the_old_error_name_still_resolves_with_a_deprecation_warning() -> None:
    import pytest

    import mms_pulumi.errors

    with pytest.warns(DeprecationWarning, match="MmsHttpError"):
        assert mms_pulumi.errors.HttpResponseError is mms_pulumi.errors.MmsHttpError


def test_the_wheel_ships_py_typed(tmp_path: Path) -> None:
    """PEP 561: without the marker, mypy ignores our annotations in a user's program."""
    root = Path(__file__).resolve().parents[1]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(root),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("mms_pulumi-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert "mms_pulumi/py.typed" in archive.namelist()
        # The policy pack, as --policy-pack takes it: its directory and its executable.
        names = set(archive.namelist())
        pack = "mms_pulumi/policy/pack/"
        assert {
            f"{pack}PulumiPolicy.yaml",
            f"{pack}__main__.py",
            f"{pack}mms-pulumi-policy",
        } <= names
        mode = archive.getinfo(f"{pack}mms-pulumi-policy").external_attr >> 16
        assert mode & 0o111, oct(mode)


def test_each_export_list_equals_its_lazy_import_table() -> None:
    import mms_pulumi.client
    import mms_pulumi.emulator
    import mms_pulumi.resources

    for package in (mms_pulumi, mms_pulumi.client, mms_pulumi.emulator, mms_pulumi.resources):
        table = package._MODULE_OF
        assert sorted(package.__all__) == sorted(table), package.__name__
