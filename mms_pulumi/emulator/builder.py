"""Image builds: check what a manifest's image is made of, then make its bundle.

A build fetches every model URL, every asset URL and the runtime's dependency files
(``file://`` must be a readable file, ``http(s)://`` must answer 2xx, nothing else is
fetched), checks that ``driverProgram`` names one of the manifest's assets and that the
driver keeps the scoring contract, and stores the result as a content-addressed bundle.
Every failure is a ``BuildFailure`` whose details name the model, asset, URL or field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mms_pulumi.emulator.bundles import BundleError, BundleFile, build_bundle, file_name_of
from mms_pulumi.emulator.errors import field_detail
from mms_pulumi.emulator.records import ImageRecord
from mms_pulumi.emulator.runtime import BackendError, check_driver
from mms_pulumi.schema import FieldProblem, Manifest, Model

# The repository part of ``imageLocation`` when the manifest has no name (the 2017-06
# seed's images and manifests had none).
DEFAULT_REPOSITORY = "image"


class BuildFailure(Exception):
    """An image build that cannot succeed; ``details`` are ``(code, message)`` pairs."""

    def __init__(self, message: str, details: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


@dataclass(frozen=True)
class BuiltImage:
    """What a successful build produced."""

    bundle: Path
    driver_file: str | None
    image_location: str


def model_label(model_id: str, model: Model) -> str:
    """How a build error names a model, e.g. ``model churn (id 3f…)``."""
    return f"model {model.name} (id {model_id})"


def image_files(manifest: Manifest, models: Mapping[str, Model | None]) -> list[BundleFile]:
    """Every file the image is made of, in manifest order; a missing model fails the build."""
    files: list[BundleFile] = []
    for index, model_id in enumerate(manifest.model_ids):
        model = models.get(model_id)
        if model is None:
            rule = f"model {model_id} is not registered in this account"
            detail = field_detail("ModelNotFound", ("model_ids", index), rule)
            raise BuildFailure("A model of the manifest is gone.", [detail])
        files.append(BundleFile(model_label(model_id, model), model.url, model.unpack))
    for asset in manifest.assets:
        files.append(BundleFile(f"asset {asset.id}", asset.url, asset.unpack))
    properties = manifest.target_runtime.properties
    for name, url in (
        ("pip_requirements", properties.pip_requirements),
        ("conda_env_file", properties.conda_env_file),
    ):
        if url:
            path = FieldProblem(path=("target_runtime", "properties", name), rule="").wire_path()
            files.append(BundleFile(path, url))
    return files


def driver_problem(manifest: Manifest) -> tuple[str, str] | None:
    """Why ``driverProgram`` cannot be used, or ``None``: it must name one of the assets."""
    driver = manifest.driver_program
    asset_ids = [asset.id for asset in manifest.assets]
    if driver is None or driver in asset_ids:
        return None
    listed = ", ".join(sorted(asset_ids)) or "none"
    rule = f"{driver!r} is not one of the manifest's asset ids ({listed})"
    return field_detail("InvalidDriverProgram", ("driver_program",), rule)


def image_location(image: ImageRecord, manifest: Manifest) -> str:
    """Where the built image is, ``{registry}/{repository}:{version}`` as MMS tagged it."""
    registry = image.registry_info.location if image.registry_info else None
    repository = image.name or manifest.name or DEFAULT_REPOSITORY
    return f"{registry or 'local'}/{repository}:{image.version or 1}"


def build_image(
    image: ImageRecord,
    manifest: Manifest,
    models: Mapping[str, Model | None],
    bundles_dir: Path,
    file_roots: Sequence[Path] = (Path("/"),),
) -> BuiltImage:
    """Fetch, check and bundle an image; raises ``BuildFailure`` naming what is wrong."""
    files = image_files(manifest, models)
    details: list[tuple[str, str]] = []
    problem = driver_problem(manifest)
    if problem is not None:
        details.append(problem)
    try:
        bundle = build_bundle(files, bundles_dir, file_roots)
    except BundleError as err:
        details.append(("UrlUnreadable", str(err)))
        raise BuildFailure(f"Image build failed: {err}", details) from None
    if details:
        raise BuildFailure("The driver program is not an asset of the manifest.", details)
    driver_file = _driver_file(manifest)
    if driver_file is not None:
        try:
            check_driver(bundle, driver_file)
        except BackendError as err:
            detail = ("DriverProgramInvalid", str(err))
            raise BuildFailure(f"Image build failed: {err}", [detail]) from None
    return BuiltImage(bundle, driver_file, image_location(image, manifest))


def _driver_file(manifest: Manifest) -> str | None:
    """The driver's file name in the bundle, when it is a plain (not unpacked) asset."""
    for asset in manifest.assets:
        if asset.id == manifest.driver_program and not asset.unpack:
            return file_name_of(asset.url)
    return None
