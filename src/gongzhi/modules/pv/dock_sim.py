"""A drone dock and its drone speaking the dock protocol over a real MQTT broker (``gongzhi pv dock-sim``),
so one-click inspections run on one machine.

It answers ``flighttask_prepare`` (keeps the wayline) and ``flighttask_execute`` (takes off), refusing a
second flight while one is in the air; it flies the prepared wayline (:func:`route`: its lines at the
wayline's speed, the turns between them, climb and descent, in the plan's flight time), compressed by
``time_scale``, and at each trigger point takes a frame of the synthetic world (:mod:`.analytics.synthetic`,
written as the float32 TIFF the readers read) whose position, yaw and time are those of that trigger point
(GPS with its noise; the time is the moment the compressed flight passes it). Frames go out as
``frame_chunk`` events, and ``flighttask_progress`` at take-off, every few percent of the route (with the
waypoint passed and the position) and on landing. Like a real dock it keeps a
persistent session, and when its link drops mid-flight it keeps flying, buffers what it would have sent and
sends it on reconnecting, starting again with the last frame it sent before the drop (the server stores a
frame received twice once).
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import paho.mqtt.client as mqtt

from gongzhi.modules.pv import mqtt as pvmqtt
from gongzhi.modules.pv.analytics.anomalies import Anomaly
from gongzhi.modules.pv.analytics.layout import PlantLayout
from gongzhi.modules.pv.analytics.synthetic import (
    WIDE_FOCAL_35MM,
    SyntheticFlight,
    reflown,
    retimed,
    synthetic_flight,
)
from gongzhi.modules.pv.io import dock_protocol as proto
from gongzhi.modules.pv.io.dji_writer import DjiCamera
from gongzhi.modules.pv.io.synthetic_files import FrameFormat, frame_name, photo_name, write_frame
from gongzhi.modules.pv.io.visible import visible_jpeg

PROGRESS_STEP_PCT = 5.0


@dataclass(frozen=True)
class Route:
    """A wayline as flown: when the drone passes each point, in seconds after take-off (uncompressed)."""

    trigger_s: tuple[float, ...]
    """Each trigger point, in flight order (the frames of :func:`.synthetic.reflown` along the same lines)."""
    trigger_line: tuple[int, ...]
    """The line (pair of waypoints) each trigger point is on."""
    trigger_lonlat: tuple[tuple[float, float], ...]
    return_s: float
    """End of the last line: the drone heads home."""
    landed_s: float


def route(wayline: proto.Wayline, layout: PlantLayout) -> Route:
    """When a drone flying ``wayline`` passes its trigger points: half the take-off/landing time to climb,
    each line (consecutive waypoint pairs, triggers every ``trigger_spacing_m`` or less, evenly) at
    ``speed_m_s``, the turns between lines at the same speed plus an equal share of what the plan's
    ``flight_time_s`` holds beyond that (braking, settling, transits), the other half to land."""
    origin = layout.origin
    pts = [origin.to_xy(p[0], p[1]) for p in wayline.waypoints]
    lines = list(zip(pts[0::2], pts[1::2], strict=False))
    spacing = wayline.trigger_spacing_m if wayline.trigger_spacing_m > 0 else float("inf")
    speed = max(wayline.speed_m_s, 1e-6)
    length = [math.dist(a, b) for a, b in lines]
    turns = [math.dist(lines[k][1], lines[k + 1][0]) for k in range(len(lines) - 1)]
    survey = max(0.0, wayline.flight_time_s - wayline.takeoff_landing_s)
    spare = max(0.0, survey - (sum(length) + sum(turns)) / speed)
    extra = spare / max(1, len(turns))
    t = wayline.takeoff_landing_s / 2
    times: list[float] = []
    on_line: list[int] = []
    where: list[tuple[float, float]] = []
    for k, ((x0, y0), (x1, y1)) in enumerate(lines):
        n = max(1, math.ceil(length[k] / spacing - 1e-9)) if math.isfinite(spacing) else 1
        for i in range(n + 1):
            times.append(t + length[k] * i / n / speed)
            on_line.append(k)
            where.append(origin.to_lonlat(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n))
        t += length[k] / speed
        if k < len(turns):
            t += turns[k] / speed + extra
    if not turns:
        t += spare
    return Route(tuple(times), tuple(on_line), tuple(where), t, t + wayline.takeoff_landing_s / 2)


@dataclass
class DockSpec:
    sn: str
    layout: PlantLayout
    seed: int = 0
    anomalies_per_class: int = 1
    time_scale: float = 1.0
    stale_after_s: float = 60.0
    """Calls older than this (by their timestamp) are refused: a request queued while the dock was offline."""
    drop_after_frame: int | None = None
    """Test hook: the link drops after this frame was sent, for ``offline_frames`` frames."""
    offline_frames: int = 3
    late_execute_s: float = 0.0
    """Test hook: the reply to ``flighttask_execute`` leaves this many seconds late; the drone takes off at
    once all the same (a reply lost on a slow uplink)."""
    frame_format: FrameFormat = "tiff"
    """How the frames are written (:data:`.io.synthetic_files.FrameFormat`): float32 °C TIFF, or a
    camera's file, a FLIR radiometric JPEG (``flir``) or a DJI R-JPEG (``dji``, with :attr:`dji`)."""
    dji: DjiCamera | None = None
    """For ``frame_format="dji"``: the DJI camera whose files the frames are
    (:func:`.io.dji_writer.dji_camera`)."""
    visible: bool = False
    """The drone's wide camera takes a visible-light photo with each frame (sent before it, as JPEG)."""
    frames_dir: Path | None = None
    """Frames already written for this flight (``frame-0000.tif`` …, as ``pv synth`` writes them): sent as
    they are instead of being rendered during the flight."""
    flights: list[str] = field(default_factory=list)
    clock: Callable[[], dt.datetime] | None = None
    """When a flight takes off (default the time now, UTC): its frames are stamped from it and rendered
    under the sun over the plant then; tests fix it, so that the sun, and its glint, do not follow the
    hour they run at."""


class DockSimulator:
    def __init__(self, spec: DockSpec, broker: pvmqtt.Broker, flight: SyntheticFlight | None = None) -> None:
        self.spec, self.broker = spec, broker
        self.flight = flight or synthetic_flight(
            spec.layout, seed=spec.seed, anomalies_per_class=spec.anomalies_per_class
        )
        self.prepared: dict[str, proto.Wayline] = {}
        self._pitched: dict[float, SyntheticFlight] = {}
        """The plant flown with the camera at another pitch, by pitch."""
        self.flown: dict[str, SyntheticFlight] = {}
        self._taken: dict[str, list[dt.datetime]] = {}
        self._lit: dict[str, SyntheticFlight] = {}
        """Each flight as rendered: flown at its take-off time, under the sun then (:func:`.retimed`)."""
        """Each flight as flown: the plant's whole plan, or other lines (a re-inspection of a few rows)."""
        self.frames_sent = 0
        self.resent: list[int] = []
        self.skip_frames: set[int] = set()
        """Test hook: frames lost on the way (never published during the flight)."""
        self.reconnects = 0
        self._client: mqtt.Client | None = None
        self._flying: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._online = False
        self._buffer: list[tuple[str, bytes]] = []
        self._resend: int | None = None
        self._tmp = Path(tempfile.mkdtemp(prefix=f"dock-{spec.sn}-"))

    # -- lifecycle --
    def start(self) -> None:
        c = pvmqtt.client(f"dock-{self.spec.sn}", persistent=True)
        c.on_message = self._on_message
        c.on_connect = self._on_connect
        c.will_set(proto.topic(self.spec.sn, "osd"), self._osd(online=False), qos=1, retain=True)
        self._client = c
        pvmqtt.connect(c, self.broker, persistent=True)
        pvmqtt.subscribe(
            c, [(proto.topic(self.spec.sn, "services"), 1)]
        )  # a call right after start reaches it
        self._online = True
        c.publish(proto.topic(self.spec.sn, "osd"), self._osd(online=True), qos=1, retain=True)

    def stop(self, *, end_session: bool = False) -> None:
        """Land and disconnect; the broker keeps the dock's session unless ``end_session``."""
        self._stop.set()
        if self._flying is not None:
            self._flying.join(timeout=30)
        c, self._client = self._client, None
        if c is not None:
            c.publish(proto.topic(self.spec.sn, "osd"), self._osd(online=False), qos=1, retain=True)
            pvmqtt.disconnect(c, end_session=end_session)
        shutil.rmtree(self._tmp, ignore_errors=True)

    def flying(self) -> bool:
        return self._flying is not None and self._flying.is_alive()

    def wait_landed(self, timeout_s: float) -> bool:
        if self._flying is not None:
            self._flying.join(timeout_s)
        return not self.flying()

    def after_cleaning(self, modules: Iterable[str]) -> list[str]:
        """The world after a robot cleaned ``modules``: their planted soiling is gone from later flights,
        everything else stays as it was. Returns the modules that were soiled."""
        f, cleaned = self.flight, set(modules)
        soiled = [a.module_id for a in f.anomalies if a.anomaly is Anomaly.SOILING and a.module_id in cleaned]
        scene = f._scene  # the simulated world's scene, not gongzhi's
        slot = scene.slot.copy()
        for m in soiled:
            slot[f.layout.position(m)] = 0  # texture 0: a healthy module
        kept = tuple(a for a in f.anomalies if a.module_id not in soiled)
        self.flight = replace(f, anomalies=kept, _scene=replace(scene, slot=slot))
        return soiled

    # -- services --
    def _on_connect(self, c: mqtt.Client, _u: object, _f: object, _reason: object, _p: object) -> None:
        c.subscribe(proto.topic(self.spec.sn, "services"), qos=1)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            call = proto.read(bytes(msg.payload))
        except proto.ProtocolError:
            return  # no tid to answer to
        reply = self._answer(call)
        topic = proto.topic(self.spec.sn, "services_reply")
        if call.method == proto.EXECUTE and self.spec.late_execute_s > 0:
            late = threading.Timer(self.spec.late_execute_s, self._send, (topic, reply.to_json()))
            late.daemon = True
            late.start()
            return
        self._send(topic, reply.to_json())

    def _answer(self, call: proto.Message) -> proto.Message:
        if proto.now_ms() - call.timestamp > self.spec.stale_after_s * 1000:
            return call.reply(
                proto.RESULT_BAD_REQUEST, "the request is stale (sent while the dock was offline)"
            )
        try:
            fid = proto.flight_id_of(call)
            if call.method == proto.PREPARE:
                wayline = proto.read_wayline(call.data)
            elif call.method == proto.RESEND:
                return self._resend_frames(call, fid, proto.resend_seqs(call))
            elif call.method != proto.EXECUTE:
                return call.reply(proto.RESULT_BAD_REQUEST, f"unknown method {call.method}")
        except proto.ProtocolError as exc:
            return call.reply(proto.RESULT_BAD_REQUEST, str(exc))
        with self._lock:
            if self.flying():
                return call.reply(proto.RESULT_BUSY, "a flight is in progress")
            if call.method == proto.PREPARE:
                self.prepared[fid] = wayline
                return call.reply(proto.RESULT_OK)
            if fid not in self.prepared:
                return call.reply(proto.RESULT_UNKNOWN_FLIGHT, f"flight {fid} was not prepared")
            self.spec.flights.append(fid)
            self._flying = threading.Thread(
                target=self._fly, args=(fid, self.prepared.pop(fid), call.bid), daemon=True
            )
            self._flying.start()
        return call.reply(proto.RESULT_OK)

    def _resend_frames(self, call: proto.Message, fid: str, seqs: list[int]) -> proto.Message:
        if fid not in self.spec.flights:
            return call.reply(proto.RESULT_UNKNOWN_FLIGHT, f"flight {fid} was not flown by this dock")
        wanted = [i for i in seqs if i < len(self.flown.get(fid, self.flight))]
        self.resent.extend(wanted)

        def send() -> None:
            events = proto.topic(self.spec.sn, "events")
            for i in wanted:
                for m in self.frame_messages(i, fid, call.bid):
                    self._send(events, m.to_json())

        threading.Thread(target=send, daemon=True).start()
        return call.reply(proto.RESULT_OK, frames=len(wanted))

    # -- the flight --
    def _sleep(self, seconds: float) -> bool:
        return not self._stop.wait(max(0.0, seconds) / self.spec.time_scale)

    def flight_over(self, wayline: proto.Wayline) -> SyntheticFlight:
        """The world flown along ``wayline``: the whole-plant flight when it is the plant's plan, else the
        same scene rendered along the wayline's own lines (a re-inspection of the cleaned rows). A wayline
        with the camera pitched otherwise flies the same plant, anomalies and seed at that pitch."""
        if wayline.gimbal_pitch_deg != self.flight.gimbal_pitch_deg:
            pitched = self._pitched.get(wayline.gimbal_pitch_deg)
            if pitched is None:
                pitched = self._pitched[wayline.gimbal_pitch_deg] = synthetic_flight(
                    self.spec.layout,
                    seed=self.spec.seed,
                    anomalies_per_class=self.spec.anomalies_per_class,
                    altitude_m=wayline.altitude_m,
                    gimbal_pitch_deg=wayline.gimbal_pitch_deg,
                )
            return pitched
        plan = self.flight.plan.waypoints
        same = len(plan) == len(wayline.waypoints) and all(
            abs(a[0] - b[0]) < 1e-9 and abs(a[1] - b[1]) < 1e-9
            for a, b in zip(plan, wayline.waypoints, strict=True)
        )
        # the same lines with images closer (or farther) apart are another flight over them
        same = same and abs(wayline.trigger_spacing_m - self.flight.plan.trigger_spacing_m) < 1e-6
        if same or wayline.trigger_spacing_m <= 0:
            return self.flight
        return reflown(self.flight, wayline.waypoints, wayline.trigger_spacing_m, wayline.altitude_m)

    def _fly(self, fid: str, wayline: proto.Wayline, bid: str) -> None:
        took_off = (self.spec.clock or _utc_now)()
        flight = self.flown[fid] = self.flight_over(wayline)
        # rendered under the sun of the moment its frames are stamped with, which the analysis works out
        self._lit[fid] = retimed(flight, took_off)
        sn, n = self.spec.sn, len(flight)
        plan = route(wayline, flight.layout)
        if len(plan.trigger_s) != n:  # a wayline without its trigger spacing: the frames spread evenly
            plan = _evenly(plan, n)
        events = proto.topic(sn, "events")
        self._taken[fid] = [took_off + dt.timedelta(seconds=t / self.spec.time_scale) for t in plan.trigger_s]

        def report(status: str, pct: float, phase: str, **ext: object) -> None:
            msg = proto.progress(sn, fid, status, pct, phase, bid, ts=_now(), frames_total=n, **ext)
            self._send(events, msg.to_json())

        report("in_progress", 0.0, "takeoff", took_off_at=took_off.isoformat())
        last_t, last_pct = 0.0, 0.0
        for i in range(n):
            t = plan.trigger_s[i]
            if not self._sleep(t - last_t):
                return
            last_t = t
            for msg in self.frame_messages(i, fid, bid):
                if i not in self.skip_frames:
                    self._send(events, msg.to_json())
            self.frames_sent += 1
            self._link_fault(i)
            pct = 100.0 * t / plan.landed_s
            if pct - last_pct >= PROGRESS_STEP_PCT:
                last_pct = pct
                where, line = plan.trigger_lonlat[i], plan.trigger_line[i]
                report(
                    "in_progress",
                    min(99.0, pct),
                    "survey",
                    frames_sent=i + 1,
                    waypoint=2 * line,
                    lon=where[0],
                    lat=where[1],
                )
        if not self._sleep(plan.return_s - last_t):
            return
        report("in_progress", round(100.0 * plan.return_s / plan.landed_s, 1), "return")
        if not self._sleep(plan.landed_s - plan.return_s):
            return
        self._restore_link()
        report("ok", 100.0, "landed", landed_at=_now())

    def frame_messages(self, i: int, fid: str, bid: str) -> list[proto.Message]:
        """Frame ``i`` of flight ``fid`` as ``frame_chunk`` events: with :attr:`DockSpec.visible`, the
        photo's first, then the frame's naming it."""
        name = frame_name(i, self.spec.frame_format, visible=self.spec.visible)
        if not self.spec.visible:
            return proto.frame_chunks(self.spec.sn, fid, i, name, self.frame_bytes(i, fid), bid)
        photo = photo_name(i)
        shot = proto.frame_chunks(self.spec.sn, fid, i, photo, self.photo_bytes(i, fid), bid, kind="visible")
        return shot + proto.frame_chunks(
            self.spec.sn, fid, i, name, self.frame_bytes(i, fid), bid, visible=photo
        )

    def photo_bytes(self, i: int, fid: str | None = None) -> bytes:
        """The wide camera's photo taken with frame ``i`` of flight ``fid``, as its JPEG."""
        flight = self.flown.get(fid or "", self.flight)
        ready = self.spec.frames_dir / photo_name(i) if self.spec.frames_dir else None
        if flight is self.flight and ready is not None and ready.is_file():
            return ready.read_bytes()
        return visible_jpeg(flight.visible(i), WIDE_FOCAL_35MM)

    def frame_bytes(self, i: int, fid: str | None = None) -> bytes:
        """Frame ``i`` of flight ``fid`` (the whole-plant flight by default) as the camera's file (float32
        °C TIFF by default, :attr:`DockSpec.frame_format`) with its metadata, taken when the flight passed
        its trigger point (the same bytes when sent again)."""
        flight = self.flown.get(fid or "", self.flight)
        named = frame_name(i, self.spec.frame_format, visible=self.spec.visible)
        ready = self.spec.frames_dir / named if self.spec.frames_dir else None
        if flight is self.flight and ready is not None and ready.is_file():
            return ready.read_bytes()
        frame = self._lit.get(fid or "", flight).frame(i)
        taken = self._taken.get(fid or "", [])
        if i < len(taken):
            frame = replace(frame, meta=replace(frame.meta, time=taken[i]))
        path = self._tmp / f"{uuid.uuid4().hex[:8]}-{named}"
        write_frame(path, frame, self.spec.frame_format, self.spec.dji)
        content = path.read_bytes()
        path.unlink()
        return content

    # -- the link --
    def _send(self, topic: str, payload: bytes) -> None:
        with self._lock:
            c = self._client
            if not self._online or c is None:
                self._buffer.append((topic, payload))
                return
        c.publish(topic, payload, qos=1)

    def _link_fault(self, i: int) -> None:
        s = self.spec
        if s.drop_after_frame is None:
            return
        if i == s.drop_after_frame:
            self._drop_link(resend_from=i)
        elif i == s.drop_after_frame + s.offline_frames:
            self._restore_link()

    def _drop_link(self, resend_from: int) -> None:
        """The link drops; the frame just sent may not have been received, so it is sent again afterwards."""
        c = self._client
        if c is None:
            return
        with self._lock:
            self._online = False
        c.disconnect()
        c.loop_stop()
        self._resend = resend_from

    def _restore_link(self) -> None:
        c = self._client
        with self._lock:
            if self._online or c is None:
                return
        pvmqtt.connect(c, self.broker, persistent=True)
        self.reconnects += 1
        events = proto.topic(self.spec.sn, "events")
        fid = self.spec.flights[-1]
        i, self._resend = self._resend, None
        resend: list[tuple[str, bytes]] = []
        if i is not None:
            resend = [(events, m.to_json()) for m in self.frame_messages(i, fid, fid)]
        with self._lock:
            pending, self._buffer = resend + self._buffer, []
            self._online = True
        for topic, payload in pending:
            c.publish(topic, payload, qos=1)

    def _osd(self, *, online: bool) -> bytes:
        data = {"online": online, "mode_code": 0 if online else -1, "drone_in_dock": not self.flying()}
        return proto.Message("osd", data, gateway=self.spec.sn).to_json()


def _evenly(plan: Route, n: int) -> Route:
    start, span = plan.trigger_s[0], plan.return_s - plan.trigger_s[0]
    times = tuple(start + span * i / max(1, n - 1) for i in range(n))
    where = [plan.trigger_lonlat[round(i * (len(plan.trigger_s) - 1) / max(1, n - 1))] for i in range(n)]
    lines = [plan.trigger_line[round(i * (len(plan.trigger_s) - 1) / max(1, n - 1))] for i in range(n)]
    return Route(times, tuple(lines), tuple(where), plan.return_s, plan.landed_s)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def new_flight_id() -> str:
    return str(uuid.uuid4())
