"""Drone docks on the PV module: one-click inspection over the dock protocol (DJI Cloud API style, MQTT).

- :func:`register_dock` makes a dock an actor of the plant's region (kind ``dock``, adapter ``pv_dock_mqtt``)
  with its serial number, broker and camera.
- :func:`one_click_inspection` queues an inspection (source ``dock``), sends the plant's flight plan with
  ``flighttask_prepare`` then ``flighttask_execute`` and waits for each ``services_reply``; a dock that does
  not answer in time, or refuses, fails the inspection with the reason and raises :class:`DockError`.
- :class:`DockListener` (``gongzhi pv dock-listen``) follows the docks' events with a persistent session:
  take-off (``inspection.started_at``), progress, and frames arriving in chunks. Each chunk is spooled to disk
  before it is acknowledged; each complete frame is stored once as evidence (by flight and sequence number: a
  frame received twice is stored once) and fed at once to the inspection's accumulator, so progress and live
  figures grow during the flight; on landing, when every frame is in, the findings and alerts are stored as
  the worker stores an uploaded flight's (:func:`.results.store_outcome`), and ``analysed_at`` is set, so
  take-off → report is measured. A listener restarted mid-flight rebuilds the accumulator from the frames
  already stored. A re-inspection of a cleaning case then judges the cleaning in the same transaction
  (:func:`.loop.verify_reinspection`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import queue
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongzhi.cases.models import Actor
from gongzhi.core import evidence
from gongzhi.core.service import require_role
from gongzhi.db import Scope, SessionFactory, scope_of, unit_of_work, utcnow
from gongzhi.errors import Conflict, InvalidInput, NotFound, msg
from gongzhi.kit.filestore import JPEG, FileRejected, FileStore, display_name
from gongzhi.modules.pv import analysis_adapter as adapter
from gongzhi.modules.pv import cleaning, loop, pipeline, results, service
from gongzhi.modules.pv import mqtt as pvmqtt
from gongzhi.modules.pv.analytics.flightplan import FlightPlan
from gongzhi.modules.pv.analytics.layout import PlantLayout
from gongzhi.modules.pv.io import dock_protocol as proto
from gongzhi.modules.pv.models import PvFrame, PvInspection, PvPlant
from gongzhi.modules.pv.outcome import FrameInfo, SkippedFrame
from gongzhi.registry import Registry

log = logging.getLogger(__name__)

ADAPTER = "pv_dock_mqtt"
SOURCE = "dock"
REPLY_TIMEOUT_S = 10.0
LIVE_EVERY_S = 5.0


class DockError(Conflict):
    """The dock refused the flight, or did not answer in time; the text says which and why."""


class DockUnreachable(DockError):
    """The dock (or its broker) did not answer within the timeout: HTTP 504, the gateway timed out."""

    status, code, title = 504, "dock-unreachable", "The dock did not answer"


def register_dock(
    s: Session,
    plant: PvPlant,
    sn: str,
    *,
    broker: str = pvmqtt.DEFAULT_BROKER,
    camera: str = "M3T",
    name: str | None = None,
) -> Actor:
    """A drone dock (serial ``sn``) that flies ``plant``'s inspections with a ``camera`` payload."""
    broker = pvmqtt.checked(broker)
    proto.topic(sn, "services")  # the serial must be usable in topics
    service.camera_of(camera)
    if dock_of(s, plant.id, required=False) is not None:
        raise InvalidInput(msg("plant %(code)s already has a dock", code=plant.code))
    actor = Actor(
        region_id=plant.region_id,
        kind="dock",
        name=name or f"{plant.code} 机场 {sn}",
        adapter=ADAPTER,
        config={"plant_id": plant.id, "site": plant.code, "sn": sn, "broker": broker, "camera": camera},
    )
    s.add(actor)
    s.flush()
    return actor


def dock_of(s: Session, plant_id: int, *, required: bool = True) -> Actor | None:
    actors = s.execute(select(Actor).where(Actor.adapter == ADAPTER, Actor.active.is_(True))).scalars()
    dock = next((a for a in actors if a.config.get("plant_id") == plant_id), None)
    if dock is None and required:
        raise InvalidInput(msg("plant %(plant_id)s has no drone dock; register one first", plant_id=plant_id))
    return dock


def wayline(plan: FlightPlan) -> proto.Wayline:
    """The plan as the dock gets it (the waypoints of its WPML, the KMZ's MD5 as fingerprint)."""
    from gongzhi.modules.pv.io.wpml import write_wpml_kmz

    kmz = write_wpml_kmz(plan, created=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    return proto.Wayline(
        waypoints=tuple(plan.waypoints),
        images=plan.image_count,
        speed_m_s=plan.speed_m_s,
        altitude_m=plan.altitude_m,
        camera=plan.camera.key,
        flight_time_s=plan.flight_time_s,
        takeoff_landing_s=plan.takeoff_landing_time_s,
        fingerprint=hashlib.md5(kmz, usedforsecurity=False).hexdigest(),
        trigger_spacing_m=plan.trigger_spacing_m,
        gimbal_pitch_deg=plan.gimbal_pitch_deg,
    )


def docks_of(s: Session, plant_id: int) -> list[Actor]:
    """The plant's active docks (at most one: :func:`register_dock` refuses a second)."""
    actors = s.execute(
        select(Actor).where(Actor.adapter == ADAPTER, Actor.active.is_(True)).order_by(Actor.id)
    ).scalars()
    return [a for a in actors if a.config.get("plant_id") == plant_id]


def _chosen_dock(s: Session, plant: PvPlant, ref: str | None) -> Actor:
    """The plant's dock; ``ref`` (its actor id or serial number), when given, must name it."""
    found = dock_of(s, plant.id)
    assert found is not None
    if ref is not None and ref not in (str(found.id), str(found.config.get("sn"))):
        raise InvalidInput(
            msg(
                "%(ref)r is not the dock of plant %(code)s (its dock is %(sn)s)",
                ref=ref,
                code=plant.code,
                sn=found.config["sn"],
            )
        )
    return found


def queue_flight(
    s: Session, plant_id: int, conditions: FlightRequest | None = None
) -> tuple[PvInspection, dict[str, Any], proto.Wayline]:
    """Create the dock inspection (queued) after the checks; returns it, the dock's config and the wayline."""
    require_role(scope_of(s), *service.INSPECTORS)
    want = conditions or FlightRequest()
    classifier = service.classifier_of(want.classifier or "rules")
    min_confidence = service.min_confidence_of(classifier, want.min_confidence)
    plant = service.get_plant(s, plant_id)
    positioning = service.positioning_of(want.positioning or plant.positioning)
    dock = _chosen_dock(s, plant, want.dock)
    busy = s.execute(
        select(PvInspection.id).where(
            PvInspection.plant_id == plant.id,
            PvInspection.source == SOURCE,
            PvInspection.status.in_(("queued", "running")),
        )
    ).first()
    if busy is not None:
        raise Conflict(
            msg(
                "plant %(code)s has a dock flight in progress (inspection %(inspection_id)s)",
                code=plant.code,
                inspection_id=busy[0],
            )
        )
    camera = str(dock.config.get("camera", "M3T"))
    plan, extra = _plan_for(s, plant, camera, want.case_id, want.gimbal_pitch_deg)
    line = wayline(plan)
    config = dict(dock.config)
    flight_id = str(uuid.uuid4())
    inspection = PvInspection(
        region_id=plant.region_id,
        plant_id=plant.id,
        camera=camera,
        source=SOURCE,
        status="queued",
        classifier=classifier,
        min_confidence=min_confidence,
        positioning=positioning,
        irradiance_w_m2=want.irradiance_w_m2,
        wind_m_s=want.wind_m_s,
        created_by=scope_of(s).user_id,
        summary={
            "dock": {
                "sn": config["sn"],
                "flight_id": flight_id,
                "images": line.images,
                "phase": "queued",
                **extra,
            }
        },
    )
    s.add(inspection)
    s.flush()
    service._audit(
        s,
        "pv.inspection.one_click",
        "pv_inspection",
        inspection.id,
        {
            "plant": plant.code,
            "dock": config["sn"],
            "classifier": classifier,
            "min_confidence": min_confidence,
            "positioning": positioning,
            **extra,
        },
    )
    return inspection, config, line


def _plan_for(
    s: Session, plant: PvPlant, camera: str, case_id: int | None, gimbal_pitch_deg: float = -90.0
) -> tuple[FlightPlan, dict[str, Any]]:
    """The whole plant's plan (oblique when ``gimbal_pitch_deg`` is above −90), or for a cleaning case the
    short flight straight down over its cleaned rows."""
    if not -90.0 <= gimbal_pitch_deg <= -30.0:
        raise InvalidInput(msg("the gimbal pitch must be from -90 to -30 degrees"))
    if case_id is None:
        ring = service.polygon_ring(plant.polygon)
        plan = service.flight_plan(
            ring,
            camera,
            row_azimuth_deg=plant.row_azimuth_deg,
            gimbal_pitch_deg=gimbal_pitch_deg,
            module_footprint_m=service.module_footprint(plant),
        )
        return plan, {} if gimbal_pitch_deg == -90.0 else {"gimbal_pitch_deg": gimbal_pitch_deg}
    if gimbal_pitch_deg != -90.0:
        raise InvalidInput(msg("a re-inspection of cleaned rows is flown straight down (gimbal pitch -90°)"))
    order, _plant, plan = loop.reinspection_plan(s, case_id, camera)
    if order.plant_id != plant.id:
        raise NotFound(
            msg("no cleaning case %(case_id)s of plant %(code)s", case_id=case_id, code=plant.code)
        )
    return plan, {"reinspection_of": case_id, "reinspected_modules": len(loop.cleaned_modules(order))}


def reinspect_cleaning(
    factory: SessionFactory,
    scope: Scope,
    case_id: int,
    *,
    timeout_s: float = REPLY_TIMEOUT_S,
    conditions: FlightRequest | None = None,
) -> int:
    """One-click re-inspection of a cleaning case: the plant's dock flies only over the cleaned rows
    (:func:`.loop.reinspection_plan`); on landing the listener judges the cleaning with it
    (:func:`.loop.verify_reinspection`). Without a classifier in ``conditions`` it names anomalies as the
    inspection that found the soiling did (its classifier and network confidence), so that a module is not
    read one way before the cleaning and another after it for the classifier's sake; and without a
    positioning, names the modules a frame sees as that inspection did."""
    with unit_of_work(factory, scope) as s:
        order = cleaning.order_for_case(s, case_id)
        plant_id, found_by = order.plant_id, order.inspection_id
        want = replace(conditions or FlightRequest(), case_id=case_id)
        source = s.get(PvInspection, found_by) if found_by is not None else None
        if want.classifier is None and source is not None:
            least = service.network_confidence(source) if want.min_confidence is None else want.min_confidence
            want = replace(want, classifier=service.classifier_of(source.classifier), min_confidence=least)
        if want.positioning is None and source is not None:
            want = replace(want, positioning=service.positioning_of(source.positioning))
    return one_click_inspection(factory, scope, plant_id, timeout_s=timeout_s, conditions=want)


@dataclass(frozen=True)
class FlightRequest:
    """What the operator gives with a one-click inspection: which dock (actor id or serial; the plant's
    own when ``None``) and the conditions measured on site: irradiance in the module plane [W m-2], wind
    [m s-1]."""

    dock: str | None = None
    irradiance_w_m2: float | None = None
    wind_m_s: float | None = None
    case_id: int | None = None
    """A resolved cleaning case: fly only over its cleaned rows (a re-inspection)."""
    gimbal_pitch_deg: float = -90.0
    """The camera's pitch: −90 straight down, up to −30 an oblique flight (its own plan, looking ahead)."""
    classifier: service.Classifier | None = None
    """What names the flagged modules' anomalies (:data:`.service.CLASSIFIERS`), as for an uploaded flight;
    ``None``: the rules, or for a re-inspection (:func:`reinspect_cleaning`) as the inspection that found
    the soiling."""
    min_confidence: float | None = None
    """With ``classifier="learned"``: the network's least confidence to rename an anomaly
    (:func:`.service.min_confidence_of`)."""
    positioning: service.Positioning | None = None
    """How the modules a frame sees are named (:data:`.service.POSITIONINGS`); ``None``: as the plant's
    flights are flown (:attr:`.PvPlant.positioning`), or for a re-inspection as the inspection that found
    the soiling."""


def one_click_inspection(
    factory: SessionFactory,
    scope: Scope,
    plant_id: int,
    *,
    timeout_s: float = REPLY_TIMEOUT_S,
    conditions: FlightRequest | None = None,
) -> int:
    """Queue an inspection of ``plant_id`` and start its dock's flight; returns the inspection id.

    Raises
    ------
    NotFound, InvalidInput, Conflict
        Unknown plant, no dock, a dock flight of this plant already in progress.
    DockError
        The dock refused a call (:class:`DockUnreachable` when it, or its broker, did not answer within
        ``timeout_s``); the inspection is then ``failed`` with the same reason.
    """
    with unit_of_work(factory, scope) as s:
        inspection, config, line = queue_flight(s, plant_id, conditions)
        inspection_id, flight_id = inspection.id, inspection.summary["dock"]["flight_id"]
    broker, sn = pvmqtt.Broker.parse(str(config.get("broker", pvmqtt.DEFAULT_BROKER))), str(config["sn"])
    try:
        for request in (proto.prepare(flight_id, line), proto.execute(flight_id)):
            reply = call(broker, sn, request, timeout_s=timeout_s)
            if reply.result != proto.RESULT_OK:
                why = str(reply.data.get("message", "")) or f"result {reply.result}"
                raise DockError(
                    msg("dock %(sn)s refused %(method)s: %(why)s", sn=sn, method=request.method, why=why)
                )
    except (DockError, ConnectionError) as exc:
        if isinstance(exc, DockError):
            error = exc
        else:  # the broker: refused, unknown host
            error = DockUnreachable(msg("dock %(sn)s: %(why)s", sn=sn, why=str(exc)))
        with unit_of_work(factory, scope) as s:
            row = s.get_one(PvInspection, inspection_id)
            results.failed(row, error, {}, in_flight=True)
            if isinstance(error, DockUnreachable):  # it may have flown all the same: see _reconcile
                row.summary = {**row.summary, "dock": {**row.summary["dock"], "unanswered": True}}
        raise error from exc
    return inspection_id


def call(broker: pvmqtt.Broker, sn: str, request: proto.Message, *, timeout_s: float) -> proto.Message:
    """Send one service call to dock ``sn`` and wait for its ``services_reply`` (matched by tid)."""
    got: queue.Queue[proto.Message] = queue.Queue()
    subscribed = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, m: mqtt.MQTTMessage) -> None:
        try:
            reply = proto.read(bytes(m.payload))
        except proto.ProtocolError:
            return
        if reply.tid == request.tid:
            got.put(reply)

    c = pvmqtt.client(f"gongzhi-dock-call-{uuid.uuid4().hex[:10]}", persistent=False)
    c.on_message = on_message
    c.on_subscribe = lambda *_a: subscribed.set()
    pvmqtt.connect(c, broker, persistent=False, timeout_s=min(timeout_s, 5.0))
    try:
        c.subscribe(proto.topic(sn, "services_reply"), qos=1)
        if not subscribed.wait(timeout_s):
            unconfirmed = msg("the broker did not confirm the subscription to dock %(sn)s's replies", sn=sn)
            raise DockUnreachable(unconfirmed)
        info = c.publish(proto.topic(sn, "services"), request.to_json(), qos=1)
        info.wait_for_publish(timeout_s)
        try:
            return got.get(timeout=timeout_s)
        except queue.Empty:
            seconds = f"{timeout_s:g}"
            raise DockUnreachable(
                msg(
                    "dock %(sn)s did not answer %(method)s within %(seconds)s s (offline or unreachable)",
                    sn=sn,
                    method=request.method,
                    seconds=seconds,
                )
            ) from None
    finally:
        c.disconnect()
        c.loop_stop()


# --- what docks report ------------------------------------------------------------------------------


@dataclass
class LiveFlight:
    """An inspection being analysed while its drone flies: the accumulator and what it was fed."""

    inspection_id: int
    layout: PlantLayout
    acc: Any
    fed: set[int] = field(default_factory=set)
    skipped: list[SkippedFrame] = field(default_factory=list)
    infos: list[FrameInfo] = field(default_factory=list)
    names: dict[str, tuple[str, str]] = field(default_factory=dict)
    live_at: float = 0.0


FrameReady = tuple[str, proto.Chunk]
"""A frame (or photo) whose chunks are all spooled: (dock serial, its last chunk's header)."""

Photo = tuple[str, bytes]
"""A visible-light photo sent with a frame: its file name and bytes."""


class DockListener(pvmqtt.QueuedListener["mqtt.MQTTMessage | FrameReady"]):
    """Applies dock events in arrival order, one transaction per event, acknowledging each only after it is
    committed. Frame chunks are spooled to disk and acknowledged by the MQTT callback itself, so the broker's
    queue for this session never fills up however long the analysis takes (Mosquitto drops QoS 1 messages
    beyond ``max_queued_messages``, 1000 by default); a complete frame is queued for :meth:`process` (or
    :meth:`run` in a thread), which stores and analyses it in the caller's thread. Frames still missing when
    the drone has landed are taken from the spool or asked again from the dock (``frame_resend``)."""

    CLIENT_ID = "gongzhi-dock-listener"

    def __init__(
        self,
        factory: SessionFactory,
        registry: Registry,
        store: FileStore,
        broker: pvmqtt.Broker,
        client_id: str = CLIENT_ID,
        spool: Path | None = None,
    ) -> None:
        super().__init__(broker, client_id, [(f"{proto.TOPIC_ROOT}/+/events", 1)])
        self.factory, self.registry, self.store = factory, registry, store
        self.spool = spool or store.root / "dock-spool"
        self.handled = self.dropped = 0
        self.duplicates = self.duplicate_chunks = 0
        """Frames received again after they were stored; chunks received again while their frame was not."""
        self.live: dict[int, LiveFlight] = {}
        self._asked: dict[str, set[int]] = {}

    def _on_message(self, c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        """Spool and acknowledge a frame chunk at once; queue everything else for :meth:`process`."""
        try:
            sn, _kind = proto.parse_topic(msg.topic)
            event = proto.read(bytes(msg.payload))
            if event.method != proto.FRAME_CHUNK:
                self._inbox.put(msg)
                return
            chunk = proto.read_chunk(event)
            complete = self._spool_chunk(sn, chunk)
        except proto.ProtocolError as exc:
            log.warning("dropped malformed dock message on %s: %s", msg.topic, exc)
            self.dropped += 1
        except OSError:
            log.exception("frame chunk on %s not spooled; it will be redelivered", msg.topic)
            return
        else:
            if complete:
                self._inbox.put((sn, chunk))
        c.ack(msg.mid, msg.qos)

    def _apply(self, item: mqtt.MQTTMessage | FrameReady) -> bool:
        if isinstance(item, tuple):
            sn, chunk = item
            try:
                log.info("dock %s: %s", sn, self._complete(sn, chunk))
            except proto.ProtocolError as exc:
                log.warning("dropped frame %s of flight %s: %s", chunk.seq, chunk.flight_id, exc)
                self.dropped += 1
            except Exception:
                # its chunks stay in the spool; the landing takes them from there
                log.exception("frame %s of flight %s not stored yet", chunk.seq, chunk.flight_id)
                return False
            return True
        msg = item
        try:
            sn, _kind = proto.parse_topic(msg.topic)
            what = self.handle(sn, proto.read(bytes(msg.payload)))
            log.info("dock message %s: %s", msg.topic, what)
            self.handled += 1
        except proto.ProtocolError as exc:
            log.warning("dropped malformed dock message on %s: %s", msg.topic, exc)
            self.dropped += 1
        except Exception:
            log.exception("dock message on %s not applied; it will be redelivered", msg.topic)
            return False
        self.ack(msg)
        return True

    # -- events --
    def handle(self, sn: str, msg: proto.Message) -> str:
        """Apply one event of dock ``sn``; returns what it did (for logs)."""
        if msg.method == proto.PROGRESS:
            return self._progress(sn, proto.read_progress(msg))
        if msg.method == proto.FRAME_CHUNK:  # when handed over directly rather than through MQTT
            chunk = proto.read_chunk(msg)
            return self._complete(sn, chunk) if self._spool_chunk(sn, chunk) else f"frame {chunk.seq}: chunk"
        return f"ignored {msg.method}"

    def _inspection(self, s: Session, sn: str, flight_id: str) -> PvInspection | None:
        """The active inspection flown as ``flight_id`` by dock ``sn`` (``None`` for unknown or finished),
        after :meth:`_reconcile` for a flight whose start timed out but that the dock flew anyway."""
        stmt = select(PvInspection).where(
            PvInspection.source == SOURCE, PvInspection.status.in_(("queued", "running", "failed"))
        )
        rows = [
            row
            for row in s.execute(stmt.order_by(PvInspection.id)).scalars()
            if row.summary.get("dock", {}).get("flight_id") == flight_id
            and row.summary.get("dock", {}).get("sn") == sn
        ]
        row = next((r for r in rows if r.status != "failed"), None)
        if row is None:
            late = [r for r in rows if r.summary.get("dock", {}).get("unanswered")]
            if not late:
                return None
            s.info["scope"] = Scope(region_id=late[0].region_id, system=True, username="pv-dock")
            row = self._reconcile(s, late[0])
        s.info["scope"] = Scope(region_id=row.region_id, system=True, username="pv-dock")
        return row

    def _reconcile(self, s: Session, failed: PvInspection) -> PvInspection:
        """The dock reports a flight whose start did not answer in time: it flew after all. Its inspection
        comes back from failed, unless the operator has started another flight of the plant since, in which
        case the late flight's frames make an inspection of their own. Either way the audit log and the
        inspection's summary say so, and no frame is dropped."""
        d = dict(failed.summary.get("dock", {}))
        note = f"the dock flew {d.get('flight_id')} although it did not answer in time ({failed.error})"
        later = s.execute(
            select(PvInspection.id).where(
                PvInspection.plant_id == failed.plant_id,
                PvInspection.source == SOURCE,
                PvInspection.id > failed.id,
            )
        ).first()
        d.pop("unanswered", None)
        if later is None:
            failed.status, failed.error, failed.analysed_at = "running", "", None
            # it did not fail after all: why it had is gone with the failure
            kept = {k: v for k, v in failed.summary.items() if k not in results.FAILURE_KEYS}
            failed.summary = {**kept, "dock": {**d, "late_start": note}}
            service._audit(s, "pv.inspection.revived", "pv_inspection", failed.id, {"note": note})
            return failed
        row = PvInspection(
            region_id=failed.region_id,
            plant_id=failed.plant_id,
            camera=failed.camera,
            source=SOURCE,
            status="running",
            irradiance_w_m2=failed.irradiance_w_m2,
            wind_m_s=failed.wind_m_s,
            created_by=failed.created_by,
            summary={"dock": {**d, "late_start": note, "failed_inspection": failed.id}},
        )
        s.add(row)
        s.flush()
        failed.summary = {**failed.summary, "dock": {**d, "flown_as": row.id}}
        data = {"note": note, "failed_inspection": failed.id, "later_inspection": later[0]}
        service._audit(s, "pv.inspection.late_flight", "pv_inspection", row.id, data)
        return row

    def _progress(self, sn: str, p: proto.Progress) -> str:
        with unit_of_work(self.factory, Scope.for_system()) as s:
            row = self._inspection(s, sn, p.flight_id)
            if row is None:
                return f"progress of unknown or finished flight {p.flight_id}"
            d = dict(row.summary.get("dock", {}))
            d.update(phase=p.phase, status=p.status, percent=p.percent)
            if isinstance(p.ext.get("frames_total"), int):
                d["frames_total"] = p.ext["frames_total"]
            if p.phase == "takeoff" and row.started_at is None:
                row.started_at = _time(p.ext.get("took_off_at")) or utcnow()
                row.status = "running"
            if p.phase == "landed":
                row.finished_at = _time(p.ext.get("landed_at")) or utcnow()
            row.summary = {**row.summary, "dock": d}
            if p.status in ("failed", "canceled", "timeout"):
                ended = msg(
                    "the dock's flight ended (%(flight_status)s) during %(dock_phase)s",
                    flight_status=p.status,
                    dock_phase=p.phase,
                )
                results.failed(row, DockError(ended), {}, in_flight=True)
                self.live.pop(row.id, None)
                return f"inspection {row.id}: flight {p.status}"
            if p.status == "ok":
                return f"inspection {row.id}: landed; " + self._finish(s, row)
            return f"inspection {row.id}: {p.phase} {p.percent:.0f} %"

    def _folder(self, sn: str, flight_id: str, seq: int, kind: str = "thermal") -> Path:
        """Where the chunks of frame ``seq`` (or, ``kind`` ``visible``, of its photo) wait in the spool."""
        return self.spool / sn / flight_id / (str(seq) if kind == "thermal" else f"{seq}.{kind}")

    def _spool_chunk(self, sn: str, c: proto.Chunk) -> bool:
        """Keep one chunk on disk; True when this chunk was new and completes its frame or photo (a chunk
        received again while its frame is still in the spool changes nothing)."""
        folder = self._folder(sn, c.flight_id, c.seq, c.kind)
        folder.mkdir(parents=True, exist_ok=True)
        header = folder / ".frame.json"
        if not header.exists():
            meta = {
                "name": c.name,
                "chunks": c.chunks,
                "size": c.size,
                "sha256": c.sha256,
                "visible": c.visible,
            }
            _write_atomically(header, json.dumps(meta).encode())
        part = folder / f"{c.chunk:05d}"
        if part.exists():
            self.duplicate_chunks += 1
            return False
        _write_atomically(part, c.content)
        return sum(1 for p in folder.iterdir() if not p.name.startswith(".")) >= c.chunks

    def _spooled(
        self, sn: str, flight_id: str, seq: int, kind: str = "thermal"
    ) -> tuple[proto.Chunk, bytes] | None:
        """Frame ``seq`` (or its photo) when all its chunks are in the spool: its header and its bytes;
        ``None`` while some are missing. Raises ``ProtocolError`` when they do not make what was announced."""
        folder = self._folder(sn, flight_id, seq, kind)
        header = folder / ".frame.json"
        if not header.is_file():
            return None
        meta = json.loads(header.read_text(encoding="utf-8"))
        c = proto.Chunk(
            flight_id, seq, meta["name"], 0, meta["chunks"], meta["size"], meta["sha256"], b"",
            kind=kind, visible=str(meta.get("visible", "")),
        )  # fmt: skip
        parts = {int(p.name): p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")}
        data = proto.assemble(parts, c)
        return None if data is None else (c, data)

    def _photo(self, sn: str, c: proto.Chunk) -> tuple[bool, Photo | None]:
        """The visible-light photo that thermal frame ``c`` names, if it has one: (still to come, the photo).
        A photo whose chunks do not make it is dropped, and the frame analysed without it."""
        if not c.visible:
            return False, None
        try:
            got = self._spooled(sn, c.flight_id, c.seq, "visible")
        except proto.ProtocolError as exc:
            log.warning(
                "photo of frame %s of %s dropped, the frame goes without it: %s", c.seq, c.flight_id, exc
            )
            shutil.rmtree(self._folder(sn, c.flight_id, c.seq, "visible"), ignore_errors=True)
            return False, None
        return got is None, None if got is None else (got[0].name, got[1])

    def _complete(self, sn: str, c: proto.Chunk) -> str:
        """Store and analyse a frame whose chunks are all spooled, once the photo it names is too."""
        if c.kind != "thermal":
            return self._photo_complete(sn, c)
        folder = self._folder(sn, c.flight_id, c.seq)
        if not folder.is_dir():
            self.duplicates += 1
            return f"frame {c.seq} of {c.flight_id} already stored"
        parts = {int(p.name): p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")}
        data = proto.assemble(parts, c)
        if data is None:
            return f"frame {c.seq}: chunks missing"
        waiting, photo = self._photo(sn, c)
        if waiting and not self._stored(sn, c):
            return f"frame {c.seq}: waiting for its photo {c.visible}"
        return self._store(sn, c, data, photo)

    def _photo_complete(self, sn: str, c: proto.Chunk) -> str:
        """A photo whose chunks are all spooled: its frame is analysed with it when the frame is in too."""
        frame = self._spooled(sn, c.flight_id, c.seq)
        if frame is not None:
            _waiting, photo = self._photo(sn, frame[0])
            return self._store(sn, frame[0], frame[1], photo)
        stored = self._stored(sn, c)
        if stored:  # its frame went without it (or the flight is over): too late to use it
            shutil.rmtree(self._folder(sn, c.flight_id, c.seq, c.kind), ignore_errors=True)
            return f"photo of frame {c.seq} of {c.flight_id} came after its frame; left out"
        return f"frame {c.seq}: photo spooled"

    def _stored(self, sn: str, c: proto.Chunk) -> bool:
        """Whether frame ``c.seq`` of its flight is stored already, or the flight is unknown or over."""
        with unit_of_work(self.factory, Scope.for_system()) as s:
            row = self._inspection(s, sn, c.flight_id)
            if row is None:
                return True
            stmt = select(PvFrame.id).where(PvFrame.inspection_id == row.id, PvFrame.seq == c.seq)
            return s.execute(stmt).first() is not None

    def _store(self, sn: str, c: proto.Chunk, data: bytes, photo: Photo | None) -> str:
        """Store and analyse a complete frame (with its photo) and clear both from the spool."""
        with unit_of_work(self.factory, Scope.for_system()) as s:
            row = self._inspection(s, sn, c.flight_id)
            what = (
                f"frame {c.seq} of unknown or finished flight {c.flight_id}"
                if row is None
                else self._frame(s, row, c, data, photo)
            )
        for kind in proto.FRAME_KINDS:
            shutil.rmtree(self._folder(sn, c.flight_id, c.seq, kind), ignore_errors=True)
        return what

    def _from_spool(self, s: Session, row: PvInspection, sn: str, flight_id: str, seqs: list[int]) -> None:
        """Frames complete in the spool but not stored (the listener stopped in between, or a frame still
        waits for its photo): each with its photo if that is complete too, else without."""
        for seq in seqs:
            try:
                got = self._spooled(sn, flight_id, seq)
            except proto.ProtocolError:  # its chunks do not make the frame: asked again, with its photo
                for kind in proto.FRAME_KINDS:
                    shutil.rmtree(self._folder(sn, flight_id, seq, kind), ignore_errors=True)
                continue
            if got is not None:
                self._frame(s, row, got[0], got[1], self._photo(sn, got[0])[1], finish=False)
                for kind in proto.FRAME_KINDS:
                    shutil.rmtree(self._folder(sn, flight_id, seq, kind), ignore_errors=True)

    def _ask_again(self, sn: str, flight_id: str, seqs: list[int]) -> None:
        """Ask the dock to send frames again (once per frame); its answer comes as ordinary frame events."""
        asked = self._asked.setdefault(flight_id, set())
        todo = [i for i in seqs if i not in asked]
        if not todo:
            return
        asked.update(todo)
        try:
            msg = proto.resend(flight_id, todo)
            pvmqtt.publish_once(
                self.broker,
                proto.topic(sn, "services"),
                msg.to_json(),
                client_id=f"gongzhi-dock-{uuid.uuid4().hex[:10]}",
            )
        except (ConnectionError, TimeoutError) as exc:
            log.warning("could not ask dock %s for %d frames again: %s", sn, len(todo), exc)
            asked.difference_update(todo)

    def _frame(
        self,
        s: Session,
        row: PvInspection,
        c: proto.Chunk,
        data: bytes,
        photo: Photo | None = None,
        *,
        finish: bool = True,
    ) -> str:
        seen = s.execute(
            select(PvFrame.id).where(PvFrame.inspection_id == row.id, PvFrame.seq == c.seq)
        ).first()
        if seen is not None:
            self.duplicates += 1
            return f"inspection {row.id}: frame {c.seq} again (stored once)"
        try:  # a TIFF, or a camera's radiometric JPEG (DJI R-JPEG, FLIR), as an upload's frames
            ev = evidence.store(s, self.store, data, service.frame_content_type(c.name, data), c.name)
        except FileRejected as exc:  # not a frame: it will not get better
            raise proto.ProtocolError(f"frame {c.seq} of {c.flight_id}: {exc}") from exc
        meta: dict[str, Any] = {}
        if photo is not None:
            try:
                shot = evidence.store(s, self.store, photo[1], JPEG, photo[0])
            except FileRejected as exc:  # the frame is analysed without it, as an upload's would be
                log.warning("frame %s of %s: its photo is left out: %s", c.seq, c.flight_id, exc)
            else:
                meta[service.PHOTO_KEY] = {"file": display_name(photo[0]) or photo[0], "sha256": shot.sha256}
        s.add(
            PvFrame(
                region_id=row.region_id,
                inspection_id=row.id,
                seq=c.seq,
                sha256=ev.sha256,
                filename=display_name(c.name) or f"frame-{c.seq}",
                meta=meta,
            )
        )
        s.flush()
        row.frame_count = s.execute(
            select(func.count(PvFrame.id)).where(PvFrame.inspection_id == row.id)
        ).scalar_one()
        live = self._live(s, row)
        self._feed(live, c.seq, ev.sha256, c.name, meta.get(service.PHOTO_KEY, {}).get("sha256"))
        expected = max(1, int(row.summary.get("dock", {}).get("images") or 1), row.frame_count)
        row.frames_done, row.progress = len(live.fed), round(min(0.99, len(live.fed) / expected), 4)
        if time.monotonic() - live.live_at >= LIVE_EVERY_S:
            live.live_at = time.monotonic()
            row.summary = {**row.summary, "live": live_figures(live)}
        if finish and row.summary.get("dock", {}).get("phase") == "landed":
            return f"inspection {row.id}: frame {c.seq}; " + self._finish(s, row)
        return f"inspection {row.id}: frame {c.seq} stored and analysed"

    def _live(self, s: Session, row: PvInspection) -> LiveFlight:
        """The inspection's accumulator, rebuilt from the frames already stored after a restart."""
        live = self.live.get(row.id)
        if live is not None:
            return live
        layout = service.plant_layout(s, service.get_plant(s, row.plant_id))
        acc = adapter.new_accumulator(
            layout,
            row.irradiance_w_m2,
            row.camera or None,
            classifier=results.inspection_classifier(row),
        )
        live = self.live[row.id] = LiveFlight(row.id, layout, acc)
        stored = s.execute(
            select(PvFrame).where(PvFrame.inspection_id == row.id).order_by(PvFrame.seq)
        ).scalars()
        for f in stored:
            photo = f.meta.get(service.PHOTO_KEY)
            self._feed(
                live, f.seq, f.sha256, f.filename, photo.get("sha256") if isinstance(photo, dict) else None
            )
        return live

    def _feed(self, live: LiveFlight, seq: int, sha256: str, name: str, photo: str | None = None) -> None:
        """Analyse stored frame ``seq`` (with the stored photo of digest ``photo``, if any)."""
        if seq in live.fed:
            return
        path = self.store.path_for(sha256)
        live.fed.add(seq)
        live.names[path.name] = (name, sha256)
        info, left_out = pipeline.feed(live.acc, path, self.store.path_for(photo) if photo else None)
        if left_out is not None:
            live.skipped.append(left_out)
        if info is not None:
            live.infos.append(info)

    def _finish(self, s: Session, row: PvInspection) -> str:
        """Store the findings once the drone has landed and every frame it announced is in."""
        dock = dict(row.summary.get("dock", {}))
        total = int(dock.get("frames_total") or 0)
        stored = set(s.execute(select(PvFrame.seq).where(PvFrame.inspection_id == row.id)).scalars())
        missing = [i for i in range(total) if i not in stored]
        sn, fid = str(dock.get("sn", "")), str(dock.get("flight_id", ""))
        if missing:
            self._from_spool(s, row, sn, fid, missing)
            stored = set(s.execute(select(PvFrame.seq).where(PvFrame.inspection_id == row.id)).scalars())
            missing = [i for i in missing if i not in stored]
        if missing:
            self._ask_again(sn, fid, missing)
            return f"waiting for {len(missing)} of {total} frames (asked the dock again)"
        live = self._live(s, row)
        try:
            outcome = pipeline.outcome(live.acc, live.layout, len(live.fed), live.skipped, live.infos)
        except ValueError as exc:
            results.failed(row, exc, live.names)
            self.live.pop(row.id, None)
            return f"failed: {exc}"
        results.store_outcome(s, self.registry, row, outcome, live.names)
        row.summary = {**row.summary, "dock": dock}
        self.live.pop(row.id, None)
        # every frame is stored: what the spool still holds of the flight came too late (a photo after its
        # frame, a frame sent twice) and would never be taken
        if sn and fid:
            shutil.rmtree(self.spool / sn / fid, ignore_errors=True)
        done = f"done: {len(outcome.findings)} findings from {outcome.frames} frames"
        check = loop.verify_reinspection(s, self.registry, row)
        return done if check is None else f"{done}; cleaning {'verified' if check.passed else 'sent back'}"


def live_figures(live: LiveFlight) -> dict[str, Any]:
    """What the flight has shown so far: frames analysed, findings by class."""
    _modules, findings, _extra = adapter.records(live.acc, live.layout)
    by_class: dict[str, int] = {}
    for f in findings:
        by_class[f.anomaly_class] = by_class.get(f.anomaly_class, 0) + 1
    return {"frames": len(live.fed), "findings": len(findings), "by_class": by_class}


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _time(raw: object) -> dt.datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None
