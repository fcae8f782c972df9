"""Content-addressed store for evidence files (photos, thermal frames, documents, clips, GeoJSON).

Every upload is checked before it is kept: size, real type sniffed from its bytes, agreement with the
declared MIME type, and completeness (a photo cut off by a dropped connection is refused, not stored).
Files live at ``root/ab/cd/<sha256>`` and are written atomically, so the same bytes are stored once.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import stat
import struct
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Literal

from PIL import Image, UnidentifiedImageError

MAX_BYTES = 20 * 1024 * 1024

RejectReason = Literal["too_large", "empty", "unsupported_type", "type_mismatch", "truncated", "corrupt"]

JPEG, PNG, TIFF, PDF, MP4 = "image/jpeg", "image/png", "image/tiff", "application/pdf", "video/mp4"
JSON, GEOJSON, TEXT = "application/json", "application/geo+json", "text/plain"
SUPPORTED_TYPES = frozenset({JPEG, PNG, TIFF, PDF, MP4, JSON, GEOJSON, TEXT})

_ALIASES = {
    "image/jpg": JPEG,
    "image/pjpeg": JPEG,
    "text/json": JSON,
    "application/vnd.geo+json": GEOJSON,
}
_MAGIC = (
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
    (b"%PDF-", PDF),
)
_PILLOW_FORMATS = {JPEG: "JPEG", PNG: "PNG", TIFF: "TIFF"}
# These share the ISO base media "ftyp" box with MP4 but are still images or QuickTime movies.
_NOT_MP4_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"mif1", b"msf1", b"avif", b"qt  "})
_GEOJSON_TYPES = frozenset(
    {
        "Feature",
        "FeatureCollection",
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
        "GeometryCollection",
    }
)
_TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class FileRejected(ValueError):
    """An upload the store refuses; ``reason`` is a stable code for the API and the console."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.reason: RejectReason = reason


@dataclass(frozen=True)
class StoredFile:
    """A kept file: its digest, size [bytes], checked MIME type, path relative to the store root."""

    sha256: str
    size: int
    content_type: str
    path: Path
    filename: str | None = None


def normalize_type(declared: str) -> str:
    """Return the bare lower-case MIME type, without parameters, with common aliases resolved."""
    bare = declared.split(";", 1)[0].strip().lower()
    return _ALIASES.get(bare, bare)


def sniff(data: bytes) -> str | None:
    """Return the MIME type the bytes really are, or ``None`` when they are none of the supported types.

    Text that opens with ``{`` or ``[`` is reported as JSON before it is parsed, so that a broken JSON
    upload is refused as broken rather than as mislabelled.
    """
    for magic, content_type in _MAGIC:
        if data.startswith(magic):
            return content_type
    if data[4:8] == b"ftyp" and data[8:12] not in _NOT_MP4_BRANDS:
        return MP4
    text = _as_text(data)
    if text is None:
        return None
    return JSON if text.lstrip()[:1] in ("{", "[") else TEXT


def _as_text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    return None if _TEXT_CONTROLS.search(text) else text


def _checked_type(declared: str, sniffed: str | None) -> str:
    if declared not in SUPPORTED_TYPES:
        raise FileRejected("unsupported_type", f"files of type {declared!r} are not accepted")
    if sniffed is None:
        raise FileRejected(
            "unsupported_type", f"the content is not a supported file type (declared {declared})"
        )
    json_family = sniffed == JSON and declared in (GEOJSON, TEXT)
    if declared != sniffed and not json_family:
        raise FileRejected("type_mismatch", f"declared {declared} but the content is {sniffed}")
    return declared


def _check_intact(data: bytes, content_type: str) -> None:
    # a JPEG cut off has no end-of-image marker; one cut inside its picture after an earlier marker (an EXIF
    # thumbnail's) fails to decode below. Data after the last marker is not a cut: DJI's R-JPEGs carry some
    if content_type == JPEG and b"\xff\xd9" not in data:
        raise FileRejected("truncated", "the JPEG has no end-of-image marker; the upload was cut off")
    if content_type == PNG and b"IEND" not in data:
        raise FileRejected("truncated", "the PNG has no IEND chunk; the upload was cut off")
    if content_type == PDF and b"%%EOF" not in data[-1024:]:
        raise FileRejected("truncated", "the PDF has no %%EOF trailer; the upload was cut off")
    if content_type in _PILLOW_FORMATS:
        _decode_image(data, _PILLOW_FORMATS[content_type])
    elif content_type == MP4:
        _check_mp4_boxes(data)
    elif content_type in (JSON, GEOJSON):
        _check_json(data, geojson=content_type == GEOJSON)


def _decode_image(data: bytes, expected_format: str) -> None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            found = image.format
            image.load()
    except Image.DecompressionBombError as exc:
        raise FileRejected("too_large", f"the image has too many pixels: {exc}") from exc
    except Exception as exc:  # a hostile file can make the decoder raise almost anything
        reason: RejectReason = "truncated" if "truncated" in str(exc) else "corrupt"
        # Pillow names the stream it could not identify by its repr (<_io.BytesIO object at 0x…>)
        said = "no decoder recognises it" if isinstance(exc, UnidentifiedImageError) else str(exc)
        raise FileRejected(reason, f"the image does not decode: {said}") from exc
    # MPO (CIPA DC-007: a JPEG with more pictures after it, as DJI's R-JPEGs and many cameras write) is a JPEG
    if found != expected_format and not (expected_format == "JPEG" and found == "MPO"):
        raise FileRejected("corrupt", f"expected a {expected_format} image, the decoder found {found}")


def _check_mp4_boxes(data: bytes) -> None:
    offset, kinds = 0, set[bytes]()
    while offset < len(data):
        size, kind = _mp4_box(data, offset)
        kinds.add(kind)
        offset += size
    if offset > len(data) or b"moov" not in kinds:
        raise FileRejected(
            "truncated", "the MP4 ends inside a box or lacks its moov index; the upload was cut off"
        )


def _mp4_box(data: bytes, offset: int) -> tuple[int, bytes]:
    header = 16 if data[offset : offset + 4] == b"\x00\x00\x00\x01" else 8
    if offset + header > len(data):
        raise FileRejected("truncated", "the MP4 ends inside a box header; the upload was cut off")
    size, kind = struct.unpack_from(">I4s", data, offset)
    if header == 16:
        (size,) = struct.unpack_from(">Q", data, offset + 8)
    elif size == 0:  # the last box may run to the end of the file
        size = len(data) - offset
    if size < header:
        raise FileRejected("corrupt", f"the MP4 has a malformed box at byte {offset}")
    return size, kind


def _check_json(data: bytes, *, geojson: bool) -> None:
    text = data.decode("utf-8-sig")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        cut_off = exc.pos >= len(text.rstrip())
        reason: RejectReason = "truncated" if cut_off else "corrupt"
        raise FileRejected(reason, f"the JSON does not parse: {exc}") from exc
    except (ValueError, RecursionError) as exc:  # over-long integers, absurd nesting
        raise FileRejected("corrupt", f"the JSON does not parse: {exc}") from exc
    if geojson and not (isinstance(document, dict) and document.get("type") in _GEOJSON_TYPES):
        raise FileRejected("type_mismatch", "declared GeoJSON but the JSON is not a GeoJSON object")


NAME_LIMIT = 200
"""The longest file name kept (the name columns are ``VARCHAR(200)``)."""


def display_name(filename: str | None, limit: int = NAME_LIMIT) -> str | None:
    """An uploaded file's name as it is kept and shown: its last component, whichever separator the
    client's system used (no path climbs out of anything); without control or format characters (a NUL,
    which PostgreSQL cannot store, or a right-to-left override, behind which ``gpj.exe`` shows as
    ``exe.jpg``); at most ``limit`` characters, the middle of a longer one cut to "…" so that its start and
    its extension stay.
    ``None`` when nothing is left."""
    if not filename:
        return None
    name = PureWindowsPath(filename).name
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf")).strip()
    if len(name) > limit:
        suffix = PurePosixPath(name).suffix
        suffix = suffix if len(suffix) <= limit // 4 else ""
        name = name[: limit - len(suffix) - 1] + "…" + suffix
    return name or None


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True, slots=True)
class StaleFile:
    """A file of the store not written for a while (:meth:`FileStore.stale`)."""

    digest: str | None  # None: a temporary file of a write that never finished
    path: Path
    size: int
    mtime: float


@dataclass(frozen=True)
class FileStore:
    """Evidence files kept under ``root``, addressed by the SHA-256 of their bytes.

    Parameters
    ----------
    root
        Directory holding the store; created on first write.
    max_bytes
        Largest accepted upload [bytes].
    """

    root: Path
    max_bytes: int = MAX_BYTES

    def put(self, data: bytes, declared_type: str, filename: str | None = None) -> StoredFile:
        """Check ``data`` against ``declared_type`` and keep it; storing the same bytes again is a no-op.

        Raises ``FileRejected`` when the upload is empty, too large, of an unsupported or mismatched type,
        truncated or corrupt.
        """
        self._check_size(data)
        content_type = _checked_type(normalize_type(declared_type), sniff(data))
        _check_intact(data, content_type)
        digest = hashlib.sha256(data).hexdigest()
        path = self.path_for(digest)
        try:
            os.utime(path)  # stored before: now it is fresh again, which keeps it from :meth:`stale`
        except FileNotFoundError:
            _write_atomically(path, data)
        except OSError:
            pass  # stored, in a store this process may read but not touch
        relative = path.relative_to(self.root)
        return StoredFile(digest, len(data), content_type, relative, display_name(filename))

    def open(self, sha256: str) -> bytes:
        """Return the bytes stored under ``sha256``; raises ``FileNotFoundError`` when absent."""
        return self.path_for(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        """Return whether bytes with this digest are stored."""
        return self.path_for(sha256).is_file()

    def path_for(self, sha256: str) -> Path:
        """Return where the bytes with this digest live; raises ``ValueError`` unless it is 64 hex digits."""
        digest = sha256.lower()
        if not _SHA256.fullmatch(digest):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / digest[:2] / digest[2:4] / digest

    def stale(self, older_than_s: float, now: float | None = None) -> Iterator[StaleFile]:
        """Files last written more than ``older_than_s`` seconds before ``now`` (default: the present): the
        stored files, with their digest, and the temporary files of writes that never finished (digest
        ``None``). Storing bytes again refreshes their file's time (:meth:`put`), so a file an upload in
        progress has just stored is not among them."""
        cutoff = (time.time() if now is None else now) - older_than_s
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.glob("[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]")):
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                digest = path.name if _SHA256.fullmatch(path.name) else None
                if digest is None and not (path.name.startswith(".") and path.name.endswith(".tmp")):
                    continue  # not the store's
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue  # removed meanwhile
                if st.st_mtime < cutoff and stat.S_ISREG(st.st_mode):
                    yield StaleFile(digest, path, st.st_size, st.st_mtime)

    def remove(self, stale: StaleFile) -> bool:
        """Delete a file :meth:`stale` gave, unless it was written again since; whether it was deleted.
        Folders left empty go with it."""
        try:
            if stale.path.stat().st_mtime != stale.mtime:
                return False  # stored again meanwhile (:meth:`put`)
            stale.path.unlink()
        except FileNotFoundError:
            return False
        for folder in (stale.path.parent, stale.path.parent.parent):
            with contextlib.suppress(OSError):  # not empty, or gone
                folder.rmdir()
        return True

    def _check_size(self, data: bytes) -> None:
        if not data:
            raise FileRejected("empty", "the file is empty")
        if len(data) > self.max_bytes:
            raise FileRejected(
                "too_large", f"the file is {len(data)} bytes; at most {self.max_bytes} are accepted"
            )
