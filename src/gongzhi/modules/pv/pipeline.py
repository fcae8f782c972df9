"""A whole flight through the analysis: frames read from files, fed to per-module accumulators in parallel
(a process pool over chunks of frames, or a Dask cluster), accumulators merged, one outcome.

The outcome is plain records (module results, findings, figures) that the CLI writes as GeoJSON and CSV and
the inspection worker stores; both go through this one path, so a flight analysed from the command line and
the same flight uploaded to the API give the same findings.
"""

from __future__ import annotations

import csv
import io
import math
import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from gongzhi.errors import InvalidInput, msg
from gongzhi.modules.pv import analysis_adapter as adapter
from gongzhi.modules.pv.analytics.frames import ThermalFrame
from gongzhi.modules.pv.analytics.geometry import LocalFrame
from gongzhi.modules.pv.analytics.layout import PlantLayout
from gongzhi.modules.pv.analytics.modules import POSITIONING, ModuleClassifier
from gongzhi.modules.pv.io.reader_errors import ReaderError
from gongzhi.modules.pv.io.thermal import flight_order, visible_companions, visible_pairs
from gongzhi.modules.pv.io.visible import VisibleError, read_visible
from gongzhi.modules.pv.outcome import (
    FindingRecord,
    FlightOutcome,
    FrameInfo,
    ModuleRecord,
    SkippedFrame,
    worst_by_module,
)

Progress = Callable[[int, int], None]
"""Called with (frames done, frames in all) as chunks finish."""

FRAME_SUFFIXES = (".tif", ".tiff", ".jpg", ".jpeg")
TICK_S = 0.1
"""How often a worker reports its frames done to the parent's progress bar at most [s]."""

Photos = Mapping[Path, Path]
"""A thermal frame's path → the path of the visible-light photo taken with it (:func:`photo_pairs`)."""


def without_rtk_of(positioning: str) -> bool | None:
    """The accumulator's ``without_rtk`` for a positioning's name (:data:`.analytics.modules.POSITIONING`)."""
    try:
        return POSITIONING[positioning]
    except KeyError:
        raise ValueError(f"unknown positioning {positioning!r}; known: {', '.join(POSITIONING)}") from None


def frame_paths(folder: Path) -> list[Path]:
    """Thermal frames in ``folder`` (not recursive), in the order they were taken
    (:func:`.io.thermal.flight_order`: their names, numbers compared as numbers); a drone's visible-light
    photos beside them (:func:`visible_companions`) are left out."""
    return frames_and_visible(folder)[0]


def frames_and_visible(folder: Path) -> tuple[list[Path], set[str]]:
    """:func:`frame_paths`, and the names of the visible-light photos it left out."""
    found = (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FRAME_SUFFIXES)
    paths = sorted(found, key=lambda p: flight_order(p.name))
    visible = visible_companions([p.name for p in paths])
    return [p for p in paths if p.name not in visible], visible


def photo_pairs(frames: Sequence[Path], photos: Iterable[str]) -> dict[Path, Path]:
    """Each of ``frames`` that has one of ``photos`` (names in the same folder, as
    :func:`frames_and_visible` gives them) as its visible-light photo, and that photo's path."""
    by_name = {p.name: p for p in frames}
    return {by_name[f]: by_name[f].with_name(v) for f, v in visible_pairs([*by_name, *photos]).items()}


def chunks(items: Sequence[Path], size: int) -> Iterator[list[Path]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


_TICKS: Any = None  # a worker's queue of frames done, set by the pool initializer
_TEMPLATE: Any = None  # an empty accumulator built once in the parent, inherited by forked workers


def _init_worker(ticks: Any, template: Any = None) -> None:
    global _TICKS, _TEMPLATE
    _TICKS, _TEMPLATE = ticks, template


def frame_info(path: Path, frame: ThermalFrame, visible: str | None = None) -> FrameInfo:
    m = frame.meta
    return FrameInfo(
        path.name, m.time, m.lat, m.lon, m.alt_rel_m, m.gimbal_yaw_deg, m.camera, m.model, m.gimbal_pitch_deg,
        visible,
    )  # fmt: skip


Part = tuple[Any, list[SkippedFrame], list[FrameInfo]]
"""What one run over frames gives: the accumulator, the frames skipped (with the reason), the frames read."""


def _feed(acc: Any, paths: Sequence[Path], tick: Callable[[int], None], photos: Photos | None = None) -> Part:
    skipped, infos = [], []
    for done, path in enumerate(paths, start=1):
        info, left_out = feed(acc, path, photos.get(path) if photos else None)
        if left_out is not None:
            skipped.append(left_out)
        if info is not None:
            infos.append(info)
        tick(done)
    return acc, skipped, infos


def feed(acc: Any, path: Path, photo: Path | None = None) -> tuple[FrameInfo | None, SkippedFrame | None]:
    """Read one frame (and ``photo``, the visible-light photo taken with it, when there is one) and add it
    to ``acc``: what it says of itself (``None`` when it could not be read), and why it was left out
    (``None`` when it was analysed)."""
    try:
        frame = adapter.read(path)
    except ValueError as exc:
        return None, unread(path, exc)
    frame, visible = with_photo(frame, photo, acc.camera)
    report = acc.add(frame)
    left_out = None
    if report.skipped:  # read, but not analysed (not placed on the plant, or no modules found)
        left_out = SkippedFrame(path.name, report.skip_reason, report.skipped)
    return frame_info(path, frame, visible), left_out


def with_photo(
    frame: ThermalFrame, photo: Path | None, camera: Any = None
) -> tuple[ThermalFrame, str | None]:
    """``frame`` with its visible-light photo registered onto it (:func:`.io.visible.read_visible`, with
    ``camera``, the flight's thermal camera when it names one) and what became of the photo: ``"used"``,
    the :attr:`.VisibleError.reason` it was not used for (the frame is then analysed without it), or
    ``None`` without a photo."""
    if photo is None:
        return frame, None
    try:
        return replace(frame, rgb=read_visible(photo, frame, camera=camera)), "used"
    except VisibleError as exc:
        return frame, exc.reason


def unread(path: Path, exc: ValueError) -> SkippedFrame:
    """A frame its reader refused: the reader's kind of error (:attr:`.ReaderError.reason`) and its
    problem; another ``ValueError``'s text without the file's name, which it often starts with."""
    if isinstance(exc, ReaderError):
        return SkippedFrame(path.name, exc.reason, exc.problem)
    return SkippedFrame(path.name, ReaderError.reason, str(exc).removeprefix(f"{path.name}: "))


def analyse_chunk(
    paths: Sequence[Path],
    layout: PlantLayout,
    irradiance_w_m2: float | None,
    camera: str | None = None,
    photos: Photos | None = None,
    classifier: ModuleClassifier | None = None,
    without_rtk: bool | None = None,
) -> Part:
    """Read and add one chunk of frames (with their visible-light ``photos``) to a fresh accumulator, whose
    modules ``classifier`` classifies (default the rules), named as ``without_rtk`` says
    (:data:`.analytics.modules.POSITIONING`)."""
    acc = adapter.new_accumulator(
        layout, irradiance_w_m2, camera, like=_TEMPLATE, classifier=classifier, without_rtk=without_rtk
    )
    part = _feed(acc, paths, _Ticker(_TICKS, len(paths)), photos)
    # the part travels back to whoever sent the layout: :func:`_merged` gives it back
    adapter.leave_layout_out(acc)
    return part


class _Ticker:
    """A worker's frames done, put on the parent's ``ticks`` queue at most every :data:`TICK_S` seconds and
    after the last frame: a put per frame wakes the queue's feeder thread and the parent's progress loop
    for every frame, CPU that the analysis pays for nothing."""

    def __init__(self, ticks: Any, total: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ticks, self.total, self.clock = ticks, total, clock
        self.sent, self.last = 0, clock()

    def __call__(self, done: int) -> None:
        if self.ticks is None:
            return
        now = self.clock()
        if done >= self.total or now - self.last >= TICK_S:
            self.ticks.put(done - self.sent)
            self.sent, self.last = done, now


def _analyse_inherited(
    paths: Sequence[Path], irradiance_w_m2: float | None, camera: str | None, photos: Photos | None = None
) -> Part:
    """:func:`analyse_chunk` in a forked worker, on the plant of the template it inherited: the layout is not
    sent (pickling a 17,000-module plant takes ~0.13 s of the parent's CPU a task, loading it as much of
    the worker's, and comparing it with the template's another ~0.02 s)."""
    t = _TEMPLATE
    return analyse_chunk(paths, t.layout, irradiance_w_m2, camera, photos, t.classifier, t.without_rtk)


def decode_chunk(paths: Sequence[Path]) -> int:
    """Read a chunk of frames and do nothing with them (the decoding baseline of ``bench/pv``)."""
    n = 0
    for path in paths:
        adapter.read(path)
        n += 1
    return n


def decode_flight(paths: Sequence[Path], *, workers: int = 1, chunk_size: int | None = None) -> int:
    """Read every frame and drop it, split as :func:`analyse_flight` splits them: the decoding baseline
    (a flight's DJI R-JPEGs prepared first, their camera's table made in one call of ``dji-thermal-cli``,
    as :func:`analyse_flight` prepares them)."""
    adapter.prepare(paths, jobs=max(workers, 1))
    size = chunk_size or max(1, math.ceil(len(paths) / max(1, workers)))
    parts = list(chunks(paths, size))
    if workers <= 1 or len(parts) <= 1:
        return sum(decode_chunk(part) for part in parts)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(decode_chunk, parts))


def analyse_flight(
    paths: Sequence[Path],
    layout: PlantLayout,
    *,
    irradiance_w_m2: float | None = None,
    camera: str | None = None,
    workers: int = 1,
    chunk_size: int | None = None,
    progress: Progress | None = None,
    photos: Photos | None = None,
    classifier: ModuleClassifier | None = None,
    positioning: str = "auto",
) -> FlightOutcome:
    """Analyse a flight's frames against a plant layout.

    Parameters
    ----------
    paths : sequence of Path
        Frame files in flight order.
    layout : PlantLayout
        The plant.
    irradiance_w_m2 : float, optional
        Plane-of-array irradiance during the flight [W m-2], for ΔTn and the IEC compliance flag.
    camera : str, optional
        Key of the thermal camera (``"M3T"``) when the frames' metadata do not name it.
    workers : int
        Processes reading and analysing frames; 1 streams every frame through one accumulator in this
        process.
    chunk_size : int, optional
        Frames per task; default one contiguous part of the flight per worker.
    progress : callable, optional
        Called with (frames done, frames in all) as frames are done.
    photos : mapping, optional
        A frame's path → the visible-light photo taken with it (:func:`photo_pairs`), registered onto the
        frame for the visible soiling index (:func:`.io.visible.read_visible`).
    classifier : ModuleClassifier, optional
        What names the anomaly of a module the screen flags; default the rules
        (:class:`.analytics.modules.RuleClassifier`); e.g. :func:`.analytics.modules.ism_classifier`, the
        rules overruled by the shipped crop network where it is confident. It must pickle for
        ``workers`` > 1.
    positioning : str
        How the modules a frame sees are named (:data:`.analytics.modules.POSITIONING`): ``"auto"`` from the
        positions while the frames say they are an RTK fix, by fingerprints and row ends from the first that
        says it is not; ``"rtk"`` always from the positions; ``"gnss"`` always by fingerprints.

    Raises
    ------
    ValueError
        If no frame could be read and placed on the plant (:class:`NothingAnalysed`), or none of those
        that were sees a module of it (:class:`OffThePlant`).
    """
    total = len(paths)
    without_rtk = without_rtk_of(positioning)
    adapter.prepare(paths, jobs=workers)
    if workers <= 1:
        return _stream(paths, layout, irradiance_w_m2, camera, progress, photos, classifier, without_rtk)
    # one contiguous run of frames per worker: each builds its accumulator (module index, neighbours) once
    # and keeps the pose refinement's running correction along its part of the flight
    parts = list(chunks(paths, chunk_size or max(1, math.ceil(total / workers))))
    return _merged(
        _run(
            parts, layout, irradiance_w_m2, camera, workers, total, progress, photos, classifier, without_rtk
        ),
        layout,
        total,
    )


def analyse_photos(
    paths: Sequence[Path],
    *,
    irradiance_w_m2: float | None = None,
    camera: str | None = None,
    module_type: str = "72",
    workers: int = 1,
    progress: Progress | None = None,
    photos: Photos | None = None,
    classifier: ModuleClassifier | None = None,
) -> FlightOutcome:
    """Analyse thermal photos without a plant layout: the modules are segmented in each frame
    (:class:`.analytics.modules.LayoutFreeAccumulator`). Frames that carry GPS, altitude and a known camera
    are placed on the ground, and a module seen in several of them is one module (``X-00001``…); a frame
    without them reports its modules on their own (``F0003-017``).

    With ``workers`` > 1 the frames are read and segmented in a process pool, and this process places
    them in flight order (each frame's modules are matched to those mapped before it): the outcome is the
    one a single process gives.

    Parameters are those of :func:`analyse_flight` (``photos`` and ``classifier`` too), and
    ``module_type``, a key of :data:`.analytics.layout.MODULE_TYPES` (the cell grid each module's map is
    resampled on).

    Raises
    ------
    ValueError
        If no frame could be read and analysed.
    """
    adapter.prepare(paths, jobs=max(workers, 1))
    adapter.load_kernels()
    acc = adapter.new_photo_accumulator(irradiance_w_m2, camera, module_type, classifier)

    def tick(done: int) -> None:
        if progress is not None:
            progress(done, len(paths))

    if workers <= 1:
        _, skipped, infos = _feed(acc, paths, tick, photos)
    else:
        skipped, infos = _place_segmented(acc, paths, workers, tick, photos)
    _refuse_empty(len(paths), skipped)
    modules, findings, extra = adapter.photo_records(acc)
    return FlightOutcome(
        modules=tuple(modules),
        findings=tuple(findings),
        frames=len(paths),
        frames_used=len(paths) - len(skipped),
        irradiance_w_m2=extra.irradiance_w_m2,
        iec_compliant=extra.iec_compliant,
        skipped=tuple(skipped),
        extra=extra,
        frame_infos=tuple(infos),
    )


def _place_segmented(
    acc: Any, paths: Sequence[Path], workers: int, tick: Callable[[int], None], photos: Photos | None = None
) -> tuple[list[SkippedFrame], list[FrameInfo]]:
    """Frames read and segmented in a pool of ``workers`` processes (copies of ``acc``, whose origin is
    the first frame's with a position, as a single process would take it) and placed in ``acc`` in
    flight order; the frames skipped (with the reason) and those read."""
    for path in paths:  # the origin: the first frame read that has a position
        try:
            frame = adapter.read(path)
        except ValueError:
            continue
        if frame.meta.lat is not None and frame.meta.lon is not None:
            acc.origin = LocalFrame(frame.meta.lon, frame.meta.lat)
            break
    skipped: list[SkippedFrame] = []
    infos: list[FrameInfo] = []
    ctx = multiprocessing.get_context()
    with ProcessPoolExecutor(workers, ctx, initializer=_init_worker, initargs=(None, acc)) as pool:
        pairs = [(p, photos.get(p) if photos else None) for p in paths]
        for done, (path, got) in enumerate(
            zip(paths, pool.map(_segment_photo, pairs, chunksize=4), strict=True), start=1
        ):
            if isinstance(got, SkippedFrame):
                skipped.append(got)
            else:
                info, segmented = got
                report = acc.place(segmented)
                if report.skipped:
                    skipped.append(SkippedFrame(path.name, report.skip_reason, report.skipped))
                infos.append(info)
            tick(done)
    return skipped, infos


def _segment_photo(pair: tuple[Path, Path | None]) -> SkippedFrame | tuple[FrameInfo, Any]:
    """In a pool's worker: why the frame was not read, or its info and its segmented frame (with its
    visible-light photo when it has one)."""
    path, photo = pair
    try:
        frame = adapter.read(path)
    except ValueError as exc:
        return unread(path, exc)
    frame, visible = with_photo(frame, photo, _TEMPLATE.camera)
    return frame_info(path, frame, visible), _TEMPLATE.segment(frame)


def _merged(results: Sequence[Part], layout: PlantLayout, total: int) -> FlightOutcome:
    """The parts of a flight, in flight order, merged into one outcome."""
    merged: Any = None
    skipped: list[SkippedFrame] = []
    infos: list[FrameInfo] = []
    # an outcome is two records per module (34,000 on a 17,000-module plant): their allocations set off
    # collections over the process's objects, about a third of the merge's CPU, that free nothing
    with adapter.cyclic_gc_paused():
        for acc, bad, read in results:
            adapter.attach(acc, layout)
            merged = acc if merged is None else adapter.merge(merged, acc)
            skipped += bad
            infos += read
        return outcome(merged, layout, total, skipped, infos)


def _stream(
    paths: Sequence[Path],
    layout: PlantLayout,
    irradiance: float | None,
    camera: str | None,
    progress: Progress | None,
    photos: Photos | None = None,
    classifier: ModuleClassifier | None = None,
    without_rtk: bool | None = None,
) -> FlightOutcome:
    """One accumulator fed frame by frame in this process, as frames would arrive from a drone."""
    adapter.load_kernels()
    acc = adapter.new_accumulator(layout, irradiance, camera, classifier=classifier, without_rtk=without_rtk)
    tick = (lambda done: progress(done, len(paths))) if progress is not None else (lambda _done: None)
    part = _feed(acc, paths, tick, photos)
    return _merged([part], layout, len(paths))


def _run(
    parts: list[list[Path]],
    layout: PlantLayout,
    irradiance: float | None,
    camera: str | None,
    workers: int,
    total: int,
    progress: Progress | None,
    photos: Photos | None = None,
    classifier: ModuleClassifier | None = None,
    without_rtk: bool | None = None,
) -> list[Part]:
    ctx = multiprocessing.get_context()
    ticks = ctx.Queue()
    # forked workers inherit the parent's module index, neighbour table and compiled kernels instead of
    # each building or loading them, and the layout with the template, so that tasks need not carry it
    # (other start methods would pickle the template, which leaves the index and the table out: each
    # worker builds its own and loads the kernels on its first frame)
    template = None
    if ctx.get_start_method() == "fork":
        adapter.load_kernels()  # first: the template's neighbour table uses them
        template = adapter.new_accumulator(
            layout, irradiance, camera, classifier=classifier, without_rtk=without_rtk
        )
    initargs = (ticks, template)
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=initargs) as pool:
        mine = [_photos_of(part, photos) for part in parts]
        if template is None:
            futures = [pool.submit(analyse_chunk, part, layout, irradiance, camera, mine[k], classifier,
                                   without_rtk) for k, part in enumerate(parts)]  # fmt: skip
        else:
            futures = [pool.submit(_analyse_inherited, part, irradiance, camera, mine[k])
                       for k, part in enumerate(parts)]  # fmt: skip
        done = 0
        # a task that ends wakes the wait below at once (0 frames more) instead of at its timeout: the
        # last one's end was noticed up to 0.2 s late, a tenth of the bench flight's wall time
        for f in futures:
            f.add_done_callback(lambda _f: ticks.put(0))
        while not all(f.done() for f in futures):
            done += _drain(ticks, 0.2)
            if progress is not None:
                progress(min(done, total), total)
        out = [f.result() for f in futures]
    if progress is not None:
        progress(total, total)
    return out


def _photos_of(paths: Sequence[Path], photos: Photos | None) -> dict[Path, Path] | None:
    """The photos of ``paths`` only: what a task over them carries."""
    if not photos:
        return None
    return {p: photos[p] for p in paths if p in photos} or None


def _drain(ticks: Any, wait_s: float) -> int:
    n = 0
    try:
        n += ticks.get(timeout=wait_s)
        while True:
            n += ticks.get_nowait()
    except queue.Empty:
        return n


def analyse_flight_on_cluster(
    paths: Sequence[Path],
    layout: PlantLayout,
    client: Any,
    *,
    irradiance_w_m2: float | None = None,
    camera: str | None = None,
    chunk_size: int = 50,
    progress: Progress | None = None,
    photos: Photos | None = None,
    classifier: ModuleClassifier | None = None,
    positioning: str = "auto",
) -> FlightOutcome:
    """The same job on a Dask cluster: one task per chunk of frames, accumulators merged as they come.

    ``client`` is a ``distributed.Client`` (``pip install 'gongzhi[cluster]'``); every worker must see the
    frame files at ``paths`` and the ``photos`` (a shared file system or a mounted object store) and have
    gongzhi installed. The layout travels to the workers once (``client.scatter``). DJI R-JPEGs are
    converted file by file on the workers, each of which then needs ``dji-thermal-cli``
    (``io/dji_thermal_cli.py``); a shared ``GONGZHI_DJI_CACHE`` lets a flight converted once be read by all
    of them.
    """
    from distributed import as_completed

    without_rtk = without_rtk_of(positioning)
    parts = list(chunks(paths, chunk_size))
    shared = client.scatter(layout, broadcast=True)
    futures = {
        client.submit(
            analyse_chunk,
            part,
            shared,
            irradiance_w_m2,
            camera,
            _photos_of(part, photos),
            classifier,
            without_rtk,
            pure=False,
        ): k
        for k, part in enumerate(parts)
    }
    finished: dict[int, Part] = {}
    done = 0
    for future in as_completed(futures):
        k = futures[future]
        finished[k] = future.result()
        done += len(parts[k])
        if progress is not None:
            progress(done, len(paths))
    # merged in flight order, so the outcome does not depend on which worker finished first
    return _merged([finished[k] for k in range(len(parts))], layout, len(paths))


def outcome(
    merged: Any, layout: PlantLayout, total: int, skipped: list[SkippedFrame], infos: Sequence[FrameInfo] = ()
) -> FlightOutcome:
    _refuse_empty(0 if merged is None else total, skipped)
    modules, findings, extra = adapter.records(merged, layout)
    if extra.frames_with_modules == 0:
        raise OffThePlant(total - len(skipped), _distance_m(infos, layout))
    return FlightOutcome(
        modules=tuple(modules),
        findings=tuple(findings),
        frames=total,
        frames_used=total - len(skipped),
        irradiance_w_m2=extra.irradiance_w_m2,
        iec_compliant=extra.iec_compliant,
        skipped=tuple(skipped),
        extra=extra,
        frame_infos=tuple(infos),
    )


NOTHING_ANALYSED = msg("no frame of the flight could be read and analysed")


class NothingAnalysed(ValueError):
    """No frame of a flight could be read and analysed; ``skipped`` says why of each, and the text gives the
    first three reasons."""

    def __init__(self, skipped: Sequence[SkippedFrame]) -> None:
        reasons = "; ".join(skipped[:3])
        super().__init__(f"{NOTHING_ANALYSED}{': ' + reasons if reasons else ''}")
        self.skipped = tuple(skipped)


class OffThePlant(InvalidInput, ValueError):
    """The flight's frames were read and placed, and none of them sees a module of the plant: frames of
    another roof, or the wrong plant chosen. Reporting such a flight as done with no findings would read as
    a healthy plant, so it is refused with where the frames were."""

    def __init__(self, frames: int, distance_m: float | None) -> None:
        if distance_m is None:
            detail = msg(
                "none of the %(frames)s frames read sees a module of the plant, and they have no position: "
                "were they taken over this plant?",
                frames=frames,
            )
        else:
            far = f"{distance_m / 1000:.1f} km" if distance_m >= 1000 else f"{distance_m:.0f} m"
            detail = msg(
                "none of the %(frames)s frames read sees a module of the plant: the nearest was taken "
                "%(distance)s from its modules. Were they taken over this plant?",
                frames=frames,
                distance=far,
            )
        super().__init__(detail)
        self.distance_m = distance_m


def _distance_m(infos: Sequence[FrameInfo], layout: PlantLayout) -> float | None:
    """How far the nearest frame with a position was taken from the box about the plant's modules [m];
    ``None`` when no frame has one."""
    placed = [(i.lon, i.lat) for i in infos if i.lon is not None and i.lat is not None]
    if not placed or not layout.modules:
        return None
    centres = layout.centres_xy()
    (x0, y0), (x1, y1) = centres.min(axis=0), centres.max(axis=0)
    nearest = math.inf
    for lon, lat in placed:
        x, y = layout.origin.to_xy(lon, lat)
        nearest = min(nearest, math.hypot(max(x0 - x, 0.0, x - x1), max(y0 - y, 0.0, y - y1)))
    return nearest


def _refuse_empty(total: int, skipped: Sequence[SkippedFrame]) -> None:
    """Raise :class:`NothingAnalysed` when no frame was read and analysed."""
    if total - len(skipped) <= 0:
        raise NothingAnalysed(skipped)


def default_workers() -> int:
    """One process per CPU core this process may run on."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


# --- writing results --------------------------------------------------------------------------------

CSV_FIELDS = (
    "module_id", "lon", "lat", "frames_seen", "t_median_c", "t_p95_c", "t_max_c", "t_corrected_k",
    "soiling_index", "anomaly_class", "delta_t_k", "delta_tn_k", "severity", "coa", "rgb_soiling_index",
    "delta_t_lower_bound",
)  # fmt: skip
"""The results CSV's columns; ones added later go at the end, so a sheet that reads them by position
keeps working."""


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


def module_rows(modules: Sequence[ModuleRecord], findings: Sequence[FindingRecord]) -> list[dict[str, Any]]:
    """One row per module, with its worst finding (highest ΔT) when it has any."""
    worst = worst_by_module(findings)
    rows = []
    for m in modules:
        w = worst.get(m.module_id)
        rows.append(
            {
                "module_id": m.module_id,
                "lon": _round(m.lon, 8),
                "lat": _round(m.lat, 8),
                "frames_seen": m.frames_seen,
                "t_median_c": _round(m.t_median_c),
                "t_p95_c": _round(m.t_p95_c),
                "t_max_c": _round(m.t_max_c),
                "t_corrected_k": _round(m.t_corrected_k),
                "soiling_index": _round(m.soiling_index),
                "rgb_soiling_index": _round(m.extra.get("rgb_soiling_index")),
                "anomaly_class": w.anomaly_class if w else m.anomaly_class,
                "delta_t_k": _round(w.delta_t_k) if w else None,
                "delta_tn_k": _round(w.delta_tn_k) if w else None,
                "severity": w.severity if w else "",
                "coa": w.coa if w else 1,
                # the pattern was smaller than the camera's measurement spot: ΔT and ΔTn read low
                "delta_t_lower_bound": bool(w.details.get("delta_t_lower_bound")) if w else None,
            }
        )
    return rows


def results_csv(rows: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return buffer.getvalue()


def results_geojson(
    rows: Sequence[dict[str, Any]], outlines: dict[str, list[list[float]]], summary: dict[str, Any]
) -> dict[str, Any]:
    """Per-module results as a FeatureCollection: each module's outline with its row as properties; a
    module without an outline is its centre, and one without a position has no geometry (RFC 7946 §3.2)."""
    features = []
    for row in rows:
        ring = outlines.get(row["module_id"])
        geometry: dict[str, Any] | None = None
        if ring:
            geometry = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
        elif row["lon"] is not None and row["lat"] is not None:
            geometry = {"type": "Point", "coordinates": [row["lon"], row["lat"]]}
        features.append({"type": "Feature", "id": row["module_id"], "geometry": geometry, "properties": row})
    return {"type": "FeatureCollection", "properties": summary, "features": features}


def layout_outlines(layout: PlantLayout) -> dict[str, list[list[float]]]:
    corners = layout.corners_xy().tolist()
    return {
        m.id: [list(layout.origin.to_lonlat(x, y)) for x, y in quad]
        for m, quad in zip(layout.modules, corners, strict=True)
    }


def finding_dicts(findings: Sequence[FindingRecord]) -> list[dict[str, Any]]:
    """The findings as JSON-ready dicts: a position that is not known (a photo without GPS) is ``None``,
    not NaN, which JSON cannot spell."""
    return [
        {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in asdict(f).items()}
        for f in findings
    ]
