"""A synthetic flight on disk, as ``gongzhi pv synth`` writes it and ``gongzhi pv inspect`` reads it:

``frame-0000.tif`` …   one frame per file in flight order, with EXIF/XMP metadata: a float32 °C TIFF
                       (:mod:`.tiff`; the default), a uint16 centi-kelvin TIFF, a FLIR radiometric JPEG
                       ``frame-0000.jpg`` (:mod:`.flir`) or a real DJI camera's R-JPEG ``frame-0000.jpg``
                       (:mod:`.dji_writer`), as ``flight.json``'s ``frame_format`` says
``frame-0000_T.tif`` and ``frame-0000_W.jpg`` …
                       the same, with the wide camera's photo beside each frame, named as DJI names them
                       (``flight.json``'s ``visible_photos``; :meth:`.SyntheticFlight.visible`)
``plant.geojson``      the plant layout (:mod:`.plant`)
``flight.json``        seed, camera, altitude, conditions (irradiance, ambient, wind), frame count
``truth.csv``          the planted anomalies: ``module_id, anomaly_class, delta_t_k``
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Literal, get_args

from gongzhi.modules.pv.analytics.frames import ThermalFrame
from gongzhi.modules.pv.analytics.synthetic import WIDE_FOCAL_35MM, SyntheticFlight
from gongzhi.modules.pv.io.dji_writer import DjiCamera
from gongzhi.modules.pv.io.flir import write_flir_jpeg
from gongzhi.modules.pv.io.plant import write_plant_geojson
from gongzhi.modules.pv.io.tiff import write_frame_tiff
from gongzhi.modules.pv.io.visible import visible_jpeg

TRUTH_FIELDS = ("module_id", "anomaly_class", "delta_t_k")

FrameFormat = Literal["tiff", "tiff-ck", "flir", "dji"]
"""How frames are written: float32 °C TIFF, uint16 centi-kelvin TIFF (as radiometric TIFF exports keep
temperatures), FLIR radiometric JPEG (raw counts under Planck constants, as a FLIR camera writes), or DJI
R-JPEG, as a real DJI camera writes them (one of its files as the template, :mod:`.dji_writer`)."""
FRAME_FORMATS: tuple[FrameFormat, ...] = get_args(FrameFormat)


def frame_name(i: int, frame_format: FrameFormat = "tiff", visible: bool = False) -> str:
    """Frame ``i``'s file name; with ``visible``, the thermal one of a pair (``…_T``)."""
    return f"frame-{i:04d}{'_T' if visible else ''}.{'jpg' if frame_format in ('flir', 'dji') else 'tif'}"


def photo_name(i: int) -> str:
    """The name of the wide camera's photo taken with frame ``i``."""
    return f"frame-{i:04d}_W.jpg"


def write_frame(
    path: Path, frame: ThermalFrame, frame_format: FrameFormat = "tiff", dji: DjiCamera | None = None
) -> None:
    """Write ``frame`` as ``frame_format`` (``dji``: as the camera ``dji``'s R-JPEG, which it needs)."""
    if frame_format == "dji":
        if dji is None:
            raise ValueError("DJI R-JPEG frames need a DJI camera's file as the template")
        path.write_bytes(dji.rjpeg(frame))
    elif frame_format == "flir":
        path.write_bytes(write_flir_jpeg(frame))
    else:
        write_frame_tiff(path, frame, as_centikelvin=frame_format == "tiff-ck")


def write_flight_files(
    flight: SyntheticFlight, folder: Path, frame_format: FrameFormat = "tiff", visible: bool = False
) -> None:
    """Everything but the frames: plant, flight description (with the frames' format) and ground truth."""
    write_plant_geojson(flight.layout, folder / "plant.geojson")
    c = dataclasses.asdict(flight.conditions)
    c["start"] = flight.conditions.start.isoformat() if flight.conditions.start else None
    description = {
        "seed": flight.seed,
        "camera": flight.camera.key,
        "altitude_m": flight.plan.altitude_m,
        "gimbal_pitch_deg": flight.gimbal_pitch_deg,
        "frames": len(flight),
        "frame_format": frame_format,
        "visible_photos": visible,
        "modules": len(flight.layout.modules),
        "conditions": c,
    }
    (folder / "flight.json").write_text(json.dumps(description, indent=2), encoding="utf-8")
    with (folder / "truth.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(TRUTH_FIELDS)
        for a in flight.anomalies:
            writer.writerow([a.module_id, a.anomaly.value, a.delta_t_k])


def read_flight_description(folder: Path) -> dict[str, Any] | None:
    """``flight.json`` of a synthetic flight folder, or ``None`` for a real flight."""
    path = folder / "flight.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else None


def read_truth(folder: Path) -> dict[tuple[str, str], float]:
    """Planted anomalies of a synthetic flight folder: (module id, class) → ΔT [K]."""
    with (folder / "truth.csv").open(encoding="utf-8", newline="") as f:
        return {(r["module_id"], r["anomaly_class"]): float(r["delta_t_k"]) for r in csv.DictReader(f)}


_FLIGHT: SyntheticFlight | None = None
_DJI: DjiCamera | None = None


def _init(flight: SyntheticFlight, dji: DjiCamera | None = None) -> None:
    global _FLIGHT, _DJI
    _FLIGHT, _DJI = flight, dji


def _write(args: tuple[int, str, FrameFormat, bool]) -> int:
    i, folder, frame_format, visible = args
    assert _FLIGHT is not None
    write_frame(Path(folder) / frame_name(i, frame_format, visible), _FLIGHT.frame(i), frame_format, _DJI)
    if visible:
        (Path(folder) / photo_name(i)).write_bytes(visible_jpeg(_FLIGHT.visible(i), WIDE_FOCAL_35MM))
    return i


def write_frames(
    flight: SyntheticFlight,
    folder: Path,
    indices: Iterable[int],
    *,
    workers: int = 1,
    frame_format: FrameFormat = "tiff",
    visible: bool = False,
    dji: DjiCamera | None = None,
) -> Iterator[int]:
    """Render and write frames (with ``visible``, each with its wide photo; as ``dji``'s R-JPEGs for the
    format ``dji``), yielding each index as its files are complete."""
    if frame_format == "dji" and dji is None:
        raise ValueError("DJI R-JPEG frames need a DJI camera's file as the template")
    jobs = [(i, str(folder), frame_format, visible) for i in indices]
    if workers <= 1:
        _init(flight, dji)
        yield from map(_write, jobs)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_init, initargs=(flight, dji)) as pool:
        yield from pool.map(_write, jobs, chunksize=4)
