"""Image bundles: fetch a manifest's files, unpack archives safely, store by content.

A bundle is the emulator's stand-in for a Docker image: one directory holding every model
and asset file by its URL's file name (archives marked ``unpack`` are expanded in place),
which is the working directory the scoring process runs in. Bundles are content-addressed
(``bundles/<sha256>``), so identical inputs share one directory.

Everything that can fail raises ``BundleError`` whose message says which file and why.
"""

from __future__ import annotations

import enum
import hashlib
import http.client
import os
import re
import shutil
import stat
import tarfile
import tempfile
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

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

    Every entry is checked before anything is written (``_Tree``), by rules of our own
    rather than ``tarfile``'s extraction filters (3.11.7's resolve long link chains wrongly):
    no absolute paths, no ``..``, no control characters or backslashes in names, bounded
    name lengths and depth, nothing written through a link, every link resolving to an
    entry inside the bundle within ``MAX_LINK_HOPS``, no device files or FIFOs, and the
    expanded size and entry count within the limits. Returns the bytes written.
    """
    try:
        destination.mkdir(parents=True, exist_ok=True)
        if zipfile.is_zipfile(archive):
            return _unpack_zip(archive, destination, label)
        if tarfile.is_tarfile(archive):
            return _unpack_tar(archive, destination, label)
    except OSError as err:
        # An entry this file system cannot hold; the OS's words, never the path.
        reason = err.strerror or type(err).__name__
        raise BundleError(f"{label}: an archive entry could not be written ({reason})") from None
    raise BundleError(f"{label}: marked unpack but is not a zip or tar(.gz) archive")


# The shape of an archive's entries, checked before anything is written. The path bounds
# keep every entry well inside PATH_MAX once joined to the bundle's directory.
MAX_ENTRY_PATH_BYTES = 1024
MAX_NAME_BYTES = 255  # one path component, as most file systems allow
MAX_ENTRY_DEPTH = 64
MAX_LINK_HOPS = 40  # links followed to resolve one path, as Linux allows


class _Kind(enum.Enum):
    DIRECTORY = "directory"
    FILE = "file"
    SYMLINK = "symbolic link"


@dataclass(frozen=True)
class _Node:
    kind: _Kind
    target: str = ""  # a symbolic link's target, as written in the archive
    size: int = 0  # a file's


Parts = tuple[str, ...]


@dataclass(frozen=True)
class _Entry:
    """One archive entry to write, after its checks."""

    name: str  # as the archive spells it, for messages
    parts: Parts  # its path under the destination
    kind: _Kind | None  # None: a hard link, written as a copy of the file it names
    target: str = ""  # a symbolic link's target, or a hard link's archive path
    executable: bool = False
    size: int = 0


def _is_unsafe_char(char: str) -> bool:
    return char == "\\" or unicodedata.category(char) in ("Cc", "Zl", "Zp")


def _entry_parts(name: str, label: str, what: str = "archive entry") -> Parts:
    """The path components of an archive path, if it is a safe one (pure)."""
    shown = f"{label}: {what} {name!r}"
    if any(_is_unsafe_char(char) for char in name):
        raise BundleError(f"{shown} has a control character or backslash in its name")
    try:
        encoded = name.encode("utf-8")
    except UnicodeError:
        raise BundleError(f"{shown} has a name that is not UTF-8") from None
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        raise BundleError(f"{shown} escapes the target directory (its path is absolute)")
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        raise BundleError(f"{shown} escapes the target directory ('..' in its path)")
    if len(encoded) > MAX_ENTRY_PATH_BYTES:
        raise BundleError(
            f"{shown[:200]}… could not be written: its path is longer than "
            f"{MAX_ENTRY_PATH_BYTES} bytes"
        )
    if any(len(part.encode("utf-8")) > MAX_NAME_BYTES for part in parts):
        raise BundleError(
            f"{shown[:200]}… could not be written: a name in its path is longer than "
            f"{MAX_NAME_BYTES} bytes"
        )
    if len(parts) > MAX_ENTRY_DEPTH:
        raise BundleError(f"{shown[:200]}… is more than {MAX_ENTRY_DEPTH} directories deep")
    return parts


class _Tree:
    """What the destination will hold: what is there already plus every entry so far.

    Links are resolved against it as the kernel resolves them (component by component,
    ``..`` going to the parent of the resolved directory), so the check and the file system
    cannot disagree on where a link leads. Nothing is written through a link, and links are
    made after every file and directory, so the tree checked is the tree written.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.nodes: dict[Parts, _Node] = {(): _Node(_Kind.DIRECTORY)}

    @classmethod
    def of(cls, root: Path, label: str) -> _Tree:
        """The tree already at ``root`` (earlier files of the same image)."""
        tree = cls(label)
        pending: list[tuple[Path, Parts]] = [(root, ())]
        while pending:
            directory, parts = pending.pop()
            with os.scandir(directory) as entries:
                for entry in entries:
                    path = (*parts, entry.name)
                    if entry.is_symlink():
                        tree.nodes[path] = _Node(_Kind.SYMLINK, os.readlink(entry.path))
                    elif entry.is_dir(follow_symlinks=False):
                        tree.nodes[path] = _Node(_Kind.DIRECTORY)
                        pending.append((Path(entry.path), path))
                    else:
                        size = entry.stat(follow_symlinks=False).st_size
                        tree.nodes[path] = _Node(_Kind.FILE, size=size)
        return tree

    def add(self, entry: _Entry) -> None:
        """Place an entry, refusing one written through a link or over another entry."""
        for depth in range(1, len(entry.parts)):
            parent = entry.parts[:depth]
            node = self.nodes.setdefault(parent, _Node(_Kind.DIRECTORY))
            if node.kind is _Kind.SYMLINK:
                raise BundleError(
                    f"{self.label}: archive entry {entry.name!r} would be written through the "
                    f"link {'/'.join(parent)!r}"
                )
            if node.kind is not _Kind.DIRECTORY:
                raise BundleError(
                    f"{self.label}: archive entry {entry.name!r} clashes with another entry "
                    f"(the file {'/'.join(parent)!r})"
                )
        kind = entry.kind or _Kind.FILE
        existing = self.nodes.get(entry.parts)
        if existing is not None and not (kind is existing.kind is _Kind.DIRECTORY):
            raise BundleError(
                f"{self.label}: archive entry {entry.name!r} clashes with another entry of "
                "the same path"
            )
        self.nodes[entry.parts] = _Node(
            kind, entry.target if kind is _Kind.SYMLINK else "", entry.size
        )

    def resolve(self, start: Parts, target: str, entry: str, *, hops: int = 0) -> Parts:
        """Where ``target``, read from directory ``start``, leads once every link on the way
        is followed (``hops`` already followed to get here); a ``BundleError`` if it leaves
        the tree, names nothing in it, or needs more than ``MAX_LINK_HOPS`` links."""
        pending = list(reversed(target.split("/")))
        current = start
        while pending:
            part = pending.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if not current:
                    raise BundleError(
                        f"{self.label}: archive entry {entry!r} links outside the bundle "
                        "(escapes the target directory)"
                    )
                current = current[:-1]
                continue
            path = (*current, part)
            node = self.nodes.get(path)
            if node is None:
                raise BundleError(
                    f"{self.label}: archive entry {entry!r} links to {target!r}, which is not "
                    "in the archive"
                )
            if node.kind is _Kind.SYMLINK:
                hops += 1
                if hops > MAX_LINK_HOPS:
                    raise BundleError(
                        f"{self.label}: archive entry {entry!r} needs more than "
                        f"{MAX_LINK_HOPS} links followed to resolve"
                    )
                if node.target.startswith("/"):
                    raise BundleError(
                        f"{self.label}: archive entry {entry!r} links outside the bundle "
                        f"(through {'/'.join(path)!r}, an absolute link)"
                    )
                pending.extend(reversed(node.target.split("/")))
                continue
            if node.kind is _Kind.FILE and pending:
                raise BundleError(
                    f"{self.label}: archive entry {entry!r} links through the file "
                    f"{'/'.join(path)!r}"
                )
            current = path
        return current


def _link_target(entry: str, target: str, label: str) -> str:
    """A symbolic link's target, if it is one the tree can resolve (pure)."""
    if not target:
        raise BundleError(f"{label}: archive entry {entry!r} is a link to nothing")
    if target.startswith("/"):
        raise BundleError(f"{label}: archive entry {entry!r} links outside the bundle")
    if any(_is_unsafe_char(char) for char in target):
        raise BundleError(
            f"{label}: archive entry {entry!r} links to a name with a control character"
        )
    if len(target.encode("utf-8", "surrogateescape")) > MAX_ENTRY_PATH_BYTES:
        raise BundleError(
            f"{label}: archive entry {entry!r} links to a path longer than "
            f"{MAX_ENTRY_PATH_BYTES} bytes"
        )
    return target


def _planned(entries: Sequence[_Entry], destination: Path, label: str) -> _Tree:
    """Check every entry against the destination as it will be; the final tree."""
    count = len(entries)
    if count > MAX_ARCHIVE_ENTRIES:
        raise BundleError(f"{label}: archive has {count} entries, over {MAX_ARCHIVE_ENTRIES}")
    tree = _Tree.of(destination, label)
    for entry in entries:
        tree.add(entry)
    total = 0
    for entry in entries:
        if entry.kind is _Kind.SYMLINK:
            tree.resolve(entry.parts[:-1], entry.target, entry.name, hops=1)
        elif entry.kind is None:
            source = tree.nodes[tree.resolve((), entry.target, entry.name)]
            if source.kind is not _Kind.FILE:
                raise BundleError(
                    f"{label}: archive entry {entry.name!r} is a hard link to something that "
                    "is not a file"
                )
            total += source.size
        total += entry.size
    if total > MAX_UNPACKED_BYTES:
        limit = MAX_UNPACKED_BYTES // (1024 * 1024)
        raise BundleError(f"{label}: archive expands past the {limit} MiB limit")
    return tree


def _write_entries(
    entries: Sequence[_Entry],
    destination: Path,
    tree: _Tree,
    open_member: Callable[[_Entry], IO[bytes]],
) -> int:
    """Write checked entries: directories and files in order, then hard links (as copies),
    then symbolic links; the bytes written."""
    written = 0
    for entry in entries:
        path = destination.joinpath(*entry.parts)
        if entry.kind is _Kind.DIRECTORY:
            path.mkdir(mode=0o755, parents=True, exist_ok=True)
        elif entry.kind is _Kind.FILE:
            path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            with open_member(entry) as source:
                written += _write_new_file(path, source, entry.executable)
    for entry in entries:
        if entry.kind is None:
            source_path = destination.joinpath(*tree.resolve((), entry.target, entry.name))
            path = destination.joinpath(*entry.parts)
            path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            with source_path.open("rb") as source:
                written += _write_new_file(path, source, entry.executable)
    for entry in entries:
        if entry.kind is _Kind.SYMLINK:
            path = destination.joinpath(*entry.parts)
            path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            os.symlink(entry.target, path)
    return written


def _write_new_file(path: Path, source: IO[bytes], executable: bool) -> int:
    """Copy ``source`` to a file that must not exist yet (never through a link)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    descriptor = os.open(path, flags, 0o755 if executable else 0o644)
    written = 0
    with os.fdopen(descriptor, "wb") as out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            out.write(chunk)
    return written


# What the zip module can expand (stored, deflate, bzip2, lzma).
_ZIP_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)


def _unpack_zip(archive: Path, destination: Path, label: str) -> int:
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = {}
            entries = []
            infos = bundle.infolist()
            if len(infos) > MAX_ARCHIVE_ENTRIES:
                raise BundleError(
                    f"{label}: archive has {len(infos)} entries, over {MAX_ARCHIVE_ENTRIES}"
                )
            for member in infos:
                entry = _zip_entry(member, label)
                if entry.parts:
                    members[entry.parts] = member
                    entries.append(entry)
            tree = _planned(entries, destination, label)
            return _write_entries(
                entries, destination, tree, lambda entry: bundle.open(members[entry.parts])
            )
    except (zipfile.BadZipFile, EOFError, zlib.error) as err:
        raise BundleError(f"{label}: archive is damaged ({err})") from None


def _zip_entry(member: zipfile.ZipInfo, label: str) -> _Entry:
    name = member.filename
    parts = _entry_parts(name, label)
    if stat.S_ISLNK(member.external_attr >> 16):
        raise BundleError(f"{label}: archive entry {name!r} is a link")
    if member.flag_bits & 0x1:
        raise BundleError(f"{label}: archive entry {name!r} is encrypted")
    if member.compress_type not in _ZIP_METHODS:
        raise BundleError(
            f"{label}: archive entry {name!r} uses compression method "
            f"{member.compress_type}, which is not supported (use deflate)"
        )
    if member.is_dir():
        return _Entry(name, parts, _Kind.DIRECTORY)
    mode = member.external_attr >> 16
    return _Entry(name, parts, _Kind.FILE, executable=bool(mode & 0o111), size=member.file_size)


def _unpack_tar(archive: Path, destination: Path, label: str) -> int:
    try:
        with tarfile.open(archive) as bundle:
            # Read entry by entry, so a tar of millions of entries stops at the limit.
            members: dict[Parts, tarfile.TarInfo] = {}
            entries: list[_Entry] = []
            for count, member in enumerate(bundle, start=1):
                if count > MAX_ARCHIVE_ENTRIES:
                    raise BundleError(
                        f"{label}: archive has {count} entries, over {MAX_ARCHIVE_ENTRIES}"
                    )
                entry = _tar_entry(member, label)
                if entry.parts:
                    members[entry.parts] = member
                    entries.append(entry)
            tree = _planned(entries, destination, label)

            def open_member(entry: _Entry) -> IO[bytes]:
                source = bundle.extractfile(members[entry.parts])
                if source is None:  # not reached: only regular files are opened
                    raise BundleError(f"{label}: archive entry {entry.name!r} has no content")
                return source

            return _write_entries(entries, destination, tree, open_member)
    except tarfile.TarError as err:
        raise BundleError(f"{label}: archive could not be read ({err})") from None
    except (EOFError, zlib.error) as err:
        raise BundleError(f"{label}: archive is damaged ({err})") from None


def _tar_entry(member: tarfile.TarInfo, label: str) -> _Entry:
    name = member.name
    parts = _entry_parts(name, label)
    executable = bool(member.mode & 0o111)
    if member.isdir():
        return _Entry(name, parts, _Kind.DIRECTORY)
    if member.isfile():
        return _Entry(name, parts, _Kind.FILE, executable=executable, size=member.size)
    if member.issym():
        target = _link_target(name, member.linkname, label)
        return _Entry(name, parts, _Kind.SYMLINK, target)
    if member.islnk():
        # A hard link names another entry by its archive path; it is written as a copy.
        _entry_parts(member.linkname, label, what=f"archive entry {name!r}: its hard link target")
        return _Entry(name, parts, None, member.linkname, executable=executable)
    raise BundleError(f"{label}: archive entry {name!r} is a special file")


def tree_digest(root: Path) -> str:
    """SHA-256 over every file's relative path and content, and every link's target: equal
    trees, equal digests. Links are not followed (``rglob`` does not descend into them)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix().encode("utf-8", "surrogateescape")
        if path.is_symlink():
            digest.update(b"L" + relative + b"\0" + os.fsencode(os.readlink(path)) + b"\0")
        elif path.is_file():
            digest.update(b"F" + relative + b"\0")
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
                if os.path.lexists(tree / name):
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
