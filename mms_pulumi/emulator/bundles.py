"""Image bundles: fetch a manifest's files, unpack archives safely, store by content.

A bundle is the emulator's stand-in for a Docker image: one directory holding every model
and asset file by its URL's file name (archives marked ``unpack`` are expanded in place),
which is the working directory the scoring process runs in. Bundles are content-addressed
(``bundles/<sha256>``), so identical inputs share one directory.

Everything that can fail raises ``BundleError`` whose message says which file and why.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import stat
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# Limits that keep a hostile or broken manifest from filling the disk.
MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
MAX_BUNDLE_BYTES = 2 * 1024 * 1024 * 1024  # every file of one image together
MAX_ARCHIVE_ENTRIES = 20_000
FETCH_TIMEOUT_SECONDS = 30.0  # per read
FETCH_DEADLINE_SECONDS = 600.0  # per file, however slowly it trickles in
_CHUNK = 1024 * 1024


class BundleError(Exception):
    """A file of the manifest could not be fetched, unpacked or used; the message says which."""


@dataclass(frozen=True)
class BundleFile:
    """One file going into a bundle: where it comes from and whether to unpack it."""

    label: str  # e.g. "model churn (id …)" or "asset score", for error messages
    url: str
    unpack: bool = False


def file_name_of(url: str) -> str:
    """The file name a URL's content gets inside the bundle."""
    path = urllib.parse.urlsplit(url).path
    name = PurePosixPath(urllib.parse.unquote(path)).name
    if not name or name in (".", ".."):
        raise BundleError(f"{url}: the URL names no file")
    return name


def readable_path(url: str, roots: Sequence[Path]) -> Path:
    """The local file a ``file://`` URL names, if it lies under one of ``roots``.

    The path is resolved first (``..`` and links followed), so a link inside a root that
    points outside it is refused too; ``file://otherhost/…`` names another machine's file.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise BundleError(f"{url}: names a file on another host ({parts.netloc})")
    path = Path(urllib.request.url2pathname(parts.path)).resolve()
    for root in roots:
        if path == root or root in path.parents:
            return path
    allowed = ", ".join(str(root) for root in roots) or "none"
    raise BundleError(
        f"{url}: is outside the directories the emulator may read ({allowed}); start it "
        "with --file-root <dir> (or MMS_EMULATOR_FILE_ROOTS) to allow another"
    )


def fetch(
    url: str,
    target: Path,
    *,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
    deadline_seconds: float = FETCH_DEADLINE_SECONDS,
    file_roots: Sequence[Path] = (Path("/"),),
) -> None:
    """Copy a ``file://``, ``http://`` or ``https://`` URL to ``target``, streaming.

    ``file://`` URLs must name a file under one of ``file_roots``; the copy keeps the
    file's permission bits (a file only its owner may read stays so). A download must
    finish within ``deadline_seconds`` in all (a slow sender cannot hold a build forever)
    and deliver every byte its ``Content-Length`` announced.
    """
    if any(ord(char) < 32 or ord(char) == 127 for char in url):
        raise BundleError("the URL holds a control character")
    try:
        scheme = urllib.parse.urlsplit(url).scheme.lower()
    except ValueError:
        raise BundleError(f"{url}: is not a well-formed URL") from None
    if scheme not in ("file", "http", "https"):
        raise BundleError(f"{url}: unsupported URL scheme {scheme!r}; use file, http or https")
    deadline = time.monotonic() + deadline_seconds
    try:
        if scheme == "file":
            source_path = readable_path(url, file_roots)
            _check_regular_file(source_path, url)
            with source_path.open("rb") as source:
                _copy_limited(source, target, url, max_bytes, deadline)
            shutil.copymode(source_path, target)
            return
        request = urllib.request.Request(url, headers={"User-Agent": "mms-emulator"})
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:
            copied = _copy_limited(response, target, url, max_bytes, deadline)
            announced = response.headers.get("Content-Length")
            if (
                announced
                and announced.isascii()
                and announced.isdigit()
                and copied < int(announced)
            ):
                raise BundleError(f"{url}: the download ended after {copied} of {announced} bytes")
    except http.client.IncompleteRead as err:
        raise BundleError(f"{url}: the download ended early ({len(err.partial)} bytes)") from None
    except urllib.error.HTTPError as err:
        raise BundleError(f"{url}: the server answered HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        raise BundleError(f"{url}: could not be reached ({err.reason})") from None
    except TimeoutError:
        raise BundleError(f"{url}: timed out after {FETCH_TIMEOUT_SECONDS:.0f} s") from None
    except PermissionError:
        raise BundleError(f"{url}: permission denied") from None
    except OSError as err:
        raise BundleError(f"{url}: {err.strerror or err}") from None
    except UnicodeError:
        # A host name IDNA cannot encode, or a redirect to one.
        raise BundleError(f"{url}: names a host that cannot be looked up") from None
    except ValueError:
        # A malformed host or port (here or in a redirect), or a NUL in a file path.
        raise BundleError(f"{url}: is not a URL the emulator can fetch") from None


def _check_regular_file(path: Path, url: str) -> None:
    """Refuse what is not a readable regular file, saying why in the OS's words too.

    Checked before opening: opening a FIFO or a device could block the build forever.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as err:
        raise BundleError(f"{url}: no such file ({err.strerror})") from None
    if stat.S_ISDIR(mode):
        raise BundleError(f"{url}: is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise BundleError(f"{url}: is not a regular file")
    if not os.access(path, os.R_OK):
        raise BundleError(f"{url}: permission denied (the file is not readable)")


def _copy_limited(source: object, target: Path, url: str, max_bytes: int, deadline: float) -> int:
    """Copy at most ``max_bytes`` before ``deadline`` (monotonic); the bytes copied.

    An HTTP answer is read with ``read1``, which returns what one receive brings: ``read(n)``
    would wait for all ``n`` bytes, so a sender trickling a byte at a time would never reach
    the deadline check.
    """
    read = getattr(source, "read1", None) or source.read  # type: ignore[attr-defined]
    copied = 0
    with target.open("wb") as out:
        while chunk := read(_CHUNK):
            copied += len(chunk)
            if copied > max_bytes:
                raise BundleError(f"{url}: larger than the {max_bytes // (1024 * 1024)} MiB limit")
            if time.monotonic() > deadline:
                raise BundleError(f"{url}: the download did not finish in time")
            out.write(chunk)
    return copied


def unpack(archive: Path, destination: Path, *, label: str) -> int:
    """Expand a zip or tar(.gz) archive into ``destination``, refusing anything unsafe.

    Refused: entries with absolute paths or ``..`` that would land outside the destination,
    links (symbolic or hard) pointing outside it, device files, and archives whose expanded
    size or entry count is over the limits.
    """
    try:
        if zipfile.is_zipfile(archive):
            return _unpack_zip(archive, destination, label)
        if tarfile.is_tarfile(archive):
            return _unpack_tar(archive, destination, label)
    except OSError as err:
        # An entry this file system cannot hold (a name over its length limit, say); the
        # OS's words, never the path.
        reason = err.strerror or type(err).__name__
        raise BundleError(f"{label}: an archive entry could not be written ({reason})") from None
    raise BundleError(f"{label}: marked unpack but is not a zip or tar(.gz) archive")


def _inside(destination: Path, member: str, label: str) -> Path:
    target = (destination / member).resolve()
    root = destination.resolve()
    if member.startswith(("/", "\\")) or (target != root and root not in target.parents):
        raise BundleError(f"{label}: archive entry {member!r} escapes the target directory")
    return target


def _check_totals(sizes: Iterable[int], count: int, label: str) -> int:
    """The bytes an archive expands to, if within the limits."""
    if count > MAX_ARCHIVE_ENTRIES:
        raise BundleError(f"{label}: archive has {count} entries, over {MAX_ARCHIVE_ENTRIES}")
    total = sum(sizes)
    if total > MAX_UNPACKED_BYTES:
        limit = MAX_UNPACKED_BYTES // (1024 * 1024)
        raise BundleError(f"{label}: archive expands past the {limit} MiB limit")
    return total


# What the zip module can expand (stored, deflate, bzip2, lzma).
_ZIP_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)


def _unpack_zip(archive: Path, destination: Path, label: str) -> int:
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            total = _check_totals((m.file_size for m in members), len(members), label)
            for member in members:
                _unpack_zip_member(bundle, member, destination, label)
            return total
    except (zipfile.BadZipFile, EOFError, zlib.error) as err:
        raise BundleError(f"{label}: archive is damaged ({err})") from None


def _unpack_zip_member(
    bundle: zipfile.ZipFile, member: zipfile.ZipInfo, destination: Path, label: str
) -> None:
    name = member.filename
    target = _inside(destination, name, label)
    if stat.S_ISLNK(member.external_attr >> 16):
        raise BundleError(f"{label}: archive entry {name!r} is a link")
    if member.flag_bits & 0x1:
        raise BundleError(f"{label}: archive entry {name!r} is encrypted")
    if member.compress_type not in _ZIP_METHODS:
        raise BundleError(
            f"{label}: archive entry {name!r} uses compression method "
            f"{member.compress_type}, which is not supported (use deflate)"
        )
    try:
        if member.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        with bundle.open(member) as source, target.open("xb") as out:
            shutil.copyfileobj(source, out, _CHUNK)
    except (FileExistsError, NotADirectoryError, IsADirectoryError):
        raise BundleError(
            f"{label}: archive entry {name!r} clashes with another entry of the same path"
        ) from None


def _unpack_tar(archive: Path, destination: Path, label: str) -> int:
    try:
        with tarfile.open(archive) as bundle:
            # Read entry by entry, so a tar of millions of entries stops at the limit.
            members: list[tarfile.TarInfo] = []
            for member in bundle:
                members.append(member)
                if len(members) > MAX_ARCHIVE_ENTRIES:
                    break
            total = _check_totals((m.size for m in members), len(members), label)
            for member in members:
                _inside(destination, member.name, label)
                if member.issym() or member.islnk():
                    link_base = (
                        (destination / member.name).parent if member.issym() else destination
                    )
                    _inside(link_base, member.linkname, label)
                    if member.issym() and os.path.isabs(member.linkname):
                        raise BundleError(
                            f"{label}: archive entry {member.name!r} links outside the bundle"
                        )
                elif not (member.isfile() or member.isdir()):
                    raise BundleError(f"{label}: archive entry {member.name!r} is a special file")
            bundle.extractall(destination, members=members, filter="data")
            return total
    except tarfile.TarError as err:
        raise BundleError(f"{label}: archive could not be read ({err})") from None
    except (EOFError, zlib.error) as err:
        raise BundleError(f"{label}: archive is damaged ({err})") from None
    except (FileExistsError, NotADirectoryError, IsADirectoryError) as err:
        entry = Path(err.filename).name if err.filename else "an entry"
        raise BundleError(f"{label}: archive entry {entry!r} clashes with another entry") from None


def tree_digest(root: Path) -> str:
    """SHA-256 over every file's relative path and content: equal trees, equal digests."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        with path.open("rb") as source:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def build_bundle(
    files: Iterable[BundleFile], bundles_dir: Path, file_roots: Sequence[Path] = (Path("/"),)
) -> Path:
    """Fetch and unpack every file into a new bundle; return its content-addressed directory.

    ``file://`` URLs may name files under ``file_roots`` only.
    """
    bundles_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=bundles_dir))
    try:
        downloads = staging / ".downloads"
        downloads.mkdir()
        tree = staging / "tree"
        tree.mkdir()
        size = 0
        for index, item in enumerate(files):
            name = file_name_of(item.url)
            download = downloads / f"{index}-{name}"
            try:
                fetch(item.url, download, file_roots=file_roots)
            except BundleError as err:
                raise BundleError(f"{item.label}: {err}") from None
            size += download.stat().st_size
            if item.unpack:
                size += unpack(download, tree, label=f"{item.label}: {item.url}")
            if size > MAX_BUNDLE_BYTES:
                limit = MAX_BUNDLE_BYTES // (1024 * 1024)
                raise BundleError(
                    f"{item.label}: {item.url}: the image's files together pass the {limit} MiB "
                    "limit of one image"
                )
            if not item.unpack:
                if (tree / name).exists():
                    raise BundleError(
                        f"{item.label}: {item.url}: another file of the manifest is also "
                        f"named {name!r}"
                    )
                download.rename(tree / name)
        final = bundles_dir / tree_digest(tree)
        if final.exists():
            return final
        try:
            tree.rename(final)
        except OSError:
            # Another build of identical inputs won the race; its bundle is the same.
            if not final.exists():
                raise
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def collect_garbage(bundles_dir: Path, in_use: Iterable[Path]) -> list[Path]:
    """Remove build leftovers (``.staging-*``) and bundles no image uses; what was removed.

    Call it only when no build runs (the emulator's start, a reset): a build in progress
    works in a ``.staging-*`` directory of its own.
    """
    if not bundles_dir.is_dir():
        return []
    keep = {path.resolve() for path in in_use}
    removed = []
    for entry in bundles_dir.iterdir():
        if entry.resolve() in keep or not entry.is_dir() or entry.is_symlink():
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed
