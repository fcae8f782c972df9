"""DJI R-JPEG temperatures from ``dji-thermal-cli``, run as a program of its own.

DJI's function from detector counts to temperature is inside its Thermal SDK (``libdirp``, under DJI's
licence, never shipped here) and unpublished (``dji.py``). ``dji-thermal-cli`` (PyPI, AGPL-3.0 as gongzhi is)
is a pure-Python port of that SDK (v1.8) whose temperatures, by its documentation, are the SDK's; on the
samples in ``shared/data/thermal`` it gives the M30T's 11.9 … 23.1 °C and the H20T's 19.1 … 56.5 °C that the
data README gives as measured. It needs Python ≥ 3.12 and gongzhi runs on 3.11, so it is not imported: it
lives in an environment of its own (``make dji``, or ``python3.12 -m venv …`` and ``pip install
dji-thermal-cli==1.4.0``) and is run as a program, found by :data:`PROGRAM_ENV`, on ``PATH``, or as
:data:`BESIDE` (``make dji``'s, beside the environment gongzhi runs in). Without it a DJI R-JPEG is refused
with the reason and these steps.

The port turns each distinct raw count into a temperature on its own, from the camera's model and the
file's calibration segments and parameters (``tsdk._cnum.per_value``), so the frames of a flight, which share
those (:func:`camera_key`), share one table of 65,536 temperatures. :func:`prepare` converts, once per camera,
a copy of one frame whose raster holds every count, and that frame itself to check the table by: the table
is kept only when it gives that frame's temperatures to the bit (checked on the real M30T, M3T, M4T, H20T
and H30T samples, ``test_dji_thermal_cli.py``). Each frame is then its counts looked up in the table, about
5 ms of CPU a frame with the reading, against 80 ms for a conversion of its own (``bench/README.md``, "DJI
R-JPEG frames"). A file without a camera key is converted on its own in the same call, and the frames of
a camera whose table does not pass in a second call; their temperatures are kept by the file's SHA-256 as
float32 °C TIFF.

A frame with a valid laser-rangefinder reading (M30T, M4T, H20T, H30T) is converted at that distance,
which differs from frame to frame, so it shares no camera's table. The distance enters smoothly (the
atmosphere's transmission), so such frames are read linearly between tables made at the whole metres
either side of their distances (:func:`ranged_key`, :meth:`_Batch.add_ranged`), kept only when the frames
that check them (:func:`_checking`) read so are within :data:`RANGED_TOLERANCE_K` of their own conversions;
the H20T, which takes whole metres, is read from the table of the whole metre below, which its check gives
to the bit.

The tables and the converted temperatures are kept in :data:`CACHE_ENV` (default
``~/.cache/gongzhi/dji-thermal``); :func:`temperatures` converts (and makes the table for) a file not yet
served by either with a call of its own (1–2 s with its camera's table, about 10 s for an H20T).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
from PIL import Image

from gongzhi.modules.pv.io.reader_errors import ReaderError, TemperatureUnavailableError

PROGRAM_ENV = "GONGZHI_DJI_THERMAL_CLI"
"""Path of the ``dji-thermal-cli`` program; without it, the one on ``PATH``."""
BESIDE = Path(sys.prefix).parent / ".venv-dji" / "bin" / "dji-thermal-cli"
"""``make dji``'s program, which a checkout keeps beside its ``.venv``: taken when neither
:data:`PROGRAM_ENV` nor ``PATH`` names one."""
CACHE_ENV = "GONGZHI_DJI_CACHE"
"""Folder of the converted temperatures; default ``$XDG_CACHE_HOME/gongzhi/dji-thermal`` (``~/.cache``)."""
NO_DATA_C = -273.15
"""What the program writes where a pixel has no temperature; read as NaN."""
SETUP = (
    "install dji-thermal-cli (AGPL-3.0, Python ≥ 3.12) in an environment of its own, e.g. "
    "`python3.12 -m venv ~/.local/share/gongzhi/dji && ~/.local/share/gongzhi/dji/bin/pip install "
    "dji-thermal-cli==1.4.0` (or `make dji` in a checkout), and set "
    f"{PROGRAM_ENV} to its bin/dji-thermal-cli"
)
MISSING = (
    "DJI R-JPEG: its temperatures come from DJI's Thermal SDK, which gongzhi does not ship; to read DJI "
    f"flights, {SETUP}. Or convert the files to float32 °C TIFF first (DJI Thermal Analysis Tool) and read "
    "those"
)
_SKIPPED = re.compile(r"^\[skip, (?P<why>[^\]]*)\] (?P<path>.*)$")


class ConversionError(ReaderError):
    """``dji-thermal-cli`` could not turn a DJI R-JPEG into temperatures (it says why)."""

    reason = "not_converted"


def program() -> Path | None:
    """The ``dji-thermal-cli`` to run: :data:`PROGRAM_ENV`, else the one on ``PATH``, else :data:`BESIDE`
    when it is there, else ``None``.

    Raises
    ------
    TemperatureUnavailableError
        :data:`PROGRAM_ENV` names no executable file (a setting that is wrong, not one that is absent).
    """
    named = os.environ.get(PROGRAM_ENV, "").strip()
    if named:
        path = Path(named).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise TemperatureUnavailableError(PROGRAM_ENV, f"{path} is not an executable dji-thermal-cli")
        return path
    found = shutil.which("dji-thermal-cli")
    if found:
        return Path(found)
    return BESIDE if BESIDE.is_file() and os.access(BESIDE, os.X_OK) else None


def cache_dir() -> Path:
    """The folder of converted temperatures (made when first written)."""
    named = os.environ.get(CACHE_ENV, "").strip()
    if named:
        return Path(named).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "gongzhi" / "dji-thermal"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cached(key: str) -> Path:
    """Where the temperatures of the file of digest ``key`` are kept once converted."""
    return cache_dir() / f"{key}.tiff"


def temperatures(
    data: bytes, source: str, shape: tuple[int, int], counts: npt.NDArray[np.uint16] | None = None
) -> npt.NDArray[np.float32]:
    """The temperatures [°C] of a DJI R-JPEG's bytes (NaN where the program gives none), a raster of ``shape``
    (the file's own): through its camera's table when ``counts`` (its raw counts) are given and the table
    is in the cache (:func:`camera_key`), else from the cache or converted now by a call of their own
    (:func:`prepare`, which makes the camera's table on the way when it can).

    Raises
    ------
    TemperatureUnavailableError
        No ``dji-thermal-cli`` (the message says how to install it).
    ConversionError
        The program refused the file, failed, wrote nothing, or a raster of another shape (not kept).
    """
    camera, distance = _keys(data) if counts is not None else (None, None)
    if distance is not None and camera is not None and counts is not None:
        between = _between((f"{camera}-lrf", distance), counts)
        if between is not None:
            return between
        camera = None  # converted on its own, at its own distance
    table = _table(camera)
    if table is not None and counts is not None:
        return table[counts]
    key = digest(data)  # once: a frame is 1-3 MB
    kept = cached(key)
    if not kept.is_file():
        if program() is None:
            raise TemperatureUnavailableError(source, MISSING)
        with ExitStack() as stack:
            batch = _Batch(stack)
            batch.add(None, data, key, camera)
            failed = batch.run(jobs=1)
        if failed:
            raise ConversionError(source, f"dji-thermal-cli: {failed[key]}")
        table = _table(camera)
        if table is not None and counts is not None:
            return table[counts]
    temps = _read(kept, source)
    if temps.shape != shape:
        kept.unlink(missing_ok=True)  # not this file's temperatures: never served again
        raise ConversionError(
            source,
            f"dji-thermal-cli gave {temps.shape[1]}×{temps.shape[0]} px for a {shape[1]}×{shape[0]} raster",
        )
    return temps


def can_convert(data: bytes) -> bool:
    """Whether :func:`temperatures` can give this file's temperatures without failing for want of the
    program: they are in the cache, or the program is there (which may still refuse the file)."""
    if program() is not None or cached(digest(data)).is_file():
        return True
    camera, distance = _keys(data)
    if distance is None:
        return _table(camera) is not None
    return camera is not None and all(_table(k) is not None for k in _reading_keys(f"{camera}-lrf", distance))


def prepare(paths: Iterable[Path], *, jobs: int = 1) -> dict[Path, str]:
    """Convert the DJI R-JPEGs among ``paths`` that are not in the cache yet, in one call of the program with
    ``jobs`` processes; returns the files it could not convert, with its reason. A no-op without the program
    (each file is then refused when read, saying why) or without DJI R-JPEGs.

    A flight's frames share their camera and its parameters (:func:`camera_key`), so rather than each frame
    the call converts, once per camera, files whose rasters hold every count, and one of the flight's frames
    to check the table they give (:class:`_Batch`); the frames are then read through the table, a few
    milliseconds each against 80 for a conversion (``bench/README.md``, "DJI R-JPEG frames"). A camera
    whose table does not give that frame's temperatures exactly has its frames converted one by one.

    Frames with a valid laser-rangefinder reading (:func:`ranged_key`) are read between tables made at the
    whole metres either side of their distances (:meth:`_Batch.add_ranged`), when the flight has enough of
    them to pay for those tables; else, or when the tables do not give the temperatures of the frames that
    check them within :data:`RANGED_TOLERANCE_K`, they are converted one by one at their own distances.

    Each file the program needs is put in its work folder as it is found (linked where the file system
    allows, else copied), so that one file at a time is in memory: a flight of 600 M3T frames is 600 MB,
    of H30T frames about three times that.
    """
    names: dict[str, list[Path]] = {}
    ranged: dict[str, list[tuple[Path, str, float]]] = {}
    with ExitStack() as stack:
        batch = _Batch(stack)
        for path in paths:
            try:
                with path.open("rb") as f:
                    data = f.read(2)
                    if data != b"\xff\xd8":  # a TIFF flight costs two bytes a file here
                        continue
                    data += f.read()
            except OSError:
                continue  # the reader says what is wrong with it
            if not _is_rjpeg(data):
                continue
            camera, distance = _keys(data)
            # under a metre (no table below it to read between), a frame is converted on its own
            group = None if camera is None or distance is None or distance < 1.0 else f"{camera}-lrf"
            if distance is None and _table(camera) is not None:  # read through its camera's table
                continue
            if group is not None and distance is not None:
                if all(_table(k) is not None for k in _reading_keys(group, distance)):
                    continue  # read between the tables either side of its distance
                camera = None if _no_table_path(group).is_file() else camera
            key = digest(data)
            names.setdefault(key, []).append(path)
            if len(names[key]) > 1 or cached(key).is_file():  # twice in the flight, or converted before
                continue
            if batch.empty and not ranged and program() is None:
                return {}  # nothing can convert it: each file is refused when read, saying why
            if group is not None and distance is not None and camera is not None:
                ranged.setdefault(group, []).append((path, key, distance))  # once all are known
                continue
            batch.add(path, data, key, None if distance is not None else camera)
        for group, frames in ranged.items():
            batch.add_ranged(group, frames)
        failed = batch.run(jobs=jobs)
    return {path: why for key, why in failed.items() for path in names[key]}


TABLE_SIZE = 65536
"""Every raw count a DJI R-JPEG's 16-bit raster can hold."""
RAMP_FRAMES = 15
"""About how many frames' conversions one table costs (its file holds every count, the frames a few
hundred distinct ones: M30T, M4T, 2.2–2.7 s against 0.12–0.15 s a frame, one process, the program's start
included): the rangefinder's tables are made only for a flight with more frames than this per table."""
RANGED_TOLERANCE_K = 0.02
"""Largest difference [K] between the program's temperatures of a frame at its rangefinder distance and
those read between the tables of the whole metres either side (:func:`_between`) for the tables to be
kept. Measured on the real samples between 20 and 21 m: at most 0.011 K (M4T, on −14 °C sky), 0.006 K
(H30T), 0.003 K (M3T), 0.001 K (M30T): a fifth of the cameras' noise, an eighth of the M3T's count step.
The H20T takes whole metres (0.3 K a metre there): it fails this, and is read from the whole metre's table
below its distance, which its check then gives to the bit."""

_XMP_RANGEFINDER = re.compile(rb'drone-dji:(LRFStatus|LRFTargetDistance)(?:\s*=\s*"([^"]*)"|>([^<]*)<)')


def camera_key(data: bytes) -> str | None:
    """What the program's temperature of a raw count depends on, besides the count, as a digest: the EXIF
    camera model, the APP4 parameters, the APP5 transmission table, the APP7 blocks (ND filter, sensor),
    a plugin's APP2 block and the raster's size. The Thermal SDK's port turns each distinct count into a
    temperature on its own (``tsdk._cnum.per_value``: no pixel's neighbours or position enter), so the files
    of one key share a table of 65,536 temperatures.

    ``None`` for a file that cannot be parsed, and for one with a valid laser-rangefinder reading (M30T,
    M4T, H20T, H30T): the program then takes that frame's own distance (:func:`_rangefinder_distance`),
    which differs from frame to frame, so it shares no table (:func:`ranged_key` says how it is read).
    """
    camera, distance = _keys(data)
    return camera if distance is None else None


def ranged_key(data: bytes) -> tuple[str, float] | None:
    """For a file with a valid laser-rangefinder reading, what its temperatures depend on besides the count
    and that distance (the :func:`camera_key` of its camera, marked as ranged), and the distance [m];
    ``None`` for any other file.

    The distance enters the program's temperatures smoothly (the atmosphere's transmission): the frames of
    one such key are read between the tables of the whole metres either side of their distance
    (:func:`_between`), when those tables passed their check (:meth:`_Batch.add_ranged`)."""
    camera, distance = _keys(data)
    return None if camera is None or distance is None else (f"{camera}-lrf", distance)


def _keys(data: bytes) -> tuple[str | None, float | None]:
    """The file's camera digest (:func:`camera_key`, whatever its rangefinder says) and its valid
    rangefinder distance [m] (or ``None``); ``(None, None)`` for a file that cannot be parsed."""
    from gongzhi.modules.pv.io.frame_metadata import exif_fields, exif_from_jpeg_app1
    from gongzhi.modules.pv.io.jpeg_segments import APP3, EXIF_ID, XMP_ID, app_payloads, jpeg_segments

    try:
        segments = jpeg_segments(data, "<bytes>")
        exif = app_payloads(segments, 0xE1, EXIF_ID)
        model = str(exif_fields(exif_from_jpeg_app1(exif[0])).get("model") or "") if exif else ""
    except (ReaderError, ValueError, IndexError):
        return None, None
    h = hashlib.sha256(f"model:{model}\n".encode())
    raster = sum(len(s.payload) for s in segments if s.marker == APP3)
    h.update(f"raster:{raster}\n".encode())
    for s in segments:
        if s.marker in (0xE4, 0xE5, 0xE7) or (s.marker == 0xE2 and s.payload.startswith(b"Plug")):
            h.update(bytes([s.marker]) + len(s.payload).to_bytes(4, "little") + s.payload)
    return h.hexdigest(), _rangefinder_distance(app_payloads(segments, 0xE1, XMP_ID))


def _rangefinder_distance(xmps: list[bytes]) -> float | None:
    """The laser rangefinder's distance [m] that the program takes for a file instead of the embedded one
    (its default ``--distance lrf``): the first XMP ``LRFStatus`` is ``Normal`` and ``LRFTargetDistance`` a
    positive number, as ``dji_thermal_cli.core.read_rangefinder`` reads them; ``None`` otherwise."""
    fields: dict[str, str] = {}
    for xmp in xmps:
        for m in _XMP_RANGEFINDER.finditer(xmp):
            fields.setdefault(
                m.group(1).decode(), (m.group(2) or m.group(3) or b"").decode("latin-1").strip()
            )
    if fields.get("LRFStatus", "").lower() != "normal":
        return None
    try:
        distance = float(fields.get("LRFTargetDistance", ""))
    except ValueError:
        return None
    return distance if math.isfinite(distance) and distance > 0 else None


def _node_keys(group: str, distance: float) -> list[str]:
    """The tables a frame of ``group`` (:func:`ranged_key`) at ``distance`` [m] is read between: those of the
    whole metres either side (the one, at a whole metre)."""
    low = math.floor(distance)
    return [f"{group}-{low}m"] if distance == low else [f"{group}-{low}m", f"{group}-{low + 1}m"]


def _steps_path(group: str) -> Path:
    """The mark of a rangefinder group whose program takes whole metres (:meth:`_Batch._ranged_from`)."""
    return cache_dir() / f"{group}.steps"


def _reading_keys(group: str, distance: float) -> list[str]:
    """The tables a frame of ``group`` at ``distance`` [m] is read from: the whole metre's below it where the
    program takes whole metres (the H20T's ``dirp``: the group's :func:`_steps_path` mark), else those
    either side (:func:`_node_keys`)."""
    if _steps_path(group).is_file():
        return [f"{group}-{math.floor(distance)}m"]
    return _node_keys(group, distance)


def _between(ranged: tuple[str, float], counts: npt.NDArray[np.uint16]) -> npt.NDArray[np.float32] | None:
    """The temperatures of ``counts`` at the rangefinder's distance, linear between the tables of the whole
    metres either side, or the whole metre's below it (:func:`_reading_keys`); ``None`` when the cache lacks
    one of them."""
    group, distance = ranged
    tables = [_table(k) for k in _reading_keys(group, distance)]
    if any(t is None for t in tables):
        return None
    low = cast("npt.NDArray[np.float32]", tables[0])[counts]
    if len(tables) == 1:
        return low
    return _linear(low, cast("npt.NDArray[np.float32]", tables[1])[counts], distance)


def _linear(
    low: npt.NDArray[np.float32], high: npt.NDArray[np.float32], distance: float
) -> npt.NDArray[np.float32]:
    """Temperatures at ``distance`` [m], linear between those at the whole metres below and above it."""
    return cast("npt.NDArray[np.float32]", low + np.float32(distance - math.floor(distance)) * (high - low))


def with_rangefinder_distance(data: bytes, metres: float) -> bytes:
    """``data`` with the XMP ``LRFTargetDistance`` it has (:func:`_rangefinder_distance`) set to ``metres``,
    its segment's length mended; the rest of the file as it is. Raises ``ValueError`` without one."""
    from gongzhi.modules.pv.io.jpeg_segments import segment_spans

    for marker, start, end in segment_spans(data):
        if marker != 0xE1:
            continue
        payload = data[start + 4 : end]
        for m in _XMP_RANGEFINDER.finditer(payload):
            if m.group(1) != b"LRFTargetDistance":
                continue
            span = m.span(2) if m.group(2) is not None else m.span(3)
            payload = payload[: span[0]] + f"{metres:.3f}".encode() + payload[span[1] :]
            if len(payload) + 2 > 0xFFFF:
                break
            head = data[start : start + 2] + (len(payload) + 2).to_bytes(2, "big")
            return data[:start] + head + payload + data[end:]
    raise ValueError("no rangefinder distance in the file's XMP")


def table_for(data: bytes) -> npt.NDArray[np.float32] | None:
    """The table of temperatures by raw count (NaN: none) of the camera of ``data``, a DJI R-JPEG: from the
    cache, or made now with ``data`` as the frame that checks it; ``None`` when the camera has no table (its
    conversion is not one temperature per count) or the program could not make it.

    Raises
    ------
    TemperatureUnavailableError
        No ``dji-thermal-cli``.
    """
    camera = camera_key(data)
    table = _table(camera)
    if table is not None or camera is None:
        return table
    if program() is None:
        raise TemperatureUnavailableError("<bytes>", MISSING)
    with ExitStack() as stack:
        batch = _Batch(stack)
        batch.add(None, data, digest(data), camera)
        batch.run(jobs=1)
    return _table(camera)


def _table_path(camera: str) -> Path:
    return cache_dir() / f"{camera}.table.npy"


def _no_table_path(camera: str) -> Path:
    return cache_dir() / f"{camera}.no-table"


_TABLES: dict[Path, npt.NDArray[np.float32]] = {}
"""Tables read in this process, by file (a flight has one camera; each table is 256 KB)."""


def _table(camera: str | None) -> npt.NDArray[np.float32] | None:
    """The camera's table of temperatures by raw count (NaN: no temperature), when the cache has it."""
    if camera is None:
        return None
    path = _table_path(camera)
    table = _TABLES.get(path)
    if table is not None and path.is_file():
        return table
    if not path.is_file():
        _TABLES.pop(path, None)
        return None
    try:
        table = cast("npt.NDArray[np.float32]", np.load(path, allow_pickle=False))
    except (OSError, ValueError):
        path.unlink(missing_ok=True)  # damaged: made again by the next conversion
        return None
    if table.shape != (TABLE_SIZE,) or table.dtype != np.float32:
        path.unlink(missing_ok=True)
        return None
    if len(_TABLES) >= 32:  # 8 MB: a camera's table, or the rangefinder's metres of a flight
        _TABLES.clear()
    _TABLES[path] = table
    return table


class _Batch:
    """Files for one call of the program: per camera (:func:`camera_key`) without a table, one frame to
    check it by and files whose rasters hold every count; the files of a camera known to have no table (or
    none) one by one; the frames with a rangefinder reading of a camera as :meth:`add_ranged` says.
    :meth:`run` makes the tables, and converts one by one, in a second call, the frames of a camera whose
    tables failed their check."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._work: tuple[Path, Path] | None = None
        self.keys: list[str] = []
        self.checks: dict[str, tuple[str, npt.NDArray[np.uint16], int]] = {}
        """Camera → the frame checking its table (digest), its counts, and the ramp files made."""
        self.waiting: dict[str, list[tuple[Path | None, str]]] = {}
        """Camera (or rangefinder group) → its other frames, converted only if its tables fail."""
        self.ranged: dict[str, tuple[list[tuple[str, npt.NDArray[np.uint16], float]], list[str], int]] = {}
        """Rangefinder group → the frames checking its tables (digest, counts, distance [m]), the tables to
        make (:func:`_node_keys`) and the ramp files of each."""

    @property
    def empty(self) -> bool:
        return self._work is None

    def _folder(self) -> tuple[Path, Path]:
        if self._work is None:
            self._work = self._stack.enter_context(_work_folder())
        return self._work

    def add(self, path: Path | None, data: bytes, key: str, camera: str | None) -> None:
        """One file (``data``, read from ``path`` when there is one) of digest ``key``."""
        tabled = camera is not None and not _no_table_path(camera).is_file()
        if tabled and camera in self.checks:
            self.waiting.setdefault(str(camera), []).append((path, key))
            return
        given = self._folder()[0]
        _place(path, data, given / f"{key}.jpg")
        self.keys.append(key)
        counts = _counts(data) if tabled else None
        if camera is None or counts is None:
            return
        self.checks[camera] = (key, counts, self._add_ramps(camera, data, counts.size))

    def _add_ramps(self, name: str, data: bytes, size: int) -> int:
        """Copies of ``data`` whose rasters of ``size`` counts hold every count in turn (``{name}-ramp{r}``,
        read back by :func:`_ramp_table`); how many."""
        given = self._folder()[0]
        ramps = math.ceil(TABLE_SIZE / size)
        for r in range(ramps):
            ramp = ((np.arange(size) + r * size) % TABLE_SIZE).astype(np.uint16)
            (given / f"{name}-ramp{r}.jpg").write_bytes(with_raster(data, ramp))
            self.keys.append(f"{name}-ramp{r}")
        return ramps

    def add_ranged(self, group: str, frames: list[tuple[Path, str, float]]) -> None:
        """The frames of one rangefinder group (:func:`ranged_key`): (file, digest, distance [m]).

        When the flight has more than :data:`RAMP_FRAMES` frames for each table it lacks, the tables of
        the whole metres either side of their distances are made, each from files holding every count
        (copies of one frame with the rangefinder's distance set to that metre,
        :func:`with_rangefinder_distance`), and checked by frames converted at their own distances
        (:func:`_checking`); else each frame is converted on its own."""
        needed = sorted({k for _, _, d in frames for k in _node_keys(group, d) if _table(k) is None})
        if len(frames) <= RAMP_FRAMES * len(needed):  # too few frames to pay for the tables
            for path, key, _ in frames:
                self.add(path, path.read_bytes(), key, None)
            return
        checks: list[tuple[str, npt.NDArray[np.uint16], float]] = []
        template, readable, checking = b"", True, _checking(frames)
        for path, key, distance in checking:
            data = path.read_bytes()
            self.add(path, data, key, None)
            counts = _counts(data)
            readable = readable and counts is not None
            if counts is not None:
                checks.append((key, counts, distance))
                template = template or data
        checked = {k for _, k, _ in checking}
        rest: list[tuple[Path | None, str]] = [(p, k) for p, k, _ in frames if k not in checked]
        if not readable:  # a frame the readers cannot read as they read it: no tables for this group
            for p, k in rest:
                if p is not None:
                    self.add(p, p.read_bytes(), k, None)
            return
        ramps = 0
        for node in needed:
            metres = float(node.rsplit("-", 1)[1].removesuffix("m"))
            at = with_rangefinder_distance(template, metres)
            ramps = self._add_ramps(node, at, checks[0][1].size)
        self.ranged[group] = (checks, needed, ramps)
        self.waiting[group] = rest

    def run(self, jobs: int) -> dict[str, str]:
        """Convert what was added; the digests that could not be, with the program's reason."""
        if self._work is None or not self.keys:
            return {}
        exe = program()
        if exe is None:
            return {}
        failed = _convert(exe, *self._work, self.keys, jobs=jobs)
        again: list[tuple[Path | None, str]] = []
        for camera, (key, counts, ramps) in self.checks.items():
            made = self._table_from(camera, key, counts, ramps, failed)
            if made == "differs":  # not one temperature per count for this camera: its files one by one
                _no_table_path(camera).touch()
            if made != "kept":
                again += self.waiting.get(camera, [])
        for group, (checks, needed, ramps) in self.ranged.items():
            made = self._ranged_from(group, checks, needed, ramps, failed)
            if made == "differs":  # not within RANGED_TOLERANCE_K of the program: one by one from now on
                _no_table_path(group).touch()
            if made != "kept":
                again += self.waiting.get(group, [])
        ramps_failed = {k for k in failed if "-ramp" in k}
        failed = {k: why for k, why in failed.items() if k not in ramps_failed}
        if again:  # a second call, one by one: the frames' files are read again, one at a time
            with _work_folder() as (given, out):
                for path, key in again:
                    if path is not None:
                        _place(path, path.read_bytes(), given / f"{key}.jpg")
                failed |= _convert(
                    exe, given, out, [key for path, key in again if path is not None], jobs=jobs
                )
        return failed

    @staticmethod
    def _table_from(
        camera: str, key: str, counts: npt.NDArray[np.uint16], ramps: int, failed: dict[str, str]
    ) -> str:
        """Make the camera's table from its ramps' temperatures and keep it when it gives the checking
        frame's exactly: ``"kept"``, ``"differs"`` (it does not), or ``"failed"`` (the program did not
        convert them, or they cannot be read)."""
        names = [f"{camera}-ramp{r}" for r in range(ramps)]
        try:
            if key in failed or any(n in failed for n in names):
                return "failed"
            table = _ramp_table(names, counts)
            if table is None:
                return "differs"
            frame = _read(cached(key), key)
            if frame.shape != counts.shape or not np.array_equal(table[counts], frame, equal_nan=True):
                return "differs"
            _save_table(camera, table)
            return "kept"
        except (ConversionError, OSError):
            return "failed"
        finally:
            for name in names:
                cached(name).unlink(missing_ok=True)

    @staticmethod
    def _ranged_from(
        group: str,
        checks: list[tuple[str, npt.NDArray[np.uint16], float]],
        needed: list[str],
        ramps: int,
        failed: dict[str, str],
    ) -> str:
        """Make the rangefinder group's tables of ``needed`` metres and keep them when each checking frame
        (digest, counts, distance) read linearly between them (:func:`_between`) is within
        :data:`RANGED_TOLERANCE_K` of its conversion at its own distance, with no temperature where it has
        none; or, failing that, when each is its whole metre's table below it to the bit: the program takes
        whole metres (the H20T's ``dirp``), and the group is marked so (:func:`_steps_path`).
        ``"kept"``, ``"differs"`` or ``"failed"``, as :meth:`_table_from`."""
        names = {node: [f"{node}-ramp{r}" for r in range(ramps)] for node in needed}
        try:
            if any(k in failed for k, _, _ in checks) or any(
                n in failed for ns in names.values() for n in ns
            ):
                return "failed"
            made = {node: _ramp_table(ns, checks[0][1]) for node, ns in names.items()}
            linear = steps = True
            for key, counts, distance in checks:
                tables = [made[k] if k in made else _table(k) for k in _node_keys(group, distance)]
                if any(t is None for t in tables):
                    return "differs"
                low = cast("npt.NDArray[np.float32]", tables[0])[counts]
                high = cast("npt.NDArray[np.float32]", tables[-1])[counts]
                read = _linear(low, high, distance)
                frame = _read(cached(key), key)
                if frame.shape != counts.shape:
                    return "differs"
                steps = steps and np.array_equal(low, frame, equal_nan=True)
                linear = (
                    linear
                    and np.array_equal(np.isnan(read), np.isnan(frame))
                    and float(np.nanmax(np.abs(read - frame), initial=0.0)) <= RANGED_TOLERANCE_K
                )
            if not (linear or steps):
                return "differs"
            if not linear:  # marked first: no reader reads the tables between metres meanwhile
                _steps_path(group).touch()
            for node, table in made.items():
                _save_table(node, cast("npt.NDArray[np.float32]", table))
            return "kept"
        except (ConversionError, OSError):
            return "failed"
        finally:
            for ns in names.values():
                for name in ns:
                    cached(name).unlink(missing_ok=True)


def _checking(frames: list[tuple[Path, str, float]]) -> list[tuple[Path, str, float]]:
    """The frames that check a rangefinder group's tables (:meth:`_Batch.add_ranged`): in each metre the
    flight's distances fall in, the frame nearest its middle, where reading linearly between its ends errs
    most for a smooth dependence on the distance, and the frame farthest into it, where it errs most for a
    program that takes whole metres (the H20T's ``dirp``), whose temperatures step at each metre."""
    out: dict[str, tuple[Path, str, float]] = {}
    metres: dict[int, list[tuple[Path, str, float]]] = {}
    for f in frames:
        metres.setdefault(math.floor(f[2]), []).append(f)
    for group in metres.values():
        for f in (min(group, key=lambda f: abs(f[2] % 1 - 0.5)), max(group, key=lambda f: f[2] % 1)):
            out.setdefault(f[1], f)
    return list(out.values())


def _ramp_table(names: list[str], counts: npt.NDArray[np.uint16]) -> npt.NDArray[np.float32] | None:
    """The table of temperatures by count from the converted ramp files ``names`` (each the raster of
    ``counts``' size holding the next counts in turn), or ``None`` when one is of another size."""
    table = np.full(TABLE_SIZE, np.nan, dtype=np.float32)
    for r, name in enumerate(names):
        temps = _read(cached(name), name).ravel()
        if temps.size != counts.size:
            return None
        table[(np.arange(counts.size) + r * counts.size) % TABLE_SIZE] = temps
    return table


def _save_table(camera: str, table: npt.NDArray[np.float32]) -> None:
    tmp = _table_path(camera).with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, table, allow_pickle=False)
    os.replace(tmp, _table_path(camera))  # atomic: a reader never sees half a table


def _counts(data: bytes) -> npt.NDArray[np.uint16] | None:
    """The file's raw counts as the readers see them (:func:`.dji.read_dji_raw`), or ``None``."""
    from gongzhi.modules.pv.io.dji import read_dji_raw

    try:
        return read_dji_raw(data, "<bytes>").counts
    except (ReaderError, ValueError):
        return None


def with_raster(data: bytes, counts: npt.NDArray[np.uint16]) -> bytes:
    """``data`` with the first ``counts.size`` counts of its APP3 raster (little-endian uint16, split over
    the APP3 segments) replaced by ``counts``, the rest of the file as it is."""
    from gongzhi.modules.pv.io.jpeg_segments import APP3, segment_spans

    raw = counts.astype("<u2").tobytes()
    out, taken = bytearray(data), 0
    for marker, start, end in segment_spans(data):
        if marker == APP3 and taken < len(raw):
            size = min(end - start - 4, len(raw) - taken)
            out[start + 4 : start + 4 + size] = raw[taken : taken + size]
            taken += size
    if taken != len(raw):
        raise ValueError(f"the file's raster holds {taken} bytes, not {len(raw)}")
    return bytes(out)


def _place(path: Path | None, data: bytes, target: Path) -> None:
    """``path`` (whose bytes are ``data``) as ``target``: a hard link where the file system allows, else a
    copy written from ``data`` (always without a path)."""
    try:
        if path is None:
            raise OSError("no file to link")
        os.link(path, target)
    except OSError:
        target.write_bytes(data)


def _is_rjpeg(data: bytes) -> bool:
    """Whether the readers take ``data`` for a DJI R-JPEG (:func:`.thermal.sniff_format`)."""
    from gongzhi.modules.pv.io.thermal import sniff_format

    try:
        return sniff_format(data, "<bytes>") == "dji-rjpeg"
    except ReaderError:
        return False


@contextmanager
def _work_folder() -> Iterator[tuple[Path, Path]]:
    """The program's input and output folders, inside the cache (what it writes is then renamed into
    place, never copied); removed on the way out."""
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".work-", dir=cache) as work:
        given, out = Path(work) / "in", Path(work) / "out"
        given.mkdir()
        yield given, out


def _convert(exe: Path, given: Path, out: Path, keys: list[str], *, jobs: int) -> dict[str, str]:
    """Run the program once on the files of ``given`` (``{key}.jpg`` for each of ``keys``, digests) and move
    what it wrote into the cache; the digests it could not convert, with its reason."""
    command = [str(exe), "process", "--input-dir", str(given), "--output-dir", str(out)]
    command += ["--output", "temp_c:tiff", "--jobs", str(max(1, jobs))]
    try:
        run = subprocess.run(  # noqa: S603 - our own argument list, no shell
            command, capture_output=True, text=True, timeout=60 + 5 * len(keys), check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return dict.fromkeys(keys, f"did not run: {exc}")
    said = {
        Path(m["path"]).stem: m["why"]
        for m in (_SKIPPED.match(line.strip()) for line in run.stdout.splitlines())
        if m
    }
    failed = {}
    for key in keys:
        written = out / f"{key}_temp_c.tiff"
        if written.is_file():
            os.replace(written, cached(key))  # atomic: a reader never sees half a file
        else:
            tail = (run.stderr.strip().splitlines() or [f"exit status {run.returncode}"])[-1]
            failed[key] = said.get(key) or tail
    return failed


def _read(path: Path, source: str) -> npt.NDArray[np.float32]:
    try:
        with Image.open(path) as image:
            values = np.asarray(image, dtype=np.float32)
    except Exception as exc:  # a damaged cache file: the next conversion replaces it
        path.unlink(missing_ok=True)
        raise ConversionError(
            source, f"the converted temperatures cannot be read ({exc}); read it again"
        ) from exc
    return np.where(values <= NO_DATA_C + 0.01, np.float32(np.nan), values).astype(np.float32)
