"""DJI R-JPEG temperatures from ``dji-thermal-cli``, run as a program of its own.

DJI's function from detector counts to temperature is inside its Thermal SDK (``libdirp``, under DJI's
licence, never shipped here) and unpublished (``dji.py``). ``dji-thermal-cli`` (PyPI, AGPL-3.0 as gongzhi is)
is a pure-Python port of that SDK (v1.8) whose temperatures, by its documentation, are the SDK's; on the
samples in ``shared/data/thermal`` it gives the M30T's 11.9 … 23.1 °C and the H20T's 19.1 … 56.5 °C that the
data README gives as measured. It needs Python ≥ 3.12 and gongzhi runs on 3.11, so it is not imported: it
lives in an environment of its own (``make dji``, or ``python3.12 -m venv …`` and ``pip install
dji-thermal-cli==1.4.0``) and is run as a program, found by :data:`PROGRAM_ENV` or on ``PATH``. Without it a
DJI R-JPEG is refused with the reason and these steps.

Temperatures are kept by the file's SHA-256 as float32 °C TIFF in :data:`CACHE_ENV` (default
``~/.cache/gongzhi/dji-thermal``): :func:`prepare` converts a flight's R-JPEGs in one call, with as many jobs
as the analysis has workers (0.1–0.3 s of CPU a frame, 1.4 s on the H20T, ``bench/pv/readers.py``; a call of
its own, which :func:`temperatures` makes for a file not converted yet, costs about 0.3 s more), and every
later read of the same file takes them from there.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from gongzhi.modules.pv.io.reader_errors import ReaderError, TemperatureUnavailableError

PROGRAM_ENV = "GONGZHI_DJI_THERMAL_CLI"
"""Path of the ``dji-thermal-cli`` program; without it, the one on ``PATH``."""
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
    """The ``dji-thermal-cli`` to run: :data:`PROGRAM_ENV`, else the one on ``PATH``, else ``None``.

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
    return Path(found) if found else None


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


def temperatures(data: bytes, source: str, shape: tuple[int, int]) -> npt.NDArray[np.float32]:
    """The temperatures [°C] of a DJI R-JPEG's bytes (NaN where the program gives none), a raster of ``shape``
    (the file's own): from the cache, or converted now by a call of their own.

    Raises
    ------
    TemperatureUnavailableError
        No ``dji-thermal-cli`` (the message says how to install it).
    ConversionError
        The program refused the file, failed, wrote nothing, or a raster of another shape (not kept).
    """
    key = digest(data)  # once: a frame is 1-3 MB
    kept = cached(key)
    if not kept.is_file():
        exe = program()
        if exe is None:
            raise TemperatureUnavailableError(source, MISSING)
        with _work_folder() as (given, out):
            (given / f"{key}.jpg").write_bytes(data)
            failed = _convert(exe, given, out, [key], jobs=1)
        if failed:
            raise ConversionError(source, f"dji-thermal-cli: {failed[key]}")
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
    return cached(digest(data)).is_file() or program() is not None


def prepare(paths: Iterable[Path], *, jobs: int = 1) -> dict[Path, str]:
    """Convert the DJI R-JPEGs among ``paths`` that are not in the cache yet, in one call of the program with
    ``jobs`` processes; returns the files it could not convert, with its reason. A no-op without the program
    (each file is then refused when read, saying why) or without DJI R-JPEGs.

    Each file to convert is put in the program's work folder as it is found (linked where the file system
    allows, else copied), so that one file at a time is in memory: a flight of 600 M3T frames is 600 MB,
    of H30T frames about three times that.
    """
    names: dict[str, list[Path]] = {}
    todo: list[str] = []
    with ExitStack() as stack:
        work: tuple[Path, Path] | None = None  # made for the first file to convert: none for a TIFF flight
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
            key = digest(data)
            names.setdefault(key, []).append(path)
            if len(names[key]) > 1 or cached(key).is_file():  # twice in the flight, or converted before
                continue
            if work is None:
                if program() is None:
                    return {}  # nothing can convert it: each file is refused when read, saying why
                work = stack.enter_context(_work_folder())
            _place(path, data, work[0] / f"{key}.jpg")
            todo.append(key)
        exe = program()
        if work is None or exe is None:
            return {}
        failed = _convert(exe, *work, todo, jobs=jobs)
    return {path: why for key, why in failed.items() for path in names[key]}


def _place(path: Path, data: bytes, target: Path) -> None:
    """``path`` (whose bytes are ``data``) as ``target``: a hard link where the file system allows, else a
    copy written from ``data``."""
    try:
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
