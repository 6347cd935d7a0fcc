"""The public names, pinned, and the import paths kept lean."""

from __future__ import annotations

import subprocess
import sys

import mms_pulumi

PUBLIC = {
    "Account",
    "AccountArgs",
    "AssetArgs",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "HttpResponseError",
    "Image",
    "Manifest",
    "MmsClient",
    "MmsError",
    "Model",
    "NotFoundError",
    "OperationFailedError",
    "OperationPoller",
    "OperationTimeoutError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "RegistryInfoArgs",
    "RequestNotSentError",
    "RuntimePropertiesArgs",
    "ServerError",
    "Service",
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
    loaded = _imported_after("import mms_pulumi.emulator.scoring.server")
    assert not {"pulumi", "fastapi", "pydantic", "requests"} & loaded
