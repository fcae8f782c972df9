"""``gongzhi pv plan|synth|inspect``: flight plans, synthetic flights and the analysis of a folder of frames,
from files alone (no database)."""

from __future__ import annotations

import errno
import json
import os
import signal
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from gongzhi.errors import DomainError
from gongzhi.modules.pv import analysis_adapter as adapter
from gongzhi.modules.pv import pipeline, service
from gongzhi.modules.pv.analytics import synthetic
from gongzhi.modules.pv.analytics.anomalies import loss_at_stake, named_loss_share
from gongzhi.modules.pv.analytics.cameras import CAMERAS, ThermalCamera
from gongzhi.modules.pv.analytics.layout import MODULE_TYPES, LayoutParams, PlantLayout, generate_layout
from gongzhi.modules.pv.analytics.modules import POSITIONING, ism_classifier
from gongzhi.modules.pv.io import kml
from gongzhi.modules.pv.io import plant as plant_io
from gongzhi.modules.pv.io import synthetic_files as synth_io
from gongzhi.modules.pv.io.dji_writer import DjiCamera, dji_camera
from gongzhi.modules.pv.io.qgc_plan import write_qgc_plan_json
from gongzhi.modules.pv.io.reader_errors import ReaderError
from gongzhi.modules.pv.io.wpml import write_wpml_kmz
from gongzhi.modules.pv.outcome import FindingRecord, FlightOutcome, worst_by_module

if TYPE_CHECKING:
    from gongzhi.db import SessionFactory
    from gongzhi.modules.pv.mqtt import Broker, QueuedListener
    from gongzhi.registry import Registry
    from gongzhi.settings import Settings

app = typer.Typer(
    help="PV inspection: flight plans, synthetic flights, analysis of a flight", no_args_is_help=True
)
out = Console()
err = Console(stderr=True)
PlantFile = Annotated[
    Path, typer.Option("--plant", help="plant layout (.geojson) or roof outline (GeoJSON Polygon)")
]
GimbalPitch = Annotated[
    float,
    typer.Option(
        min=-90.0,
        max=-30.0,
        help="gimbal pitch of every frame: -90 looks straight down, -60 obliquely ahead (flown nearer)",
    ),
]


@app.callback()
def main() -> None:
    """PV inspection from files: plan a flight, generate a synthetic one, analyse a folder of frames."""


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail(f"{path}: not a readable GeoJSON file: {exc}")
    if not isinstance(data, dict):
        _fail(f"{path}: not a GeoJSON object")
    return dict(data)


def load_plant(path: Path) -> tuple[list[tuple[float, float]], PlantLayout | None]:
    """The roof outline of a plant file, and its layout when the file is a plant FeatureCollection."""
    data = _read_json(path)
    try:
        if data.get("type") == "FeatureCollection":
            layout = plant_io.layout_from_geojson(data)
            return list(layout.polygon), layout
        return service.polygon_ring(data), None
    except (ValueError, DomainError) as exc:
        _fail(f"{path}: {getattr(exc, 'detail', exc)}")


@app.command()
def plan(
    plant: PlantFile,
    out_path: Annotated[
        Path, typer.Option("--out", help="write the plan: .plan (QGroundControl) or .kmz (DJI)")
    ],
    camera: Annotated[str, typer.Option(help="M30T, M3T, M4T, H20T or H30T")] = "M3T",
    gsd: Annotated[float | None, typer.Option("--gsd", help="target GSD [cm/px]")] = None,
    altitude: Annotated[float | None, typer.Option("--altitude", help="height above the modules [m]")] = None,
    gimbal_pitch: GimbalPitch = -90.0,
    line_azimuth: Annotated[
        float | None,
        typer.Option(
            "--line-azimuth", min=0.0, max=360.0, help="the lines' course [°], clockwise from north"
        ),
    ] = None,
    fewest_turns: Annotated[
        bool, typer.Option("--fewest-turns", help="lines the way with the fewest turns, not across the rows")
    ] = False,
) -> None:
    """Plan a coverage flight over a plant and write it for QGroundControl or DJI Pilot 2 / FlightHub 2."""
    suffix = out_path.suffix.lower()
    if suffix not in (".plan", ".kmz"):
        _fail("--out must end in .plan (QGroundControl) or .kmz (DJI WPML)")
    ring, layout = load_plant(plant)
    try:
        flight = service.flight_plan(
            ring,
            camera,
            altitude_m=altitude,
            gsd_cm=gsd,
            row_azimuth_deg=layout.row_azimuth_deg if layout else None,
            line_azimuth_deg=None if line_azimuth is None else line_azimuth % 360,
            lines_across_rows=not fewest_turns,
            gimbal_pitch_deg=gimbal_pitch,
            module_footprint_m=layout.footprint_m if layout and layout.modules else None,
        )
    except DomainError as exc:
        _fail(exc.detail)
    try:
        if suffix == ".plan":
            out_path.write_text(write_qgc_plan_json(flight), encoding="utf-8")
        else:
            out_path.write_bytes(write_wpml_kmz(flight))
    except OSError as exc:
        _fail(f"{out_path}: cannot write the plan there ({exc.strerror or exc})")
    table = Table(title=f"{camera} flight plan → {out_path}")
    table.add_column("")
    table.add_column("value", justify="right")
    for key, value in service.plan_summary(flight).model_dump().items():
        table.add_row(key.replace("_", " "), str(value))
    out.print(table)


def _layout_for(path: Path) -> PlantLayout:
    """The plant file's layout; for a roof outline, or a plant file with a roof and no module yet, one
    generated on the roof (with the default parameters)."""
    ring, layout = load_plant(path)
    if layout is not None and layout.modules:
        return layout
    if layout is not None:
        out.print(f"{path}: the plant has no modules; they are laid out on its roof")
    try:
        return generate_layout(ring, LayoutParams(), name=path.stem)
    except ValueError as exc:
        _fail(f"{path}: no layout fits this outline: {exc}")


FrameFormatOption = Annotated[
    synth_io.FrameFormat,
    typer.Option(
        "--format",
        help="tiff: float32 °C TIFF; tiff-ck: uint16 centi-kelvin TIFF; flir: FLIR R-JPEG; "
        "dji: DJI R-JPEG of the camera of --dji-template",
    ),
]

DjiTemplate = Annotated[
    Path | None,
    typer.Option(
        "--dji-template",
        help="with --format dji: a real file of the DJI camera to write as (one of its …_T.JPG R-JPEGs)",
    ),
]


def _dji_camera(frame_format: str, template: Path | None) -> DjiCamera | None:
    """The camera of ``template`` for ``--format dji``; a clear error without it or when it is not one."""
    if frame_format != "dji":
        if template is not None:
            _fail("--dji-template goes with --format dji")
        return None
    if template is None:
        _fail("--format dji needs --dji-template: a real R-JPEG of the DJI camera to write as")
    try:
        return dji_camera(template.read_bytes(), str(template))
    except OSError as exc:
        _fail(f"{template}: {exc.strerror or exc}")
    except ReaderError as exc:  # not a DJI R-JPEG, or no dji-thermal-cli: it names the file itself
        _fail(str(exc))
    except ValueError as exc:  # no table for it
        _fail(f"{template}: {exc}")


def _dji_fits(dji: DjiCamera | None, camera: ThermalCamera) -> None:
    """A clear error when the template's raster is not the flight camera's."""
    if dji is not None and dji.shape != (camera.height_px, camera.width_px):
        (rows, cols) = dji.shape
        _fail(
            f"the template is a {cols}×{rows} {dji.model} file and the flight's camera, {camera.key}, takes "
            f"{camera.width_px}×{camera.height_px} frames: give the camera that wrote it (--camera)"
        )


@app.command()
def synth(
    plant: PlantFile,
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the frames and the ground truth")],
    seed: Annotated[int, typer.Option(help="seed of everything random")] = 0,
    camera: Annotated[str, typer.Option(help="M30T, M3T, M4T, H20T or H30T")] = "M3T",
    frames: Annotated[int | None, typer.Option(help="write only the first N frames")] = None,
    per_class: Annotated[int, typer.Option(help="modules planted per anomaly class")] = 2,
    workers: Annotated[int, typer.Option(help="processes rendering frames; 0: one per CPU core")] = 0,
    frame_format: FrameFormatOption = "tiff",
    gimbal_pitch: GimbalPitch = -90.0,
    visible: Annotated[
        bool, typer.Option("--visible", help="a wide visible photo beside each frame (…_T.tif + …_W.jpg)")
    ] = False,
    dji_template: DjiTemplate = None,
) -> None:
    """Write a synthetic flight over a plant: its frames, the plant, the conditions, ground truth."""
    dji = _dji_camera(frame_format, dji_template)
    layout = _layout_for(plant)
    try:
        flight = synthetic.synthetic_flight(
            layout,
            seed=seed,
            camera=CAMERAS[service.camera_of(camera)],
            anomalies_per_class=per_class,
            gimbal_pitch_deg=gimbal_pitch,
        )
    except DomainError as exc:
        _fail(exc.detail)
    _dji_fits(dji, flight.camera)
    workers = _workers(workers)
    count = len(flight) if frames is None else max(0, min(frames, len(flight)))
    _writable_folder(out_dir)
    synth_io.write_flight_files(flight, out_dir, frame_format, visible)
    with _progress() as bar:
        task = bar.add_task("rendering frames", total=count)
        for _ in synth_io.write_frames(
            flight,
            out_dir,
            range(count),
            workers=workers,
            frame_format=frame_format,
            visible=visible,
            dji=dji,
        ):
            bar.advance(task)
    c = flight.conditions
    out.print(
        f"{count} frames of {len(flight)} over {len(layout.modules)} modules, "
        f"{len(flight.anomalies)} anomalous modules planted, {c.irradiance_w_m2:.0f} W/m² → {out_dir}"
    )


def _workers(asked: int) -> int:
    """The processes to use: ``asked``, or one per CPU core for 0."""
    if asked < 0:
        _fail(f"--workers must be 0 (one per CPU core) or more, got {asked}")
    return asked or pipeline.default_workers()


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


@app.command()
def inspect(
    folder: Annotated[Path, typer.Argument(help="folder of thermal frames (TIFF, FLIR or DJI R-JPEG)")],
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out", help="folder for results.geojson, results.csv, findings.kml/.kmz, summary.json"
        ),
    ],
    plant: Annotated[
        Path | None,
        typer.Option(
            "--plant",
            help="plant layout (.geojson) or roof outline (GeoJSON Polygon); without it the modules are "
            "found in each photo",
        ),
    ] = None,
    irradiance: Annotated[
        float | None, typer.Option("--irradiance", help="plane-of-array irradiance during the flight [W/m²]")
    ] = None,
    camera: Annotated[str | None, typer.Option(help="camera when the frames do not name it")] = None,
    module_type: Annotated[
        str, typer.Option(help=f"without --plant: the modules' cell grid ({', '.join(MODULE_TYPES)})")
    ] = "72",
    workers: Annotated[
        int, typer.Option(help="processes reading and analysing frames; 0: one per CPU core")
    ] = 0,
    learned: Annotated[
        bool,
        typer.Option(
            "--learned",
            help="let the shipped crop network (InfraredSolarModules) rename an anomaly the rules found "
            "where it is confident",
        ),
    ] = False,
    min_confidence: Annotated[
        float, typer.Option(help="with --learned: the network's least confidence to overrule the rules (0–1)")
    ] = 0.8,
    positioning: Annotated[
        str,
        typer.Option(
            help="with --plant: name the modules from the frames' positions (rtk), by matching frames and "
            "row ends (gnss: a drone without RTK), or as the frames' RTK flag says (auto)"
        ),
    ] = "auto",
) -> None:
    """Analyse a flight's frames against a plant, or photos alone: per-module results as GeoJSON and CSV,
    and a summary."""
    if not folder.is_dir():
        _fail(f"{folder}: not a folder")
    if not 0.0 <= min_confidence <= 1.0:
        _fail(f"--min-confidence must be between 0 and 1, got {min_confidence}")
    workers = _workers(workers)
    paths, visible = pipeline.frames_and_visible(folder)
    if not paths:
        _fail(f"{folder}: no thermal frames (.tif, .tiff, .jpg, .jpeg)")
    layout = _layout_for(plant) if plant is not None else None
    photos = pipeline.photo_pairs(paths, visible)
    if photos:
        err.print(
            f"{len(photos)} visible-light photos (…_W, _V or _Z.JPG) to register onto their thermal frames"
        )
    if len(visible) > len(photos):
        err.print(f"set aside {len(visible) - len(photos)} visible-light photos (another of the same frame)")
    _writable_folder(out_dir)  # before the analysis, not after it
    described = synth_io.read_flight_description(folder) or {}
    if irradiance is None:
        irradiance = described.get("conditions", {}).get("irradiance_w_m2")
    if camera is not None and camera not in CAMERAS:
        _fail(f"unknown camera {camera!r}; known: {', '.join(CAMERAS)}")
    if module_type not in MODULE_TYPES:
        _fail(f"unknown module type {module_type!r}; known: {', '.join(MODULE_TYPES)}")
    if positioning not in POSITIONING:
        _fail(f"unknown positioning {positioning!r}; known: {', '.join(POSITIONING)}")
    camera = camera or described.get("camera")
    classifier = ism_classifier(min_confidence) if learned else None
    err.print(f"{len(paths)} frames, {workers} {'process' if workers == 1 else 'processes'}")
    with _progress() as bar:
        task = bar.add_task("analysing frames", total=len(paths))

        def tick(done: int, _total: int) -> None:
            bar.update(task, completed=done)

        try:
            if layout is None:
                result = pipeline.analyse_photos(
                    paths,
                    irradiance_w_m2=irradiance,
                    camera=camera,
                    module_type=module_type,
                    workers=workers,
                    progress=tick,
                    photos=photos,
                    classifier=classifier,
                )
            else:
                result = pipeline.analyse_flight(
                    paths, layout, irradiance_w_m2=irradiance, camera=camera, workers=workers, progress=tick,
                    photos=photos, classifier=classifier, positioning=positioning,
                )  # fmt: skip
        except ValueError as exc:
            _fail(str(exc))
    write_results(
        result, layout, out_dir, frames={p.name: p for p in paths},
        photos={frame.name: photo for frame, photo in photos.items()},
        camera=CAMERAS.get(camera) if camera else None,
    )  # fmt: skip
    _print_summary(result, out_dir)


def _writable_folder(folder: Path) -> None:
    """Make ``folder`` (and its parents), or stop with the reason it cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(errno.EACCES, "permission denied")
    except OSError as exc:
        _fail(f"{folder}: cannot write there ({exc.strerror or exc})")


def write_results(
    result: FlightOutcome,
    layout: PlantLayout | None,
    out_dir: Path,
    frames: Mapping[str, Path] | None = None,
    *,
    photos: Mapping[str, Path] | None = None,
    camera: ThermalCamera | None = None,
) -> None:
    """``results.geojson`` (module outlines from ``layout``; centres, or no geometry, without one),
    ``results.csv``, ``findings.kml`` (the findings for a field crew's map, :mod:`.io.kml`),
    ``findings.xlsx`` (缺陷清单, as the platform's inspection workbook, :mod:`.report_xlsx`),
    ``summary.json`` and, given the flight's ``frames`` (file name → path), ``findings.kmz``: the same
    placemarks, each with its thermal crop and, where its frame has one of ``photos`` (frame's file name →
    its visible-light photo; ``camera``, the flight's when the frames do not name it), the photo's
    (:func:`_finding_crops`), in ``out_dir``; the workbook then shows the same pictures."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = pipeline.module_rows(result.modules, result.findings)
    summary = result.summary()
    outlines = pipeline.layout_outlines(layout) if layout is not None else {}
    collection = pipeline.results_geojson(rows, outlines, summary)
    (out_dir / "results.geojson").write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    (out_dir / "results.csv").write_text(pipeline.results_csv(rows), encoding="utf-8-sig")
    title = layout.name if layout is not None and layout.name else out_dir.resolve().name
    (out_dir / "findings.kml").write_bytes(kml.findings_kml(rows, outlines, title=title))
    crops = _finding_crops(result, frames, photos or {}, camera) if frames is not None else {}
    if frames is not None:
        (out_dir / "findings.kmz").write_bytes(kml.findings_kmz(rows, outlines, crops, title=title))
    (out_dir / "findings.xlsx").write_bytes(_workbook(result, layout, crops, title, camera))
    findings = pipeline.finding_dicts(result.findings)
    (out_dir / "summary.json").write_text(
        json.dumps({**summary, "findings_list": findings}, ensure_ascii=False, indent=2, default=str),
        encoding="utf-8",
    )


def _workbook(
    result: FlightOutcome,
    layout: PlantLayout | None,
    crops: Mapping[str, tuple[bytes | None, bytes | None]],
    title: str,
    camera: ThermalCamera | None,
) -> bytes:
    """The findings as the platform's inspection workbook (:func:`.report_xlsx.findings_workbook`): each
    module's worst finding with its crops (those of the KMZ), the flight's conditions on the second sheet."""
    from gongzhi.modules.pv.report import ReportFinding
    from gongzhi.modules.pv.report_xlsx import findings_workbook, flight_overview

    strings = {m.id: m.string for m in layout.modules} if layout is not None else {}
    shown = worst_by_module(result.findings)
    found = [
        ReportFinding(
            module_id=f.module_id,
            anomaly_class=f.anomaly_class,
            delta_t_k=f.delta_t_k,
            delta_tn_k=f.delta_tn_k,
            t_max_c=f.t_max_c,
            severity=f.severity,
            coa=f.coa,
            status="new",
            frames_seen=f.frames_seen,
            thumbnail_png=pictures[0],
            photo_png=pictures[1],
            delta_t_at_least=service.delta_t_lower_bound(f),
            string=strings.get(f.module_id, ""),
            lon=f.lon,
            lat=f.lat,
        )
        for f in sorted(result.findings, key=lambda f: (-f.coa, -(f.delta_t_k or 0.0), f.module_id))
        for pictures in [
            crops.get(f.module_id, (None, None)) if shown.get(f.module_id) is f else (None, None)
        ]
    ]
    return findings_workbook(found, flight_overview(result, camera.name if camera else None), title)


def _finding_crops(
    result: FlightOutcome,
    frames: Mapping[str, Path],
    photos: Mapping[str, Path],
    camera: ThermalCamera | None = None,
) -> dict[str, tuple[bytes | None, bytes | None]]:
    """Each module's thermal crop around it, from the first frame of its worst finding's evidence, and the
    same window of that frame's visible-light photo when it has one (as the O&M report's,
    :func:`.report.thumbnail_png` and :func:`.report.photo_crop_png`). A frame that cannot be read again is
    left out, and a photo that cannot be registered onto its frame (an unreadable file, one without its
    focal length), with its reason, printed once per reason. Each frame and its photo are read once."""
    # the report's imports only when writing crops
    from gongzhi.modules.pv.io.visible import VisibleError
    from gongzhi.modules.pv.report import frame_pictures

    by_frame: dict[str, list[FindingRecord]] = {}
    for f in worst_by_module(result.findings).values():  # the finding each results row shows
        if f.best_frame in frames:
            by_frame.setdefault(str(f.best_frame), []).append(f)
    crops: dict[str, tuple[bytes | None, bytes | None]] = {}
    unused: dict[str, int] = {}
    for name, members in by_frame.items():
        try:
            frame = adapter.read(frames[name])
        except ValueError as exc:
            err.print(f"findings.kmz: no crop from {name}: {exc}")
            continue
        pixels = [f.details.get("pixel") for f in members]
        pictures, left_out = frame_pictures(frame, photos.get(name), pixels, camera)
        if left_out is not None:
            reason = left_out.reason if isinstance(left_out, VisibleError) else str(left_out)
            unused[reason] = unused.get(reason, 0) + 1
        crops.update(zip((f.module_id for f in members), pictures, strict=True))
    for reason, n in unused.items():
        err.print(f"findings.kmz: {n} photo{'' if n == 1 else 's'} left out: {reason}")
    return crops


def _print_summary(result: FlightOutcome, out_dir: Path) -> None:
    s = result.summary()
    compliance: dict[bool | None, str] = {
        True: "IEC TS 62446-3 compliant",
        False: "below 600 W/m²: not IEC TS 62446-3 compliant",
        None: "irradiance not given",
    }
    out.print(
        f"{s['frames_used']} of {s['frames']} frames, {s['modules_seen']} of {s['modules']} modules seen, "
        f"{s['findings']} finding{'' if s['findings'] == 1 else 's'}; {compliance[result.iec_compliant]}"
    )
    table = Table(title="findings by class and severity")
    table.add_column("class")
    for band in ("S1", "S2", "S3"):
        table.add_column(band, justify="right")
    counts: dict[tuple[str, str], int] = {}
    for f in result.findings:
        counts[(f.anomaly_class, f.severity)] = counts.get((f.anomaly_class, f.severity), 0) + 1
    for cls in sorted({c for c, _ in counts}):
        table.add_row(cls, *(str(counts.get((cls, b), 0)) for b in ("S1", "S2", "S3")))
    out.print(table)
    if result.findings:
        shares = [named_loss_share(f.anomaly_class, f.severity) for f in result.findings]
        loss = loss_at_stake(shares, s["modules"], 0.0, 0.0)
        out.print(
            f"estimated loss: about {loss.modules:.1f} modules' worth of power ({100 * loss.share:.2f} % of "
            f"{s['modules']}); shade, soiling and vegetation ({loss.not_estimated}) not estimated"
        )
    if "frames_with_visible" in s:
        zones = ", ".join(f"{z} {v:.3f}" for z, v in s["rgb_soiling_by_zone"].items()) or "–"
        out.print(f"visible photos registered on {s['frames_with_visible']} frames")
        out.print(f"visible soiling by zone: {zones}")
        for reason, n in s["visible_photos_unused"].items():
            err.print(f"[yellow]visible photos not used[/yellow] {n}: {reason}")
    for note in result.extra.notes:
        out.print(f"note: {note}")
    for skipped in result.skipped[:10]:
        err.print(f"[yellow]skipped[/yellow] {escape(skipped)}")
    out.print(
        f"results: {out_dir / 'results.geojson'}, {out_dir / 'results.csv'}, {out_dir / 'findings.kml'} "
        f"(and .kmz with thermal crops, and photo crops where the frames have photos), "
        f"{out_dir / 'summary.json'}"
    )


def _stop_on_signals() -> threading.Event:
    """An event set by Ctrl-C (SIGINT) or SIGTERM, so a long-running command stops cleanly on either."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _wait_for_signal() -> None:
    """Block until Ctrl-C or SIGTERM; the short polls let the signal handler run promptly."""
    stop = _stop_on_signals()
    while not stop.wait(0.5):
        continue


def _rows_option(text: str) -> dict[str, float]:
    """``A-01:60,A-02:58.5`` → {row: rail length in metres}."""
    rows: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        row, _, length = part.partition(":")
        try:
            rows[row] = float(length)
        except ValueError:
            _fail(f"--rows wants ROW:METRES pairs separated by commas, got {part!r}")
    if not rows:
        _fail("--rows is empty")
    return rows


@app.command("robot-sim")
def robot_sim(
    site: Annotated[str, typer.Option(help="plant code, as in the robot's topics")],
    rows: Annotated[str, typer.Option(help="rows it serves with their rail length: A-01:60,A-02:60")],
    robot: Annotated[str, typer.Option(help="robot id")] = "R1",
    broker: Annotated[str, typer.Option(help="mqtt://host:port")] = "mqtt://127.0.0.1:1883",
    speed: Annotated[float, typer.Option(help="cleaning speed [m/min]")] = 15.0,
    fault_rate: Annotated[float, typer.Option(help="probability of a fault per row")] = 0.0,
    time_scale: Annotated[float, typer.Option(help="simulated seconds per real second")] = 1.0,
    state_file: Annotated[Path | None, typer.Option(help="where it remembers the orders it ran")] = None,
    seed: int = 0,
) -> None:
    """A cleaning robot on the MQTT broker: takes commands, cleans its rows, reports state (Ctrl-C stops)."""

    from gongzhi.modules.pv import mqtt as pvmqtt
    from gongzhi.modules.pv.robot_sim import RobotSimulator, RobotSpec

    spec = RobotSpec(
        site=site,
        robot_id=robot,
        rows=_rows_option(rows),
        speed_m_min=speed,
        fault_rate=fault_rate,
        time_scale=time_scale,
        state_file=state_file,
        seed=seed,
    )
    try:
        sim = RobotSimulator(spec, pvmqtt.Broker.parse(broker))
        sim.start()
    except (ValueError, ConnectionError) as exc:
        _fail(str(exc))
    Console().print(f"robot {robot} of {site} on {broker}, rows {', '.join(spec.rows)}; Ctrl-C stops")
    _wait_for_signal()
    sim.stop()


@app.command("robot-listen")
def robot_listen(
    broker: Annotated[str, typer.Option(help="mqtt://host:port")] = "mqtt://127.0.0.1:1883",
) -> None:
    """Apply the robots' acknowledgements and state to cleaning cases (runs until Ctrl-C)."""
    from gongzhi.modules.pv.cleaning import RobotListener

    _listen("robots", broker, lambda factory, registry, _settings, b: RobotListener(factory, registry, b))


@app.command("dock-sim")
def dock_sim(
    dock: Annotated[str, typer.Option(help="the dock's serial number, as in its topics")],
    plant: Annotated[
        Path, typer.Option(help="the plant layout (GeoJSON, as `pv synth` or the API writes it)")
    ],
    broker: Annotated[str, typer.Option(help="mqtt://host:port")] = "mqtt://127.0.0.1:1883",
    time_scale: Annotated[float, typer.Option(help="simulated seconds per real second")] = 1.0,
    anomalies: Annotated[int, typer.Option(help="anomalies planted per class")] = 1,
    frames: Annotated[Path | None, typer.Option(help="frames already rendered (`pv synth` folder)")] = None,
    visible: Annotated[
        bool,
        typer.Option(
            "--visible", help="send the wide camera's photo with each frame, as a DJI drone takes it"
        ),
    ] = False,
    frame_format: FrameFormatOption = "tiff",
    dji_template: DjiTemplate = None,
    seed: int = 0,
) -> None:
    """A drone dock on the MQTT broker: takes flight tasks, flies them, streams synthetic frames."""

    from gongzhi.modules.pv import mqtt as pvmqtt
    from gongzhi.modules.pv.dock_sim import DockSimulator, DockSpec

    try:
        layout = plant_io.layout_from_geojson(_read_json(plant))
    except (ValueError, KeyError, TypeError) as exc:
        _fail(f"{plant}: not a plant layout: {exc}")
    spec = DockSpec(
        sn=dock,
        layout=layout,
        seed=seed,
        anomalies_per_class=anomalies,
        time_scale=time_scale,
        frame_format=frame_format,
        dji=_dji_camera(frame_format, dji_template),
        visible=visible,
        frames_dir=frames,
    )
    try:
        sim = DockSimulator(spec, pvmqtt.Broker.parse(broker))
        _dji_fits(spec.dji, sim.flight.camera)
        sim.start()
    except (ValueError, ConnectionError) as exc:
        _fail(str(exc))
    Console().print(
        f"dock {dock} on {broker}: {len(sim.flight)} frames over {len(layout.modules)} modules; Ctrl-C stops"
    )
    _wait_for_signal()
    sim.stop()


@app.command("dock-listen")
def dock_listen(
    broker: Annotated[str, typer.Option(help="mqtt://host:port")] = "mqtt://127.0.0.1:1883",
) -> None:
    """Follow the docks' flights: store and analyse frames as they arrive, report on landing."""
    from gongzhi.kit.filestore import FileStore
    from gongzhi.modules.pv.dock import DockListener

    def make(factory: SessionFactory, registry: Registry, settings: Settings, b: Broker) -> DockListener:
        store = FileStore(settings.files_dir, settings.max_upload_bytes)
        return DockListener(factory, registry, store, b)

    _listen("docks", broker, make)


def _listen(
    what: str,
    broker: str,
    make: Callable[[SessionFactory, Registry, Settings, Broker], QueuedListener[Any]],
) -> None:
    """Run a listener made by ``make`` on the configured database until Ctrl-C or SIGTERM. It stops keeping
    its persistent session, so what the broker receives until the next start waits for it."""
    from gongzhi.db import make_engine, make_session_factory
    from gongzhi.modules.pv import mqtt as pvmqtt
    from gongzhi.registry import load_modules
    from gongzhi.settings import get_settings

    settings = get_settings()
    factory = make_session_factory(make_engine(settings.database_url))
    try:
        listener = make(factory, load_modules(), settings, pvmqtt.Broker.parse(broker))
        listener.start()
    except (ValueError, ConnectionError) as exc:
        _fail(str(exc))
    Console().print(f"listening to {what} on {broker}; Ctrl-C stops")
    listener.run(_stop_on_signals())
    listener.stop()


@app.command("one-click")
def one_click(
    plant_id: Annotated[int, typer.Argument(help="the plant (its dock is registered with it)")],
    timeout: Annotated[float, typer.Option(help="seconds to wait for each answer of the dock")] = 10.0,
) -> None:
    """Start a dock inspection of a plant: send the flight plan to its dock and take off."""
    from gongzhi.db import Scope, make_engine, make_session_factory, unit_of_work
    from gongzhi.modules.pv import dock
    from gongzhi.modules.pv.models import PvPlant
    from gongzhi.settings import get_settings

    factory = make_session_factory(make_engine(get_settings().database_url))
    with unit_of_work(factory, Scope.for_system()) as s:
        plant = s.get(PvPlant, plant_id)
        region = plant.region_id if plant is not None else None
    if region is None:
        _fail(f"no plant {plant_id}")
    try:
        iid = dock.one_click_inspection(
            factory, Scope(region_id=region, system=True, username="cli"), plant_id, timeout_s=timeout
        )
    except DomainError as exc:
        _fail(str(exc))
    Console().print(
        f"inspection {iid} queued; the dock has taken the flight (follow it with `pv dock-listen`)"
    )
