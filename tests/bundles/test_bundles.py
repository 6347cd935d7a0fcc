"""Image bundles: fetching, safe unpacking and content addressing."""

from __future__ import annotations

import io
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mms_pulumi.emulator import bundles
from mms_pulumi.emulator.bundles import BundleError, BundleFile, build_bundle, fetch, unpack


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_file_and_http_urls(tmp_path: Path, http_root: tuple[str, Path]) -> None:
    base, root = http_root
    (root / "model.json").write_text('{"w": 1}')
    source = tmp_path / "local.bin"
    source.write_bytes(b"\x00\x01")
    fetch(source.as_uri(), tmp_path / "a")
    fetch(f"{base}/model.json", tmp_path / "b")
    assert (tmp_path / "a").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b").read_text() == '{"w": 1}'


def test_fetch_errors_name_the_url(tmp_path: Path, http_root: tuple[str, Path]) -> None:
    base, _ = http_root
    with pytest.raises(BundleError, match=r"/missing\.pkl: the server answered HTTP 404"):
        fetch(f"{base}/missing.pkl", tmp_path / "x")
    with pytest.raises(BundleError, match=r"nope\.pkl: no such file"):
        fetch((tmp_path / "nope.pkl").as_uri(), tmp_path / "x")
    with pytest.raises(BundleError, match="unsupported URL scheme 'ftp'"):
        fetch("ftp://example.invalid/m.pkl", tmp_path / "x")


def test_fetch_refuses_files_over_the_limit(tmp_path: Path) -> None:
    source = tmp_path / "big"
    source.write_bytes(b"x" * 2048)
    with pytest.raises(BundleError, match="limit"):
        fetch(source.as_uri(), tmp_path / "out", max_bytes=1024)


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _tar(members: list[tarfile.TarInfo], data: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member in members:
            content = (data or {}).get(member.name, b"")
            member.size = len(content) if member.isfile() else 0
            archive.addfile(member, io.BytesIO(content) if member.isfile() else None)
    return buffer.getvalue()


def test_unpack_zip_and_tar(tmp_path: Path) -> None:
    zipped = tmp_path / "m.zip"
    zipped.write_bytes(_zip({"model/weights.json": b"{}", "vocab.txt": b"a b"}))
    unpack(zipped, tmp_path / "z", label="model m")
    assert (tmp_path / "z" / "model" / "weights.json").read_bytes() == b"{}"
    tarred = tmp_path / "m.tar.gz"
    tarred.write_bytes(_tar([tarfile.TarInfo("dir/file.txt")], {"dir/file.txt": b"hello"}))
    unpack(tarred, tmp_path / "t", label="model m")
    assert (tmp_path / "t" / "dir" / "file.txt").read_text() == "hello"


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/evil", "a/../../escape"])
def test_zip_entries_escaping_the_target_are_refused(tmp_path: Path, name: str) -> None:
    archive = tmp_path / "bad.zip"
    archive.write_bytes(_zip({name: b"x"}))
    with pytest.raises(BundleError, match="escapes the target directory"):
        unpack(archive, tmp_path / "out", label="model bad")
    assert not (tmp_path / "escape.txt").exists()


def test_tar_links_outside_are_refused(tmp_path: Path) -> None:
    link = tarfile.TarInfo("innocent")
    link.type = tarfile.SYMTYPE
    link.linkname = "../../etc/passwd"
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(_tar([link]))
    with pytest.raises(BundleError, match="escapes the target directory"):
        unpack(archive, tmp_path / "out", label="asset deps")
    absolute = tarfile.TarInfo("abs")
    absolute.type = tarfile.SYMTYPE
    absolute.linkname = "/etc/passwd"
    archive.write_bytes(_tar([absolute]))
    with pytest.raises(BundleError, match=r"escapes|links outside"):
        unpack(archive, tmp_path / "out2", label="asset deps")


def test_tar_special_files_are_refused(tmp_path: Path) -> None:
    fifo = tarfile.TarInfo("pipe")
    fifo.type = tarfile.FIFOTYPE
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(_tar([fifo]))
    with pytest.raises(BundleError, match="special file"):
        unpack(archive, tmp_path / "out", label="asset deps")


def test_archives_over_the_size_limit_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundles, "MAX_UNPACKED_BYTES", 100)
    archive = tmp_path / "big.zip"
    archive.write_bytes(_zip({"a": b"x" * 200}))
    with pytest.raises(BundleError, match="expands past"):
        unpack(archive, tmp_path / "out", label="model big")


def test_not_an_archive_is_a_clear_error(tmp_path: Path) -> None:
    plain = tmp_path / "model.pkl"
    plain.write_bytes(b"not an archive")
    with pytest.raises(BundleError, match="not a zip or tar"):
        unpack(plain, tmp_path / "out", label="model m")


def test_identical_inputs_share_one_bundle(tmp_path: Path) -> None:
    model = tmp_path / "model.json"
    model.write_text("{}")
    driver = tmp_path / "score.py"
    driver.write_text("def init(): pass\ndef run(x): return x\n")
    files = [BundleFile("model m", model.as_uri()), BundleFile("asset score", driver.as_uri())]
    first = build_bundle(files, tmp_path / "bundles")
    second = build_bundle(files, tmp_path / "bundles")
    assert first == second
    assert sorted(p.name for p in first.iterdir()) == ["model.json", "score.py"]
    model.write_text('{"changed": true}')
    assert build_bundle(files, tmp_path / "bundles") != first
    leftovers = [p for p in (tmp_path / "bundles").iterdir() if p.name.startswith(".staging")]
    assert leftovers == []


def test_build_errors_name_the_file(tmp_path: Path) -> None:
    files = [BundleFile("model churn (id m-1)", (tmp_path / "gone.pkl").as_uri())]
    with pytest.raises(BundleError, match=r"model churn \(id m-1\): .*gone\.pkl: no such file"):
        build_bundle(files, tmp_path / "bundles")


def test_two_files_with_one_name_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "model.pkl").write_bytes(b"1")
    (tmp_path / "b" / "model.pkl").write_bytes(b"2")
    files = [
        BundleFile("model a", (tmp_path / "a" / "model.pkl").as_uri()),
        BundleFile("model b", (tmp_path / "b" / "model.pkl").as_uri()),
    ]
    with pytest.raises(BundleError, match=r"also named 'model\.pkl'"):
        build_bundle(files, tmp_path / "bundles")


# --- hostile archives and downloads (#14 classes 3, 4, 11) ---------------------------------


def _zip_of(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def _patched(data: bytes, local_offset: int, central_offset: int, value: bytes) -> bytes:
    """The zip with ``value`` written at the same field of its local and central headers."""
    raw = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", local_offset), (b"PK\x01\x02", central_offset)):
        at = raw.find(signature) + offset
        raw[at : at + len(value)] = value
    return bytes(raw)


def _bad_crc() -> bytes:
    raw = bytearray(_zip_of([("m.txt", b"hello world " * 10)]))
    raw[raw.find(b"PK\x01\x02") + 16] ^= 0xFF  # the central directory's CRC-32
    raw[raw.find(b"PK\x03\x04") + 14] ^= 0xFF  # and the local header's
    return bytes(raw)


@pytest.mark.parametrize(
    ("archive", "rule"),
    [
        (_zip_of([("a", b"x"), ("a/b", b"y")]), "clashes with another entry"),
        (_zip_of([("a/b", b"y"), ("a", b"x")]), "clashes with another entry"),
        (_bad_crc(), "archive is damaged"),
        (_patched(_zip_of([("m.txt", b"hi")]), 8, 10, (99).to_bytes(2, "little")), "method 99"),
        (_patched(_zip_of([("m.txt", b"hi")]), 6, 8, b"\x01"), "is encrypted"),
    ],
    ids=["file-then-dir", "dir-then-file", "bad-crc", "unsupported-method", "encrypted"],
)
def test_a_broken_zip_is_a_bundle_error_naming_the_problem(
    tmp_path: Path, archive: bytes, rule: str
) -> None:
    path = tmp_path / "model.zip"
    path.write_bytes(archive)
    (tmp_path / "out").mkdir()
    with pytest.raises(BundleError, match=rule) as refused:
        unpack(path, tmp_path / "out", label="model m")
    assert str(tmp_path) not in str(refused.value)  # no internal path


def test_a_tar_with_a_file_and_a_directory_of_one_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.tar"
    with tarfile.open(path, "w") as archive:
        for name, kind in (("a", tarfile.REGTYPE), ("a/b", tarfile.REGTYPE)):
            info = tarfile.TarInfo(name)
            info.type = kind
            info.size = 1
            archive.addfile(info, io.BytesIO(b"x"))
    (tmp_path / "out").mkdir()
    with pytest.raises(BundleError, match="clashes"):
        unpack(path, tmp_path / "out", label="model m")


def test_a_tar_over_the_entry_limit_stops_at_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundles, "MAX_ARCHIVE_ENTRIES", 50)
    path = tmp_path / "many.tar"
    with tarfile.open(path, "w") as archive:
        for index in range(5000):
            info = tarfile.TarInfo(f"f{index}")
            archive.addfile(info, io.BytesIO(b""))
    read: list[int] = []
    original = tarfile.TarFile.next

    def counting(self: tarfile.TarFile) -> tarfile.TarInfo | None:
        read.append(1)
        return original(self)

    monkeypatch.setattr(tarfile.TarFile, "next", counting)
    (tmp_path / "out").mkdir()
    with pytest.raises(BundleError, match="over 50"):
        unpack(path, tmp_path / "out", label="model m")
    assert len(read) < 100  # the other 4,900 entries were never parsed


class _LyingHandler(QuietHandler):
    """Announces more bytes than it sends, or trickles them slowly."""

    def do_GET(self) -> None:
        self.send_response(200)
        if self.path == "/short":
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"only a fragment")
            self.wfile.flush()
            self.close_connection = True
            return
        if self.path == "/trickle":
            self.end_headers()  # no length, a byte at a time, for longer than any test
            try:
                for _ in range(600):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass
            return
        self.end_headers()  # /slow: no length, one chunk per read, forever
        try:
            while True:
                self.wfile.write(b"x" * (1024 * 1024))
                self.wfile.flush()
        except OSError:
            return


@pytest.fixture
def lying_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LyingHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_download_shorter_than_its_content_length_is_refused(
    tmp_path: Path, lying_server: str
) -> None:
    with pytest.raises(BundleError, match="ended"):
        fetch(f"{lying_server}/short", tmp_path / "model.pkl")


def test_a_download_must_finish_within_its_deadline(tmp_path: Path, lying_server: str) -> None:
    with pytest.raises(BundleError, match="did not finish in time"):
        fetch(f"{lying_server}/slow", tmp_path / "model.pkl", deadline_seconds=0.0)


def test_a_trickling_download_still_meets_its_deadline(tmp_path: Path, lying_server: str) -> None:
    # Each receive brings a byte, well inside the per-receive timeout; only the overall
    # deadline stops it (a read of 1 MiB would wait for the whole MiB, an hour here).
    with pytest.raises(BundleError, match="did not finish in time"):
        fetch(f"{lying_server}/trickle", tmp_path / "model.pkl", deadline_seconds=0.3)


@pytest.mark.parametrize(
    "url", ["http://[::1/x.json", "http://\u2603.example/x.json", "file:///tmp/%00.json"]
)
def test_a_url_that_cannot_be_fetched_is_a_bundle_error(tmp_path: Path, url: str) -> None:
    with pytest.raises(BundleError, match=r"URL|host"):
        fetch(url, tmp_path / "model.pkl")


def test_an_archive_entry_the_file_system_cannot_hold_is_a_bundle_error(tmp_path: Path) -> None:
    path = tmp_path / "long.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("n" * 300 + ".txt", "x")
    (tmp_path / "out").mkdir()
    with pytest.raises(BundleError, match="could not be written") as refused:
        unpack(path, tmp_path / "out", label="model m")
    assert str(tmp_path) not in str(refused.value)


@pytest.mark.parametrize("url", ["file:///tmp/a\x00b", "http://host/a\nb"])
def test_a_url_with_a_control_character_is_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(BundleError, match="control character"):
        fetch(url, tmp_path / "model.pkl")


# --- file:// only under the allowed roots (#14 class 10) -------------------------------------


def test_file_urls_outside_the_roots_are_refused(tmp_path: Path) -> None:
    allowed = tmp_path / "project"
    allowed.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("not for bundles")
    (allowed / "link.txt").symlink_to(secret)
    for url in (secret.as_uri(), (allowed / "link.txt").as_uri()):
        with pytest.raises(BundleError, match="outside the directories the emulator may read"):
            fetch(url, tmp_path / "out", file_roots=(allowed,))
    with pytest.raises(BundleError, match="another host"):
        fetch("file://fileserver/share/model.pkl", tmp_path / "out", file_roots=(Path("/"),))


def test_a_file_url_under_a_root_is_read_and_keeps_its_mode(tmp_path: Path) -> None:
    allowed = tmp_path / "project"
    allowed.mkdir()
    private = allowed / "model.pkl"
    private.write_bytes(b"weights")
    private.chmod(0o600)
    fetch(private.as_uri(), tmp_path / "copy", file_roots=(allowed.resolve(),))
    assert (tmp_path / "copy").read_bytes() == b"weights"
    assert (tmp_path / "copy").stat().st_mode & 0o777 == 0o600


# --- disk: one limit per image, leftovers reclaimed (#14 class 11) ---------------------------


def test_the_size_limit_holds_for_the_whole_image_not_each_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundles, "MAX_BUNDLE_BYTES", 3000)
    files = []
    for index in range(3):  # each well under the per-archive limit, together over
        archive = tmp_path / f"part{index}.zip"
        archive.write_bytes(_zip_of([(f"p{index}.bin", b"x" * 1000)]))
        files.append(BundleFile(f"model m{index}", archive.as_uri(), unpack=True))
    with pytest.raises(BundleError, match="together pass the 0 MiB limit of one image"):
        build_bundle(files, tmp_path / "bundles")
    assert not any((tmp_path / "bundles").iterdir())  # the staging directory went too


def test_garbage_collection_keeps_only_bundles_in_use(tmp_path: Path) -> None:
    root = tmp_path / "bundles"
    used, unused, leftover = root / "a", root / "b", root / ".staging-x1"
    for directory in (used, unused, leftover):
        (directory / "sub").mkdir(parents=True)
        (directory / "sub" / "f").write_text("x")
    removed = bundles.collect_garbage(root, [used])
    assert sorted(p.name for p in removed) == [".staging-x1", "b"]
    assert [p.name for p in root.iterdir()] == ["a"]
