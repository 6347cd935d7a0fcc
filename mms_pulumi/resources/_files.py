"""Files a ``Deployment`` ships to MMS: URLs as given, local files as content-hashed URLs.

MMS fetches every model and asset from a URL. A local file becomes a ``file://`` URL whose
fragment is the SHA-256 of its content (``#sha256=…``), so editing the file changes the
input and ``pulumi preview`` shows the replacement even though the path is the same. A
local directory is packed into a ``.tar.gz`` with ``unpack`` set, as the 2017 CLI did
(azure-cli-ml ``_manifest_util``: directories are tar.gz-ed and sent with ``unpack: true``);
the archive is written reproducibly (sorted names, no times or owners), named by its
digest under the project's ``.mms-packed`` directory. Only a local MMS (the emulator)
can read ``file://`` URLs: against any other endpoint a local file is an error that says
how to put an upload in front.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import tarfile
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from mms_pulumi.resources._base import local_file_rule
from mms_pulumi.resources._resource import project_root

PACKED_DIR = ".mms-packed"
_CHUNK = 1 << 20
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

FileInput = str | os.PathLike[str] | pulumi.Asset | pulumi.Archive | pulumi.Output[str]
"""A file for MMS: a URL (also one known only at deploy time, an ``Output[str]``), a local
path (file or directory), or a Pulumi asset or archive (``FileAsset``, ``FileArchive``,
``RemoteAsset``, ``RemoteArchive``)."""


class LocalFileError(ValueError):
    """A file input that cannot be shipped: missing, unreadable, or local against a remote
    MMS endpoint."""


@dataclass(frozen=True)
class ShippedFile:
    """A file as MMS sees it: the URL it fetches and whether it unpacks the archive."""

    url: pulumi.Input[str]
    unpack: bool
    name: pulumi.Input[str]  # file name without directories, for default ids and names
    local: Path | None  # the local file or directory, when it is one


def remote_upload_hint(field: str, local: str, endpoint: str) -> str:
    """Why a local file cannot go to a remote MMS, and what to compose in front instead."""
    return f"{field}: {local} {local_file_rule(endpoint)}"


def ship(
    field: str,
    value: FileInput,
    *,
    endpoint_is_local: bool,
    endpoint: str,
    packed_dir: Path | None = None,
) -> ShippedFile:
    """The URL MMS fetches for one file input; a local directory is packed first, into
    ``packed_dir`` (default: ``.mms-packed`` at the project root)."""
    if isinstance(value, pulumi.Output):
        # A URL known only at deploy time, e.g. a storage blob's SAS URL: MMS fetches it;
        # a file:// one against a remote endpoint is refused by the children's check.
        return ShippedFile(value, False, value.apply(url_file_name), None)
    if isinstance(value, pulumi.RemoteAsset | pulumi.RemoteArchive):
        return _remote(field, str(value.uri), unpack=isinstance(value, pulumi.RemoteArchive))
    archive_file = isinstance(value, pulumi.FileArchive)
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        path: Any = value.path
    elif isinstance(value, pulumi.Asset | pulumi.Archive):
        raise LocalFileError(
            f"{field}: a {type(value).__name__} has no file or URL MMS could fetch; use "
            "a path, a URL, FileAsset, FileArchive, RemoteAsset or RemoteArchive"
        )
    elif isinstance(value, str) and _SCHEME.match(value):
        if value.lower().startswith("file:"):
            parts = urllib.parse.urlsplit(value)
            if parts.netloc not in ("", "localhost"):
                raise LocalFileError(
                    f"{field}: {value} names a file on another host ({parts.netloc}); give a "
                    "path on this machine or an http(s) URL"
                )
            path = urllib.request.url2pathname(parts.path)
        else:
            return _remote(field, value, unpack=False)
    elif isinstance(value, str | os.PathLike):
        path = value
    else:
        raise LocalFileError(
            f"{field}: must be a URL, a path, or a Pulumi asset or archive, "
            f"not {type(value).__name__}"
        )
    local = Path(path).expanduser().resolve()
    if not endpoint_is_local:
        raise LocalFileError(remote_upload_hint(field, str(local), endpoint))
    if local.is_dir():
        archive = pack_directory(local, packed_dir or pulumi_project_packed_dir())
        return ShippedFile(_file_url(archive, None), True, local.name, local)
    if not local.is_file():
        raise LocalFileError(
            f"{field}: {local} does not exist or is not a regular file or directory; "
            "give the path of the model, driver or asset to ship"
        )
    try:
        digest = file_digest(local)
    except OSError as err:
        raise LocalFileError(f"{field}: {local} cannot be read ({err.strerror or err})") from None
    # A FileArchive names an archive to unpack at build (a .tar.gz, as the CLI made).
    return ShippedFile(_file_url(local, digest), archive_file, local.name, local)


def url_file_name(url: str) -> str:
    """The last segment of a URL's path (the name MMS gives the fetched file)."""
    return Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).name


def _remote(field: str, url: str, *, unpack: bool) -> ShippedFile:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise LocalFileError(f"{field}: {url} is not an http, https or file URL")
    name = url_file_name(url)
    if not name:
        raise LocalFileError(f"{field}: {url} names no file (its path has no last segment)")
    return ShippedFile(url, unpack, name, None)


def _file_url(path: Path, digest: str | None) -> str:
    url = path.as_uri()
    return f"{url}#sha256={digest}" if digest else url


def file_digest(path: Path) -> str:
    """SHA-256 of a file's content, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def pulumi_project_packed_dir() -> Path:
    """Where packed directories go: ``.mms-packed`` at the project root."""
    return (project_root() / PACKED_DIR).resolve()


def pack_directory(directory: Path, into: Path) -> Path:
    """Pack ``directory`` as a reproducible ``<name>-<digest>.tar.gz`` under ``into``.

    Members are named ``<name>/…`` (the CLI's layout), sorted, with times, owners and
    groups cleared, so the same content always gives the same bytes and the same name;
    ``.mms-packed``, ``.mms-emulator`` and ``__pycache__`` are left out (and ``into``, should
    it lie inside).
    Links and special files are refused: an archive MMS unpacks holds regular files only.
    """
    into.mkdir(parents=True, exist_ok=True)
    handle, staging_name = tempfile.mkstemp(prefix=".packing-", suffix=".tar.gz", dir=into)
    staging = Path(staging_name)
    try:
        with (
            os.fdopen(handle, "wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped,
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for path in [directory, *_members(directory, into)]:
                _add_member(tar, directory, path)
        archive = into / f"{directory.name}-{file_digest(staging)[:16]}.tar.gz"
        staging.replace(archive)
    finally:
        staging.unlink(missing_ok=True)
    return archive


# Never packed: our own state (packed archives, the emulator's data) and bytecode, which
# would change the digest on every run without any change a person made.
SKIPPED_NAMES = frozenset({PACKED_DIR, ".mms-emulator", "__pycache__"})


def _members(directory: Path, into: Path) -> list[Path]:
    """The directory's contents in a stable order, our own state and bytecode left out."""
    into = into.resolve()
    found = []
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory).parts
        if SKIPPED_NAMES.intersection(relative) or path.resolve() == into:
            continue
        if into in path.resolve().parents:
            continue
        found.append(path)
    return found


def _add_member(tar: tarfile.TarFile, directory: Path, path: Path) -> None:
    if path.is_symlink() or not (path.is_dir() or path.is_file()):
        raise LocalFileError(
            f"{path}: is a link or a special file; a packed directory may hold regular "
            "files and directories only"
        )
    info = tar.gettarinfo(str(path), arcname=_member_name(directory, path))
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644
    if path.is_file():
        with path.open("rb") as source:
            tar.addfile(info, source)
    else:
        tar.addfile(info)


def _member_name(directory: Path, path: Path) -> str:
    relative = path.relative_to(directory).as_posix()
    return directory.name if relative == "." else f"{directory.name}/{relative}"
