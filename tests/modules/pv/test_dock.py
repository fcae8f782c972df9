"""One-click inspection over a real Mosquitto broker: the dock simulator flies the plant, frames arrive in
chunks and are analysed as they come, the inspection is done with findings on landing; bad requests get a
clear error; a dock whose link drops mid-flight, and a listener restarted mid-flight, lose no frame and store
none twice."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from gongzhi import errors
from gongzhi.cases.models import Alert
from gongzhi.core.models import AuditEntry
from gongzhi.db import Scope, unit_of_work
from gongzhi.errors import Conflict, Forbidden, InvalidInput, NotFound
from gongzhi.kit.filestore import FileStore
from gongzhi.modules.pv import dock, report, results
from gongzhi.modules.pv import mqtt as pvmqtt
from gongzhi.modules.pv import service as pv
from gongzhi.modules.pv.analytics.modules import CombinedClassifier
from gongzhi.modules.pv.dock_sim import DockSimulator, DockSpec
from gongzhi.modules.pv.io import dock_protocol as proto
from gongzhi.modules.pv.models import PvFinding, PvFrame, PvInspection
from gongzhi.registry import Registry
from gongzhi.web import labels
from gongzhi.web.i18n import Lang
from tests.conftest import World

from ._dock import (
    SEED,
    Factory,
    batch_outcome,
    docked_plant,
    flying,
    frames_of,
    listener,
    noon_clock,
    run_until,
    simulator,
    store_at,
)
from ._mqtt import machine_broker, private_broker

log = logging.getLogger(__name__)


def findings_of(factory: Factory, inspection_id: int) -> set[tuple[str, str]]:
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        stmt = select(PvFinding).where(PvFinding.inspection_id == inspection_id)
        return {(f.module_id, f.anomaly_class) for f in s.execute(stmt).scalars()}


def test_one_click_inspection_streams_frames_and_reports_on_landing(
    factory: Factory, registry: Registry, world: World, tmp_path: Path
) -> None:
    broker = machine_broker()
    plant = docked_plant(factory, world, broker)
    store = store_at(tmp_path)
    with flying(factory, registry, store, plant, broker) as (sim, lis):
        iid = dock.one_click_inspection(factory, world.bob.scope(), plant.plant_id)
        queued = run_until(lis, factory, iid, lambda r: True)
        assert queued.source == "dock" and queued.summary["dock"]["sn"] == plant.sn
        seen: list[tuple[str, int, dict[str, object]]] = []
        done = run_until(lis, factory, iid, lambda r: r.status in ("done", "failed"), seen=seen)
    assert done.status == "done", done.error
    n = len(sim.flight)
    assert frames_of(factory, iid) == list(range(n)) and done.frame_count == n and done.progress == 1.0
    # the analysis ran during the flight: frames were analysed while the inspection was still running
    assert any(status == "running" and 0 < frames < n for status, frames, _ in seen)
    assert done.summary["dock"]["phase"] == "landed" and done.summary["frames_used"] == n
    assert done.started_at is not None and done.finished_at is not None and done.analysed_at is not None
    assert done.started_at <= done.finished_at <= done.analysed_at
    log.warning(
        "take-off to report for %d modules, %d frames (flight ×100): %.2f s, landing to report %.2f s",
        len(plant.layout.modules),
        n,
        (done.analysed_at - done.started_at).total_seconds(),
        (done.analysed_at - done.finished_at).total_seconds(),
    )

    # the streamed analysis finds what the batch pipeline finds in the same frames, and the planted anomalies
    found = findings_of(factory, iid)
    batch = batch_outcome(factory, store, iid, plant.layout)
    assert found == {(f.module_id, f.anomaly_class) for f in batch.findings}
    truth = {(a.module_id, a.anomaly.value) for a in sim.flight.anomalies}
    assert len(found & truth) >= len({m for m, _ in truth}) // 2, (found, truth)
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        alerts = s.execute(select(Alert).where(Alert.source == f"pv-inspection:{iid}")).scalars().all()
        linked = s.execute(select(PvFinding.alert_id).where(PvFinding.inspection_id == iid)).scalars().all()
        # every finding has its alert: its own, or its offline string's
        assert None not in linked and {a.id for a in alerts} == set(linked)


def test_bad_one_click_requests_get_a_clear_error(
    factory: Factory, registry: Registry, world: World, tmp_path: Path
) -> None:
    broker = machine_broker()
    with pytest.raises(NotFound):
        dock.one_click_inspection(factory, world.bob.scope(), 987654)
    bare = docked_plant(factory, world, broker, with_dock=False)
    with pytest.raises(InvalidInput, match="no drone dock"):
        dock.one_click_inspection(factory, world.bob.scope(), bare.plant_id)
    with pytest.raises(Forbidden):
        dock.one_click_inspection(factory, world.vera.scope(), bare.plant_id)

    # the dock is offline: a clear error after the timeout, and the inspection failed with it
    offline = docked_plant(factory, world, broker)
    with pytest.raises(dock.DockError, match=r"did not answer flighttask_prepare within 1\.5 s"):
        dock.one_click_inspection(factory, world.bob.scope(), offline.plant_id, timeout_s=1.5)
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        failed = s.execute(select(PvInspection).where(PvInspection.plant_id == offline.plant_id)).scalar_one()
        assert failed.status == "failed" and "did not answer" in failed.error
        # kept with its wording too, so that the console says it in its reader's language
        said = labels.detail(Lang("zh_CN"), errors.restored(failed.summary["error"]))
        assert said == f"机场 {offline.sn} 在 1.5 秒内未响应 flighttask_prepare（离线或无法连接）"

    # a second one-click while the flight runs is refused, by gongzhi and by the dock itself
    plant = docked_plant(factory, world, broker)
    sim = simulator(plant, broker)
    sim.spec.time_scale = 20.0  # long enough to be in the air during the second request
    try:
        iid = dock.one_click_inspection(factory, world.bob.scope(), plant.plant_id)
        with pytest.raises(Conflict, match=f"dock flight in progress \\(inspection {iid}\\)"):
            dock.one_click_inspection(factory, world.bob.scope(), plant.plant_id)
        assert sim.flying()
        wayline = dock.wayline(pv.flight_plan(plant.layout.polygon, "M3T"))
        reply = dock.call(broker, plant.sn, proto.prepare("another", wayline), timeout_s=5)
        assert reply.result == proto.RESULT_BUSY and "in progress" in reply.data["message"]
        reply = dock.call(broker, plant.sn, proto.execute("never-prepared"), timeout_s=5)
        assert reply.result == proto.RESULT_BUSY
    finally:
        sim.stop(end_session=True)
    sim2 = simulator(plant, broker)
    try:
        reply = dock.call(broker, plant.sn, proto.execute("never-prepared"), timeout_s=5)
        assert reply.result == proto.RESULT_UNKNOWN_FLIGHT
        stale = proto.Message(proto.EXECUTE, {"flight_id": "x"}, timestamp=proto.now_ms() - 3_600_000)
        assert "stale" in dock.call(broker, plant.sn, stale, timeout_s=5).data["message"]
    finally:
        sim2.stop(end_session=True)


def test_a_link_drop_and_a_listener_restart_mid_flight_lose_no_frame(
    factory: Factory, registry: Registry, world: World, tmp_path: Path
) -> None:
    with private_broker() as pb:
        broker = pb.broker
        plant = docked_plant(factory, world, broker)
        store = store_at(tmp_path)
        sim = simulator(plant, broker, drop_after_frame=4, offline_frames=3)
        cid = "test-dock-listener-restart"
        lis = listener(factory, registry, store, broker, cid)
        try:
            iid = dock.one_click_inspection(factory, world.bob.scope(), plant.plant_id)
            run_until(lis, factory, iid, lambda r: r.frames_done >= 2)
            lis.stop()  # the server goes away mid-flight; the broker keeps its session and queues the rest
            assert sim.wait_landed(60)
            assert sim.reconnects == 1
            again = listener(
                factory, registry, store, broker, cid
            )  # a fresh process: no accumulator in memory
            done = run_until(again, factory, iid, lambda r: r.status in ("done", "failed"))
            again.stop(end_session=True)
        finally:
            sim.stop(end_session=True)
    assert done.status == "done", done.error
    n = len(sim.flight)
    assert frames_of(factory, iid) == list(range(n))
    # frame 4 was sent again after the drop and stored once
    assert sum(x.duplicates + x.duplicate_chunks for x in (lis, again)) >= 1
    found = findings_of(factory, iid)
    assert found == {
        (f.module_id, f.anomaly_class) for f in batch_outcome(factory, store, iid, plant.layout).findings
    }


def test_frames_travel_in_chunks_checked_against_their_hash() -> None:
    content = bytes(range(256)) * 700  # 179,200 bytes: three chunks
    msgs = proto.frame_chunks("DOCK1", "f1", 7, "frame-0007.tif", content, "b1")
    assert len(msgs) == 3 and all(len(m.to_json()) < 100_000 for m in msgs)
    chunks = [proto.read_chunk(proto.read(m.to_json())) for m in msgs]
    parts = {c.chunk: c.content for c in chunks}
    assert proto.assemble({0: parts[0]}, chunks[0]) is None
    assert proto.assemble(parts, chunks[0]) == content
    with pytest.raises(proto.ProtocolError, match="SHA-256"):
        proto.assemble({**parts, 1: parts[1][:-1] + b"x"}, chunks[0])
    with pytest.raises(proto.ProtocolError, match="plain file name"):
        proto.read_chunk(proto.Message(proto.FRAME_CHUNK, {**msgs[0].data, "name": "../x"}))
    # a photo's chunks say so; a frame's name its photo, which must be a plain name too
    [shot] = proto.frame_chunks("DOCK1", "f1", 7, "frame-0007_W.jpg", b"\xff\xd8", "b1", kind="visible")
    assert proto.read_chunk(proto.read(shot.to_json())).kind == "visible"
    named = proto.frame_chunks("DOCK1", "f1", 7, "frame-0007_T.tif", b"II*", "b1", visible="frame-0007_W.jpg")
    assert proto.read_chunk(proto.read(named[0].to_json())).visible == "frame-0007_W.jpg"
    for wrong, said in (
        ({"kind": "radar"}, "kind must be one of thermal, visible"),
        ({"kind": "visible", "visible": "x.jpg"}, "only a thermal frame"),
        ({"visible": "../x.jpg"}, "plain file name"),
    ):
        with pytest.raises(proto.ProtocolError, match=said):
            proto.read_chunk(proto.Message(proto.FRAME_CHUNK, {**msgs[0].data, **wrong}))
    with pytest.raises(proto.ProtocolError, match="timestamp"):
        proto.read(b'{"tid": "a", "bid": "b", "method": "m", "data": {}}')
    p = proto.progress(
        "DOCK1", "f1", "ok", 100, "landed", "b1", landed_at=dt.datetime.now(dt.UTC).isoformat()
    )
    assert proto.read_progress(proto.read(p.to_json())).phase == "landed"
    bad = {"output": {"status": "ok", "progress": {"percent": 5, "current_step": "x"}, "ext": {}}}
    with pytest.raises(proto.ProtocolError, match="current_step"):
        proto.read_progress(proto.Message(proto.PROGRESS, bad))


def test_a_wayline_carries_the_cameras_pitch_and_one_without_it_is_flown_straight_down() -> None:
    line = proto.Wayline(((120.0, 30.0, 26.0), (120.001, 30.0, 26.0)), 10, 5.0, 26.0, "M3T", 60.0, 60.0)
    oblique = replace(line, gimbal_pitch_deg=-60.0)
    assert proto.read_wayline(proto.read(proto.prepare("f1", oblique).to_json()).data) == oblique
    older = proto.prepare("f1", line).data  # a server that does not send the pitch
    del older["wayline"]["gimbal_pitch_deg"]
    assert proto.read_wayline(older).gimbal_pitch_deg == -90.0
    with pytest.raises(proto.ProtocolError, match="gimbal_pitch_deg must be from -90 to -30, got -10"):
        proto.read_wayline(proto.prepare("f1", replace(line, gimbal_pitch_deg=-10.0)).data)


def test_frames_lost_on_the_way_are_asked_again_on_landing(
    factory: Factory, registry: Registry, world: World, tmp_path: Path
) -> None:
    broker = machine_broker()
    plant = docked_plant(factory, world, broker)
    store = store_at(tmp_path)
    with flying(factory, registry, store, plant, broker) as (sim, lis):
        sim.skip_frames = {3, 9}
        iid = dock.one_click_inspection(factory, world.bob.scope(), plant.plant_id)
        done = run_until(lis, factory, iid, lambda r: r.status in ("done", "failed"))
    assert done.status == "done", done.error
    assert sorted(sim.resent) == [3, 9]
    assert frames_of(factory, iid) == list(range(len(sim.flight)))


def plant_inspections(factory: Factory, plant_id: int) -> list[PvInspection]:
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        stmt = select(PvInspection).where(PvInspection.plant_id == plant_id).order_by(PvInspection.id)
        rows = list(s.execute(stmt).scalars())
        s.expunge_all()
        return rows


def audited(factory: Factory, action: str, inspection_id: int) -> list[AuditEntry]:
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        stmt = select(AuditEntry).where(
            AuditEntry.action == action, AuditEntry.object_id == str(inspection_id)
        )
        return list(s.execute(stmt).scalars())


def test_a_flight_whose_start_timed_out_but_flew_anyway_comes_back_with_every_frame(
    factory: Factory, registry: Registry, world: World, tmp_path: Path
) -> None:
    broker = machine_broker()
    plant = docked_plant(factory, world, broker)
    store = store_at(tmp_path)
    with flying(factory, registry, store, plant, broker, late_execute_s=3.0) as (sim, lis):
        with pytest.raises(dock.DockUnreachable, match="did not answer flighttask_execute"):
            dock.one_click_inspection(factory, world.bob.scope(), plant.plant_id, timeout_s=1.0)
        [failed] = plant_inspections(factory, plant.plant_id)
        assert failed.status == "failed" and failed.summary["dock"]["unanswered"]
        done = run_until(lis, factory, failed.id, lambda r: r.status == "done", timeout_s=90)
    assert frames_of(factory, failed.id) == list(range(len(sim.flight)))
    assert done.error == "" and "did not answer" in done.summary["dock"]["late_start"]
    assert not {"error", "failed_in"} & set(done.summary)  # why it had failed is gone with the failure
    assert done.started_at is not None and done.analysed_at is not None
    assert len(audited(factory, "pv.inspection.revived", failed.id)) == 1


def test_a_late_flight_after_the_operator_tried_again_is_kept_as_an_inspection_of_its_own(
    factory: Factory, registry: Registry, world: World, tmp_path: Path
) -> None:
    broker = machine_broker()
    plant = docked_plant(factory, world, broker)
    store = store_at(tmp_path)
    with flying(factory, registry, store, plant, broker, late_execute_s=3.0) as (sim, lis):
        sim.spec.time_scale = 20.0  # still in the air when the operator tries again
        with pytest.raises(dock.DockUnreachable):
            dock.one_click_inspection(factory, world.bob.scope(), plant.plant_id, timeout_s=1.0)
        with pytest.raises(dock.DockError, match="in progress"):  # the dock is busy with the late flight
            dock.one_click_inspection(factory, world.bob.scope(), plant.plant_id, timeout_s=5.0)
        first, retried = plant_inspections(factory, plant.plant_id)
        assert first.status == retried.status == "failed"
        deadline = time.monotonic() + 120
        while len(rows := plant_inspections(factory, plant.plant_id)) < 3 or rows[2].status != "done":
            assert time.monotonic() < deadline, [(r.id, r.status) for r in rows]
            lis.process(timeout_s=0.3, limit=3)
    first, retried, late = plant_inspections(factory, plant.plant_id)
    assert first.status == "failed" and first.summary["dock"]["flown_as"] == late.id
    assert retried.status == "failed" and "flown_as" not in retried.summary["dock"]
    assert late.summary["dock"]["failed_inspection"] == first.id
    assert late.summary["dock"]["flight_id"] == first.summary["dock"]["flight_id"]
    assert frames_of(factory, late.id) == list(range(len(sim.flight)))
    assert frames_of(factory, first.id) == []
    assert len(audited(factory, "pv.inspection.late_flight", late.id)) == 1


def test_a_flight_the_dock_reports_failed_ends_the_inspection_failed_saying_when_in_each_language(
    factory: Factory, registry: Registry, world: World, tmp_path: Path
) -> None:
    plant = docked_plant(factory, world, machine_broker())
    with unit_of_work(factory, world.bob.scope()) as s:
        queued, _config, _line = dock.queue_flight(s, plant.plant_id)
        inspection_id, flight_id = queued.id, queued.summary["dock"]["flight_id"]
    lis = dock.DockListener(factory, registry, store_at(tmp_path), machine_broker(), client_id="unused")
    for status, phase in (("in_progress", "takeoff"), ("timeout", "survey")):
        lis.handle(plant.sn, proto.progress(plant.sn, flight_id, status, 40.0, phase, "bid-1"))
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        failed = s.get_one(PvInspection, inspection_id)
        assert (failed.status, failed.error) == ("failed", "the dock's flight ended (timeout) during survey")
        assert failed.summary["failed_in"] == "flight"
        zh = labels.detail(Lang("zh_CN"), errors.restored(failed.summary["error"]))
    assert zh == "机场飞行在“巡检中”阶段结束（超时）"


@pytest.mark.sqlite_leg
def test_a_one_click_flight_can_have_its_anomalies_named_by_the_rules_and_the_crop_network(
    factory: Factory, registry: Registry, world: World, tmp_path: Path
) -> None:
    broker = machine_broker()
    plant = docked_plant(factory, world, broker)
    store = store_at(tmp_path)
    # an unknown classifier is refused before the dock is called
    with pytest.raises(InvalidInput, match="unknown classifier 'network'"):
        dock.one_click_inspection(
            factory,
            world.bob.scope(),
            plant.plant_id,
            conditions=dock.FlightRequest(classifier="network"),  # type: ignore[arg-type]
        )
    # so is a least confidence outside 0-1, or one given to the rules alone
    for wrong, match in (
        (dock.FlightRequest(classifier="learned", min_confidence=1.5), "between 0 and 1"),
        (dock.FlightRequest(min_confidence=0.9), "learned classifier only"),
    ):
        with pytest.raises(InvalidInput, match=match):
            dock.one_click_inspection(factory, world.bob.scope(), plant.plant_id, conditions=wrong)
    want = dock.FlightRequest(classifier="learned", min_confidence=0.9)
    with flying(factory, registry, store, plant, broker) as (_sim, lis):
        iid = dock.one_click_inspection(factory, world.bob.scope(), plant.plant_id, conditions=want)
        done = run_until(lis, factory, iid, lambda r: r.status in ("done", "failed"))
    assert done.status == "done", done.error
    assert (done.classifier, done.min_confidence) == ("learned", 0.9)
    network = results.inspection_classifier(done)
    assert isinstance(network, CombinedClassifier) and network.min_confidence == 0.9
    assert results.inspection_classifier(PvInspection(classifier="rules")) is None
    # the streamed analysis is the batch pipeline's with the same classifier, which says so in its notes
    batch = batch_outcome(factory, store, iid, plant.layout, network)
    assert findings_of(factory, iid) == {(f.module_id, f.anomaly_class) for f in batch.findings}
    notes = [n["message"] for n in done.summary["notes"]]
    assert network.note in notes
    assert any("at least 0.90 confident" in note for note in notes)  # the flight's own 0.9
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        audit = s.execute(
            select(AuditEntry).where(
                AuditEntry.action == "pv.inspection.one_click", AuditEntry.object_id == str(iid)
            )
        ).scalar_one()
    assert (audit.data["classifier"], audit.data["min_confidence"]) == ("learned", 0.9)


@pytest.mark.sqlite_leg
def test_an_oblique_one_click_flight_is_flown_on_its_oblique_plan_and_analysed_in_nadir_views(
    factory: Factory, registry: Registry, world: World, tmp_path: Path
) -> None:
    broker = machine_broker()
    plant = docked_plant(factory, world, broker)
    store = store_at(tmp_path)
    want = dock.FlightRequest(gimbal_pitch_deg=-60.0)
    with flying(factory, registry, store, plant, broker) as (sim, lis):
        iid = dock.one_click_inspection(factory, world.bob.scope(), plant.plant_id, conditions=want)
        done = run_until(lis, factory, iid, lambda r: r.status in ("done", "failed"))
    assert done.status == "done", done.error
    [flown] = sim.flown.values()
    # the dock was given the oblique plan (flown higher than the nadir one) and flew it
    nadir = pv.flight_plan(plant.layout.polygon, "M3T", row_azimuth_deg=plant.layout.row_azimuth_deg)
    assert flown.gimbal_pitch_deg == -60.0 and flown.plan.altitude_m > nadir.altitude_m
    assert done.summary["dock"]["gimbal_pitch_deg"] == -60.0 and done.summary["frames_used"] == len(flown)
    assert (done.summary["frames_oblique"], done.summary["gimbal_pitch_deg"]) == (len(flown), -60.0)
    assert done.summary["modules_seen"] > 0.9 * len(plant.layout.modules)
    found = findings_of(factory, iid)
    assert found == {
        (f.module_id, f.anomaly_class) for f in batch_outcome(factory, store, iid, plant.layout).findings
    }
    truth = {(a.module_id, a.anomaly.value) for a in flown.anomalies}
    assert len(found & truth) >= 0.9 * len(truth) and len(found & truth) >= 0.9 * len(found), (found, truth)
    # a re-inspection of cleaned rows is flown straight down: asked otherwise, it is refused before any call
    with pytest.raises(InvalidInput, match="straight down"):
        dock.one_click_inspection(
            factory,
            world.bob.scope(),
            plant.plant_id,
            conditions=dock.FlightRequest(case_id=1, gimbal_pitch_deg=-60),
        )


def one_click_flight(
    factory: Factory, registry: Registry, world: World, tmp_path: Path, **kw: object
) -> tuple[DockSimulator, PvInspection, FileStore]:
    """A one-click flight of a fresh plant by its dock simulator (``kw`` as :func:`._dock.simulator`), run
    until the inspection is done or failed: the simulator, the inspection and the listener's store."""
    broker = machine_broker()
    plant = docked_plant(factory, world, broker)
    store = store_at(tmp_path)
    with flying(factory, registry, store, plant, broker, **kw) as (sim, lis):
        iid = dock.one_click_inspection(factory, world.bob.scope(), plant.plant_id)
        done = run_until(lis, factory, iid, lambda r: r.status in ("done", "failed"))
    return sim, done, store


@pytest.mark.sqlite_leg
def test_a_dock_flight_with_photos_analyses_each_frame_with_the_photo_taken_with_it(
    factory: Factory, registry: Registry, world: World, tmp_path: Path
) -> None:
    sim, done, store = one_click_flight(factory, registry, world, tmp_path, visible=True)
    assert done.status == "done", done.error
    iid = done.id
    n = len(sim.flight)
    assert frames_of(factory, iid) == list(range(n))
    assert done.summary["frames_with_visible"] == n and not done.summary["visible_photos_unused"]
    soiled = {a.module_id for a in sim.flight.anomalies if a.anomaly.value == "soiling"}
    assert soiled and done.summary["rgb_soiling_by_zone"], done.summary
    with unit_of_work(factory, Scope.for_system()) as s:
        shots = [
            f.meta[pv.PHOTO_KEY]
            for f in s.execute(select(PvFrame).where(PvFrame.inspection_id == iid)).scalars()
        ]
        assert [shot["file"] for shot in shots] == [f"frame-{i:04d}_W.jpg" for i in range(n)]
        assert all(store.path_for(shot["sha256"]).read_bytes()[:2] == b"\xff\xd8" for shot in shots)
        [soiling] = [
            f
            for f in s.execute(select(PvFinding).where(PvFinding.inspection_id == iid)).scalars()
            if f.module_id in soiled and f.anomaly_class == "soiling"
        ][:1]
        # the finding's photo, as the report and the inspection page show it
        assert report.finding_photo(s, store, soiling.id)[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_frame_waits_for_the_photo_it_names_and_goes_without_it_when_the_photo_is_lost(
    factory: Factory, registry: Registry, world: World, tmp_path: Path
) -> None:
    """Driven message by message, without a broker: the frame's chunks before its photo's, a photo whose
    chunks do not make it, a photo that never comes (the frame goes on landing without it), a photo resent
    after its frame was stored, and a frame with its photo in order."""
    nowhere = pvmqtt.Broker("127.0.0.1", 1)
    plant = docked_plant(factory, world, nowhere)
    with unit_of_work(factory, world.bob.scope()) as s:
        row, _config, _line = dock.queue_flight(s, plant.plant_id)
        iid, fid = row.id, str(row.summary["dock"]["flight_id"])
    sim = DockSimulator(
        DockSpec(sn=plant.sn, layout=plant.layout, seed=SEED, visible=True, clock=noon_clock(plant.layout)),
        nowhere,
    )
    lis = dock.DockListener(factory, registry, store_at(tmp_path), nowhere)
    n = 5

    def parts(i: int) -> tuple[list[proto.Message], list[proto.Message]]:
        msgs = sim.frame_messages(i, fid, "b1")
        return [m for m in msgs if m.data.get("kind") == "visible"], [m for m in msgs if "kind" not in m.data]

    def send(msgs: list[proto.Message]) -> str:
        return [lis.handle(plant.sn, m) for m in msgs][-1]

    lis.handle(plant.sn, proto.progress(plant.sn, fid, "in_progress", 0, "takeoff", "b1", frames_total=n))
    photo, frame = parts(0)
    assert "waiting for its photo frame-0000_W.jpg" in send(frame) and frames_of(factory, iid) == []
    assert "frame 0 stored and analysed" in send(photo) and frames_of(factory, iid) == [0]
    photo, frame = parts(1)
    broken = proto.Message(proto.FRAME_CHUNK, {**photo[0].data, "sha256": "0" * 64})
    send([broken, *photo[1:]])
    assert "frame 1 stored and analysed" in send(frame)  # its photo did not match its hash: dropped
    photo, frame = parts(2)
    assert "waiting for its photo" in send(frame)  # its photo is lost on the way
    for i in (3, 4):
        photo, frame = parts(i)
        assert "photo spooled" in send(photo) and f"frame {i} stored and analysed" in send(frame)
    assert "came after its frame; left out" in send(parts(3)[0])  # a resend of a stored frame's photo
    late = parts(4)[0]
    assert len(late) > 1 and send(late[:1]) == "frame 4: chunk"  # part of a resend: stays in the spool
    assert [p for p in lis.spool.rglob("*") if p.is_file() and not p.name.startswith(".")]
    landed = proto.progress(plant.sn, fid, "ok", 100, "landed", "b1", frames_total=n)
    assert "done" in lis.handle(plant.sn, landed)
    assert frames_of(factory, iid) == list(range(n))
    with unit_of_work(factory, Scope.for_system()) as s:
        done = s.get_one(PvInspection, iid)
        assert done.status == "done" and done.summary["frames_with_visible"] == 3, done.summary
        stmt = select(PvFrame).where(PvFrame.inspection_id == iid).order_by(PvFrame.seq)
        assert [pv.PHOTO_KEY in f.meta for f in s.execute(stmt).scalars()] == [True, False, False, True, True]
    assert not [p for p in lis.spool.rglob("*") if p.is_file()]  # the finished flight's spool is cleared


def test_a_dock_whose_camera_writes_radiometric_jpegs_has_its_frames_stored_and_analysed(
    factory: Factory, registry: Registry, world: World, tmp_path: Path
) -> None:
    """A drone's camera writes radiometric JPEGs, not TIFFs (here FLIR's; a DJI drone's R-JPEGs are stored
    the same way and converted as they are read): each is stored as the JPEG it is and analysed."""
    sim, done, store = one_click_flight(factory, registry, world, tmp_path, frame_format="flir")
    assert done.status == "done", done.error
    iid = done.id
    n = len(sim.flight)
    assert frames_of(factory, iid) == list(range(n)) and done.summary["frames_used"] == n
    with unit_of_work(factory, Scope.for_system()) as s:
        stored = s.execute(select(PvFrame).where(PvFrame.inspection_id == iid)).scalars().all()
        assert {f.filename.rsplit(".", 1)[-1] for f in stored} == {"jpg"}
        assert all(store.path_for(f.sha256).read_bytes()[:2] == b"\xff\xd8" for f in stored)
    truth = {(a.module_id, a.anomaly.value) for a in sim.flight.anomalies}
    found = findings_of(factory, iid)
    assert len(found & truth) >= 0.9 * len(truth) and len(found & truth) >= 0.9 * len(found), (found, truth)


@pytest.mark.sqlite_leg
def test_a_dji_docks_flight_of_r_jpegs_is_read_through_one_camera_table_as_its_frames_land(
    factory: Factory,
    registry: Registry,
    world: World,
    tmp_path: Path,
    dji_program: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A DJI dock's drone sends its camera's R-JPEGs (the real M3T sample with each frame's counts and
    pose): the first frame to land makes the camera's table, every later one is looked up in it."""
    from gongzhi.modules.pv.io import dji_thermal_cli
    from gongzhi.modules.pv.io.dji_writer import dji_camera

    from .test_thermal_real_files import THERMAL

    sample = THERMAL / "M3T_DJI_0001_R.JPG"
    if not sample.is_file():
        pytest.skip(f"real thermal sample {sample} is absent")
    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(tmp_path / "writer-cache"))
    m3t = dji_camera(sample.read_bytes())
    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(tmp_path / "listener-cache"))
    sim, done, _store = one_click_flight(factory, registry, world, tmp_path, frame_format="dji", dji=m3t)
    assert done.status == "done", done.error
    assert done.summary["frames_used"] == len(sim.flight)
    truth = {(a.module_id, a.anomaly.value) for a in sim.flight.anomalies}
    found = findings_of(factory, done.id)
    assert len(found & truth) >= 0.9 * len(truth) and len(found & truth) >= 0.9 * len(found), (found, truth)
    cache = sorted(p.name for p in (tmp_path / "listener-cache").iterdir())
    assert [n for n in cache if n.endswith(".table.npy")] and len(cache) == 2, cache  # a table, its check
