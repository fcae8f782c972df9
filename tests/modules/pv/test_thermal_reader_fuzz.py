"""Whatever bytes arrive, the readers answer with a frame or a ReaderError naming the file, never a crash."""

from __future__ import annotations

import functools
import io

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from gongzhi.modules.pv.io.flir import ObjectParameters
from gongzhi.modules.pv.io.reader_errors import ReaderError
from gongzhi.modules.pv.io.thermal import read_frame

from .thermal_fixtures import dji_iirp_block, dji_rjpeg, flir_jpeg, gps_exif

FIELD = np.add.outer(np.linspace(20, 30, 24), np.linspace(0, 40, 32))


@functools.cache
def samples() -> dict[str, bytes]:
    tiff = io.BytesIO()
    Image.fromarray(FIELD.astype(np.float32)).save(tiff, format="TIFF")
    counts = np.full((512, 640), 19000, np.uint16)
    return {
        "flir": flir_jpeg(FIELD, ObjectParameters(), chunk=800),
        "flir-png": flir_jpeg(FIELD, ObjectParameters(), png=True),
        "dji": dji_rjpeg(counts, dji_iirp_block(), gps_exif(model="M3T")),
        "tiff": tiff.getvalue(),
    }


def _read(data: bytes) -> None:
    message = None
    try:
        frame = read_frame(data, "fuzz.bin")
    except ReaderError as exc:
        message = str(exc)
    if message is None:
        assert frame.temperature_c.shape == (frame.meta.height_px, frame.meta.width_px)
    else:
        assert message.startswith("fuzz.bin: ")


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(["flir", "flir-png", "dji", "tiff"]), cut=st.floats(0, 1, exclude_max=True))
def test_a_file_cut_anywhere_is_a_reader_error_or_a_frame(kind: str, cut: float) -> None:
    data = samples()[kind]
    _read(data[: int(len(data) * cut)])


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(["flir", "flir-png", "dji", "tiff"]),
    where=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=8),
    value=st.integers(0, 255),
)
@example(kind="tiff", where=[0.01953125], value=2)  # a damaged tag 262 that Pillow raised KeyError on
def test_corrupted_bytes_are_a_reader_error_or_a_frame(kind: str, where: list[float], value: int) -> None:
    data = bytearray(samples()[kind])
    for w in where:
        data[int(len(data) * w)] = value
    _read(bytes(data))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_are_a_reader_error(data: bytes) -> None:
    _read(data)
