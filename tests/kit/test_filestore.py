from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import time
from pathlib import Path

import pytest
from PIL import Image

from gongzhi.kit.filestore import MAX_BYTES, NAME_LIMIT, FileRejected, FileStore, display_name, sniff

PDF = (
    b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
    b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n"
    b"trailer <</Root 1 0 R>>\n%%EOF\n"
)


def image_bytes(fmt: str, size: tuple[int, int] = (32, 24)) -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(buffer, format=fmt)
    return buffer.getvalue()


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


MP4 = (
    box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41")
    + box(b"moov", box(b"mvhd", bytes(100)))
    + box(b"mdat", bytes(64))
)


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "evidence")


def reason_of(store: FileStore, data: bytes, declared: str) -> str:
    with pytest.raises(FileRejected) as caught:
        store.put(data, declared)
    return caught.value.reason


@pytest.mark.parametrize(
    ("data", "declared"),
    [
        (image_bytes("JPEG"), "image/jpeg"),
        (image_bytes("PNG"), "image/png"),
        (image_bytes("TIFF"), "image/tiff"),
        (PDF, "application/pdf"),
        (MP4, "video/mp4"),
        (b'{"readings": [1, 2, 3]}', "application/json"),
        (b'{"type": "Point", "coordinates": [121.47, 31.23]}', "application/geo+json"),
        ("路灯不亮，已报修。\n".encode(), "text/plain; charset=utf-8"),
    ],
)
def test_it_keeps_each_supported_type_at_its_content_address(
    store: FileStore, data: bytes, declared: str
) -> None:
    stored = store.put(data, declared, "photo.bin")
    digest = hashlib.sha256(data).hexdigest()
    assert stored.sha256 == digest
    assert stored.size == len(data)
    assert stored.content_type == declared.split(";")[0]
    assert stored.path == Path(digest[:2], digest[2:4], digest)
    assert store.open(digest) == data
    assert store.exists(digest)


def test_it_accepts_common_aliases_of_a_declared_type(store: FileStore) -> None:
    assert store.put(image_bytes("JPEG"), "IMAGE/JPG").content_type == "image/jpeg"


def test_it_keeps_a_multi_picture_jpeg_as_a_jpeg(store: FileStore) -> None:
    # MPO: a JPEG with a second picture after it, as DJI's radiometric R-JPEGs are
    buf = io.BytesIO()
    first, second = Image.new("RGB", (32, 24), "red"), Image.new("RGB", (16, 12), "blue")
    first.save(buf, format="MPO", save_all=True, append_images=[second])
    with Image.open(io.BytesIO(buf.getvalue())) as opened:
        assert opened.format == "MPO"
    assert store.put(buf.getvalue(), "image/jpeg", "DJI_0001_T.JPG").content_type == "image/jpeg"


def test_a_jpeg_with_data_after_its_end_is_kept_and_one_cut_inside_its_picture_is_not(
    store: FileStore,
) -> None:
    buf = io.BytesIO()
    Image.effect_noise((256, 192), 60).convert("RGB").save(buf, format="JPEG", quality=90)
    whole = buf.getvalue()
    assert store.put(whole + b"\x17DJI trailing block" * 50, "image/jpeg").content_type == "image/jpeg"
    # cut in its picture, with an end-of-image marker earlier on (a thumbnail's, here in a comment segment)
    thumb = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(thumb, format="JPEG")
    inner = thumb.getvalue()
    with_thumb = whole[:2] + b"\xff\xfe" + struct.pack(">H", len(inner) + 2) + inner + whole[2:]
    assert with_thumb.count(b"\xff\xd9") == 2
    assert reason_of(store, with_thumb[: len(with_thumb) * 2 // 3], "image/jpeg") == "truncated"


def test_it_accepts_geojson_declared_as_plain_json(store: FileStore) -> None:
    stored = store.put(b'{"type": "FeatureCollection", "features": []}', "application/json")
    assert stored.content_type == "application/json"


def test_storing_the_same_bytes_twice_keeps_one_copy(store: FileStore) -> None:
    data = image_bytes("PNG")
    first = store.put(data, "image/png", "a.png")
    second = store.put(data, "image/png", "b.png")
    assert (first.sha256, first.path) == (second.sha256, second.path)
    assert [p for p in store.root.rglob("*") if p.is_file()] == [store.root / first.path]


def test_it_keeps_only_the_last_component_of_a_client_filename(store: FileStore) -> None:
    assert store.put(PDF, "application/pdf", "../../etc/passwd").filename == "passwd"
    assert store.put(PDF, "application/pdf", "C:\\Users\\wang\\report.pdf").filename == "report.pdf"


def test_a_write_leaves_no_temporary_files(store: FileStore) -> None:
    store.put(image_bytes("JPEG"), "image/jpeg")
    store.put(PDF, "application/pdf")
    names = [p.name for p in store.root.rglob("*") if p.is_file()]
    assert len(names) == 2
    assert not [n for n in names if n.startswith(".") or n.endswith(".tmp")]


def test_it_refuses_an_empty_file(store: FileStore) -> None:
    assert reason_of(store, b"", "text/plain") == "empty"


def test_it_refuses_a_file_over_the_size_limit(tmp_path: Path) -> None:
    small = FileStore(tmp_path, max_bytes=100)
    assert reason_of(small, image_bytes("PNG", (64, 64)), "image/png") == "too_large"
    assert FileStore(tmp_path).max_bytes == MAX_BYTES == 20 * 1024 * 1024


def test_it_refuses_an_image_with_too_many_pixels(store: FileStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    assert reason_of(store, image_bytes("PNG", (64, 64)), "image/png") == "too_large"


def test_it_refuses_a_jpeg_cut_in_half(store: FileStore) -> None:
    data = image_bytes("JPEG", (200, 150))
    assert reason_of(store, data[: len(data) // 2], "image/jpeg") == "truncated"


def test_it_refuses_a_png_cut_short(store: FileStore) -> None:
    data = image_bytes("PNG", (200, 150))
    assert reason_of(store, data[: len(data) // 2], "image/png") == "truncated"


def test_it_refuses_a_tiff_cut_short(store: FileStore) -> None:
    data = image_bytes("TIFF", (200, 150))
    assert reason_of(store, data[: len(data) // 2], "image/tiff") in {"truncated", "corrupt"}


def test_it_refuses_a_pdf_without_its_trailer(store: FileStore) -> None:
    assert reason_of(store, PDF[:-8], "application/pdf") == "truncated"


def test_it_refuses_an_mp4_cut_short(store: FileStore) -> None:
    assert reason_of(store, MP4[:-10], "video/mp4") == "truncated"
    assert reason_of(store, MP4[:40], "video/mp4") == "truncated"


def test_it_refuses_an_mp4_without_its_moov_index(store: FileStore) -> None:
    no_moov = box(b"ftyp", b"isom\x00\x00\x02\x00isom") + box(b"mdat", bytes(64))
    assert reason_of(store, no_moov, "video/mp4") == "truncated"


def test_it_refuses_json_cut_short_as_truncated_and_broken_json_as_corrupt(store: FileStore) -> None:
    document = json.dumps({"type": "FeatureCollection", "features": []}).encode()
    assert reason_of(store, document[:-5], "application/geo+json") == "truncated"
    assert reason_of(store, b'{"a": 1,, "b": 2}', "application/json") == "corrupt"


def test_it_refuses_a_png_labelled_as_jpeg(store: FileStore) -> None:
    assert reason_of(store, image_bytes("PNG"), "image/jpeg") == "type_mismatch"


def test_it_refuses_plain_json_labelled_as_geojson(store: FileStore) -> None:
    assert reason_of(store, b'{"readings": [1, 2]}', "application/geo+json") == "type_mismatch"


def test_it_refuses_text_labelled_as_json(store: FileStore) -> None:
    assert reason_of(store, b"just a note", "application/json") == "type_mismatch"


def test_it_refuses_a_declared_type_it_does_not_support(store: FileStore) -> None:
    assert reason_of(store, image_bytes("GIF"), "image/gif") == "unsupported_type"


def test_it_refuses_unrecognisable_content(store: FileStore) -> None:
    assert reason_of(store, b"\x00\x01\x02\xfe\xff binary", "text/plain") == "unsupported_type"


def test_it_does_not_mistake_a_heic_photo_for_an_mp4() -> None:
    assert sniff(box(b"ftyp", b"heic\x00\x00\x00\x00mif1heic")) is None


@pytest.mark.parametrize("digest", ["../../etc/passwd", "ab" * 31, "g" * 64, "a" * 64 + "\n", ""])
def test_it_refuses_anything_but_a_sha256_digest_as_an_address(store: FileStore, digest: str) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        store.path_for(digest)
    with pytest.raises(ValueError, match="SHA-256"):
        store.open(digest)
    with pytest.raises(ValueError, match="SHA-256"):
        store.exists(digest)


def test_it_reports_missing_bytes_as_absent(store: FileStore) -> None:
    digest = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(digest)
    with pytest.raises(FileNotFoundError):
        store.open(digest)


def test_rejections_are_value_errors_with_a_readable_message(store: FileStore) -> None:
    with pytest.raises(ValueError, match="declared image/jpeg but the content is image/png"):
        store.put(image_bytes("PNG"), "image/jpeg")


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("DJI_0001_R.JPG", "DJI_0001_R.JPG"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\巡检\\航测 0001.tif", "航测 0001.tif"),
        ("a\x00b.tif", "ab.tif"),
        ("\u202egpj.exe", "gpj.exe"),  # a right-to-left override would show it as "exe.jpg"
        ("  report.pdf \t", "report.pdf"),
        ("", None),
        ("/", None),
        ("\x00\x01", None),
    ],
)
def test_an_uploaded_name_is_kept_without_its_path_or_invisible_characters(
    given: str, kept: str | None
) -> None:
    assert display_name(given) == kept


def test_a_long_name_keeps_its_start_and_extension_within_the_limit() -> None:
    long = "巡检" * 300 + ".tif"
    kept = display_name(long)
    assert kept is not None and len(kept) == NAME_LIMIT
    assert kept.startswith("巡检巡检") and kept.endswith("….tif")
    assert display_name("x" * 300 + "." + "y" * 100) == "x" * (NAME_LIMIT - 1) + "…"  # no extension that long


def _age(path: Path, seconds: float) -> None:
    then = path.stat().st_mtime - seconds
    os.utime(path, (then, then))


def test_it_lists_the_files_not_written_for_a_while_and_storing_again_makes_one_fresh(
    store: FileStore,
) -> None:
    old = store.put(b"left by a refused upload\n", "text/plain")
    young = store.put(b"an upload in progress\n", "text/plain")
    again = store.put(b"old, stored again by a new upload\n", "text/plain")
    for stored in (old, again):
        _age(store.root / stored.path, 7200)
    unfinished = (store.root / old.path).parent / ".abc123.tmp"  # a write cut off before its rename
    unfinished.write_bytes(b"half")
    _age(unfinished, 7200)
    (store.root / old.path).parent.joinpath("notes.txt").write_text("not the store's")
    assert store.put(b"old, stored again by a new upload\n", "text/plain") == again
    stale = {f.path.name: f for f in store.stale(3600)}
    assert set(stale) == {old.sha256, ".abc123.tmp"}
    assert stale[old.sha256].digest == old.sha256 and stale[old.sha256].size == old.size
    assert stale[".abc123.tmp"].digest is None
    assert young.sha256 not in {f.path.name for f in store.stale(3600)}
    assert {f.path.name for f in store.stale(0, now=time.time() + 1)} >= {young.sha256, again.sha256}
    assert list(FileStore(store.root / "absent").stale(0)) == []


def test_it_removes_a_stale_file_unless_it_was_stored_again_and_drops_empty_folders(store: FileStore) -> None:
    gone, kept = store.put(b"orphan\n", "text/plain"), store.put(b"stored again meanwhile\n", "text/plain")
    for stored in (gone, kept):
        _age(store.root / stored.path, 7200)
    listed = {f.digest: f for f in store.stale(3600)}
    store.put(b"stored again meanwhile\n", "text/plain")  # after the listing: the file is fresh again
    assert store.remove(listed[gone.sha256]) is True
    assert not store.exists(gone.sha256) and not (store.root / gone.path).parent.exists()
    assert (
        store.remove(listed[kept.sha256]) is False and store.open(kept.sha256) == b"stored again meanwhile\n"
    )
    assert store.remove(listed[gone.sha256]) is False  # already gone
