"""JPEG marker segments (ITU-T T.81, annex B): the APPn payloads that carry radiometric data and metadata.

Only the segments before the first scan (SOS) are read: FLIR and DJI keep their thermal data there. The
entropy-coded preview after SOS is not decoded, but it must be closed by EOI, or the file was cut short.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from gongzhi.modules.pv.io.reader_errors import TruncatedFileError, UnknownFormatError

SOI = b"\xff\xd8"
EOI = b"\xff\xd9"
SOS = 0xDA
APP1, APP3, APP4, APP5 = 0xE1, 0xE3, 0xE4, 0xE5
_STANDALONE = {0x01, *range(0xD0, 0xD8)}
EXIF_ID = b"Exif\x00\x00"
XMP_ID = b"http://ns.adobe.com/xap/1.0/\x00"


@dataclass(frozen=True, slots=True)
class Segment:
    """One marker segment: ``marker`` (0xE1 for APP1 …) and its payload without the length field."""

    marker: int
    payload: bytes


def jpeg_segments(data: bytes, source: str) -> list[Segment]:
    """Every marker segment of ``data`` up to the first scan, in file order.

    Raises
    ------
    UnknownFormatError
        ``data`` does not start with the JPEG SOI marker.
    TruncatedFileError
        A segment runs past the end of the file, the file has no scan, or it does not end with EOI.
    """
    if not data.startswith(SOI):
        raise UnknownFormatError(source, "not a JPEG (no SOI marker at the start)")
    segments: list[Segment] = []
    pos = 2
    while True:
        if pos + 4 > len(data):
            raise TruncatedFileError(source, f"JPEG ends at byte {len(data)} inside the header segments")
        if data[pos] != 0xFF:
            raise TruncatedFileError(source, f"JPEG marker expected at byte {pos}, found 0x{data[pos]:02x}")
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        (length,) = struct.unpack_from(">H", data, pos + 2)
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise TruncatedFileError(
                source, f"JPEG segment 0x{marker:02X} at byte {pos} needs {length} bytes, the file ends first"
            )
        if marker == SOS:
            scan = end
            break
        segments.append(Segment(marker, data[pos + 4 : end]))
        pos = end
    # 0xFF in entropy-coded data is stuffed (FF 00), so the first FF D9 after the scan ends the image;
    # DJI appends a second (MPF) image after it.
    if data.find(EOI, scan) < 0:
        raise TruncatedFileError(source, "JPEG has no end-of-image marker: the file was cut short")
    return segments


def segment_spans(data: bytes) -> list[tuple[int, int, int]]:
    """Where the marker segments before the first scan lie in ``data``: (marker, offset of its 0xFF, end),
    for rewriting a file in place (:func:`jpeg_segments` checks a file and gives the payloads). A file that
    is not a JPEG gives none."""
    if not data.startswith(SOI):
        return []
    at, out = 2, []
    while at + 4 <= len(data) and data[at] == 0xFF and data[at + 1] != SOS:
        end = at + 2 + int.from_bytes(data[at + 2 : at + 4], "big")
        out.append((data[at + 1], at, end))
        at = end
    return out


def app_payloads(segments: list[Segment], marker: int, prefix: bytes = b"") -> list[bytes]:
    """Payloads of the ``marker`` segments that start with ``prefix``, in file order."""
    return [s.payload for s in segments if s.marker == marker and s.payload.startswith(prefix)]
