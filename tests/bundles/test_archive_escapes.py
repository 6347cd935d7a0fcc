"""Archives built to escape their bundle, and archives that only look odd but are fine.

Each hostile archive is unpacked four directories below ``tmp_path``; afterwards nothing
may exist outside the destination that was not there before, whatever the refusal says.
"""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mms_pulumi.emulator import bundles
from mms_pulumi.emulator.bundles import BundleError, BundleFile, build_bundle, unpack


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type = kind
    member.linkname = link
    member.mode = 0o644 if kind != tarfile.DIRTYPE else 0o755
    return member


def _tar(*members: tarfile.TarInfo, content: bytes = b"pwned") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for member in members:
            if member.isfile():
                member.size = len(content)
                archive.addfile(member, io.BytesIO(content))
            else:
                archive.addfile(member)
    return buffer.getvalue()


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    return _member(name, tarfile.SYMTYPE, target)


def _directory(name: str) -> tarfile.TarInfo:
    return _member(name, tarfile.DIRTYPE)


def _long_chain_escape() -> bytes:
    """Links the standard library's checks resolve wrongly on 3.11.7 (fixed in 3.11.13).

    Sixteen links ``a`` … ``p`` each point into a 247-character directory beside them, so
    ``a/b/…/p`` is short to write but really lies past PATH_MAX, where ``os.path.realpath``
    stops following links and goes on lexically. There, each link ``u<k>`` points only
    inside its own directory as written (``u<k-1>/..``), yet really one level above the
    last: twenty of them climb out of the bundle and four directories above it."""
    long_name = "d" * 247
    steps = "abcdefghijklmnop"
    members: list[tarfile.TarInfo] = []
    real = ""
    for step in steps:
        members.append(_directory(os.path.join(real, long_name)))
        members.append(_symlink(os.path.join(real, step), long_name))
        real = os.path.join(real, long_name)
    deep = "/".join(steps)
    members.append(_symlink(f"{deep}/here", "."))
    members.append(_symlink(f"{deep}/u1", "here/.."))
    members += [_symlink(f"{deep}/u{k}", f"u{k - 1}/..") for k in range(2, 21)]
    members.append(_member(f"{deep}/u20/pwned.txt"))
    return _tar(*members)


HOSTILE_TARS = {
    "link chain past PATH_MAX": _long_chain_escape(),
    "two links that escape only together": _tar(
        _symlink("b", "."), _symlink("a", "b/.."), _member("a/pwned.txt")
    ),
    "a link to a link outside": _tar(_symlink("first", "second"), _symlink("second", "..")),
    "a file written through a link": _tar(
        _directory("inside"), _symlink("way", "inside"), _member("way/pwned.txt")
    ),
    "a link whose parent is a link": _tar(
        _directory("x"), _symlink("y", "x"), _symlink("y/up", "../..")
    ),
    "a hard link through a link to outside": _tar(
        _symlink("out", "../../../.."), _member("h", tarfile.LNKTYPE, "out/victim.txt")
    ),
    "a hard link with ..": _tar(_member("h", tarfile.LNKTYPE, "../victim.txt")),
    "an absolute link": _tar(_symlink("abs", "/etc")),
    "a link loop": _tar(_symlink("a", "b"), _symlink("b", "a")),
    "a dangling link": _tar(_symlink("nothing", "not/there")),
    "a link through a file": _tar(_member("f"), _symlink("g", "f/..")),
    "a name with a newline": _tar(_member("a\nb")),
    "a name with a C1 control": _tar(_member("a\x85b")),
    "a name too deep": _tar(_member("/".join(["d"] * 70) + "/f")),
    "a name past the length bound": _tar(_member("/".join(["n" * 200] * 6))),
    "a FIFO": _tar(_member("pipe", tarfile.FIFOTYPE)),
    "a device": _tar(_member("disk", tarfile.BLKTYPE)),
}


def _zip(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, b"pwned")
    return buffer.getvalue()


HOSTILE_ZIPS = {
    "backslash dots": _zip("..\\..\\pwned.txt"),
    "a drive letter": _zip("C:/pwned.txt"),
    "dots in the middle": _zip("a/../../pwned.txt"),
    "absolute": _zip("/tmp/pwned.txt"),
    "a control character": _zip("a\x1bb.txt"),
    "a line separator": _zip("a\u2028b.txt"),
}


def _zip_symlink() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("link")
        info.external_attr = 0o120777 << 16
        archive.writestr(info, "../../..")
    return buffer.getvalue()


HOSTILE_ZIPS["a symbolic link"] = _zip_symlink()


def _files_under(root: Path) -> set[Path]:
    return {path for path in root.rglob("*")}


@pytest.fixture
def deep(tmp_path: Path) -> Iterator[Path]:
    """A destination four directories down; asserts nothing appeared outside it."""
    destination = tmp_path / "1" / "2" / "3" / "4" / "bundle"
    destination.mkdir(parents=True)
    (tmp_path / "victim.txt").write_text("untouched")
    before = _files_under(tmp_path)
    yield destination
    after = {p for p in _files_under(tmp_path) if destination not in (p, *p.parents)}
    assert after == before - {p for p in before if destination in (p, *p.parents)}
    assert (tmp_path / "victim.txt").read_text() == "untouched"


@pytest.mark.parametrize("archive", HOSTILE_TARS.values(), ids=HOSTILE_TARS.keys())
def test_a_hostile_tar_is_refused_before_anything_is_written(deep: Path, archive: bytes) -> None:
    path = deep.parent / "asset.tar"
    path.write_bytes(archive)
    with pytest.raises(BundleError, match=r"^asset deps: archive entry '") as refused:
        unpack(path, deep, label="asset deps")
    path.unlink()
    assert list(deep.iterdir()) == []  # checked whole before the first write
    assert str(deep) not in str(refused.value)


@pytest.mark.parametrize("archive", HOSTILE_ZIPS.values(), ids=HOSTILE_ZIPS.keys())
def test_a_hostile_zip_is_refused_before_anything_is_written(deep: Path, archive: bytes) -> None:
    path = deep.parent / "asset.zip"
    path.write_bytes(archive)
    with pytest.raises(BundleError, match=r"^asset deps: archive entry '"):
        unpack(path, deep, label="asset deps")
    path.unlink()
    assert list(deep.iterdir()) == []


def test_a_second_archive_cannot_write_through_a_link_the_first_one_made(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    first = tmp_path / "first.tar"
    first.write_bytes(_tar(_directory("lib"), _symlink("current", "lib")))
    second = tmp_path / "second.tar"
    second.write_bytes(_tar(_member("current/pwned.txt")))
    files = [
        BundleFile("asset one", first.as_uri(), unpack=True),
        BundleFile("asset two", second.as_uri(), unpack=True),
    ]
    with pytest.raises(BundleError, match=r"asset two: .*'current/pwned\.txt' would be written"):
        build_bundle(files, tmp_path / "bundles", file_roots=(tmp_path,))
    assert not list((tmp_path / "bundles").glob("*/lib/pwned.txt"))


def test_links_that_stay_inside_are_unpacked_as_links(tmp_path: Path) -> None:
    archive = tmp_path / "venv.tar"
    archive.write_bytes(
        _tar(
            _directory("lib/python"),
            _member("lib/python/site.py"),
            _symlink("lib64", "lib"),
            _symlink("lib/python/current", "../../lib64/python/site.py"),
            _member("lib/copy.py", tarfile.LNKTYPE, "lib64/python/site.py"),
            content=b"print('hi')",
        )
    )
    out = tmp_path / "out"
    written = unpack(archive, out, label="asset venv")
    assert written == 2 * len(b"print('hi')")
    assert (out / "lib64").is_symlink() and os.readlink(out / "lib64") == "lib"
    assert (out / "lib" / "python" / "current").read_text() == "print('hi')"
    assert not (out / "lib" / "copy.py").is_symlink()  # a hard link becomes a copy
    assert (out / "lib" / "copy.py").read_text() == "print('hi')"


def test_modes_are_plain_whatever_the_archive_says(tmp_path: Path) -> None:
    member = _member("run.sh")
    member.mode = 0o6777  # setuid, setgid, world-writable
    archive = tmp_path / "modes.tar"
    archive.write_bytes(_tar(member))
    unpack(archive, tmp_path / "out", label="asset run")
    assert (tmp_path / "out" / "run.sh").stat().st_mode & 0o7777 == 0o755


def test_a_link_chain_longer_than_the_kernel_follows_is_refused(tmp_path: Path) -> None:
    chain = [_member("end")] + [
        _symlink(f"l{i}", "end" if i == 0 else f"l{i - 1}")
        for i in range(bundles.MAX_LINK_HOPS + 1)
    ]
    archive = tmp_path / "chain.tar"
    archive.write_bytes(_tar(*chain))
    with pytest.raises(BundleError, match=rf"more than {bundles.MAX_LINK_HOPS} links"):
        unpack(archive, tmp_path / "out", label="asset chain")


def test_digests_tell_trees_that_differ_only_in_a_link_apart(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for root, target in ((one, "a"), (two, "b")):
        root.mkdir()
        (root / "a").write_text("x")
        (root / "b").write_text("x")
        (root / "link").symlink_to(target)
    assert bundles.tree_digest(one) != bundles.tree_digest(two)
