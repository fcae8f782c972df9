"""Text of a ReportLab PDF read back through its fonts' ToUnicode maps, as a viewer copies it.

The project has no PDF reader among its dependencies; ReportLab writes a simple, regular file (one content
stream per page, fonts named ``/F…`` with a ToUnicode CMap each, strings shown with ``Tj``), which is all this
reads.
"""

from __future__ import annotations

import base64
import re
import zlib

_OBJ = re.compile(rb"(\d+) 0 obj\s*(.*?)\s*endobj", re.S)
_STREAM = re.compile(rb"^<<(.*?)>>\s*stream\r?\n(.*?)(?:\r?\n)?endstream$", re.S)
_BFCHAR = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>")
_BFRANGE = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>")
_SHOW = re.compile(rb"/([\w+.-]+)\s+[\d.]+\s+Tf|\(((?:\\.|[^\\)])*)\)\s*Tj", re.S)
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)", re.S)
_NAMED = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _objects(pdf: bytes) -> dict[int, bytes]:
    return {int(m.group(1)): m.group(2) for m in _OBJ.finditer(pdf)}


def _stream(obj: bytes) -> tuple[bytes, bytes] | None:
    """(dictionary, decoded data) of a stream object, or None."""
    m = _STREAM.match(obj)
    if m is None:
        return None
    head, data = m.group(1), m.group(2)
    if b"ASCII85Decode" in head:
        data = base64.a85decode(data.strip(), adobe=True)
    if b"FlateDecode" in head:
        data = zlib.decompress(data)
    return head, data


def _cmap(data: bytes) -> dict[int, str]:
    out: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
        for code, uni in _BFCHAR.findall(block):
            out[int(code, 16)] = bytes.fromhex(uni.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", data, re.S):
        for lo, hi, uni in _BFRANGE.findall(block):
            first = ord(bytes.fromhex(uni.decode()).decode("utf-16-be"))
            for k in range(int(lo, 16), int(hi, 16) + 1):
                out[k] = chr(first + k - int(lo, 16))
    return out


def _literal(raw: bytes) -> bytes:
    def one(m: re.Match[bytes]) -> bytes:
        e = m.group(1)
        return bytes([int(e, 8) & 0xFF]) if e[:1].isdigit() else _NAMED.get(e, e)

    return _ESCAPE.sub(one, raw)


def fonts(pdf: bytes) -> dict[str, dict[int, str]]:
    """Each font resource name (``F2+0``) with a ToUnicode map → that map."""
    objs = _objects(pdf)
    out: dict[str, dict[int, str]] = {}
    for obj in objs.values():
        name = re.search(rb"/Name /([\w+.-]+)", obj)
        ref = re.search(rb"/ToUnicode (\d+) 0 R", obj)
        if b"/Type /Font" in obj and name and ref:
            stream = _stream(objs[int(ref.group(1))])
            if stream is not None:
                out[name.group(1).decode()] = _cmap(stream[1])
    return out


def text(pdf: bytes) -> str:
    """Every string the pages show, in order, through its font's ToUnicode map (others as Latin-1)."""
    maps = fonts(pdf)
    out: list[str] = []
    for obj in _objects(pdf).values():
        stream = _stream(obj)
        if stream is None or b"Length1" in stream[0]:  # not a font file
            continue
        font: dict[int, str] | None = None
        for m in _SHOW.finditer(stream[1]):
            if m.group(1) is not None:
                font = maps.get(m.group(1).decode())
                continue
            raw = _literal(m.group(2))
            out.append("".join(font.get(b, "\ufffd") for b in raw) if font else raw.decode("latin-1"))
    return "".join(out)
