"""The dock simulator flies the wayline it was given: frames at its trigger points, in the order and at the
times the drone passes them at the wayline's speed (compressed by the time factor), each frame carrying the
position, yaw and time of its trigger point; progress follows the route."""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from gongzhi.modules.pv import analysis_adapter as adapter
from gongzhi.modules.pv import dock
from gongzhi.modules.pv import mqtt as pvmqtt
from gongzhi.modules.pv import service as pv
from gongzhi.modules.pv.dock_sim import DockSimulator, DockSpec, route
from gongzhi.modules.pv.io import dock_protocol as proto

from ._dock import noon_clock
from ._mqtt import private_broker
from .flights import tiny_layout


def test_the_route_passes_the_plans_trigger_points_at_its_speed() -> None:
    layout = tiny_layout()
    plan = pv.flight_plan(layout.polygon, "M3T", row_azimuth_deg=layout.row_azimuth_deg)
    line = dock.wayline(plan)
    r = route(line, layout)
    assert len(r.trigger_s) == plan.image_count
    for (lon, lat), (plon, plat) in zip(r.trigger_lonlat, plan.trigger_points, strict=True):
        assert abs(lon - plon) < 1e-9 and abs(lat - plat) < 1e-9
    assert r.trigger_s[0] == pytest.approx(plan.takeoff_landing_time_s / 2)
    first = plan.lines[0]
    step = first.trigger_spacing_m / plan.speed_m_s  # along a line: spacing / speed
    gaps = [b - a for a, b in zip(r.trigger_s, r.trigger_s[1:], strict=False)]
    assert gaps[: len(first.triggers) - 1] == pytest.approx([step] * (len(first.triggers) - 1))
    assert all(g > 0 for g in gaps)
    assert gaps[len(first.triggers) - 1] > step  # the turn to the next line takes longer
    assert r.landed_s == pytest.approx(plan.flight_time_s, abs=1e-6)


def test_each_frame_carries_the_position_yaw_and_time_of_its_trigger_point(tmp_path: Path) -> None:
    layout = tiny_layout()
    plan = pv.flight_plan(layout.polygon, "M3T", row_azimuth_deg=layout.row_azimuth_deg)
    line = dock.wayline(plan)
    scale = 50.0
    got: list[tuple[float, proto.Message]] = []
    lock = threading.Lock()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with lock:
            got.append((time.monotonic(), proto.read(bytes(msg.payload))))

    with private_broker() as b:
        sim = DockSimulator(
            DockSpec(sn="ROUTE1", layout=layout, seed=2, time_scale=scale, clock=noon_clock(layout)), b.broker
        )
        sim.start()
        watch = pvmqtt.client("route-watch", persistent=False)
        watch.on_message = on_message
        pvmqtt.connect(watch, b.broker, persistent=False)
        pvmqtt.subscribe(watch, [(proto.topic("ROUTE1", "events"), 1)])
        try:
            for msg in (proto.prepare("f1", line), proto.execute("f1")):
                assert dock.call(b.broker, "ROUTE1", msg, timeout_s=5).result == proto.RESULT_OK
            started = time.monotonic()
            assert sim.wait_landed(60)
            time.sleep(0.5)
        finally:
            pvmqtt.disconnect(watch)
            sim.stop()
    r = route(line, layout)
    progress = [proto.read_progress(m) for _, m in got if m.method == proto.PROGRESS]
    took_off = progress[0].ext["took_off_at"]
    arrived: dict[int, float] = {}
    parts: dict[int, dict[int, bytes]] = {}
    heads: dict[int, proto.Chunk] = {}
    for at, m in got:
        if m.method == proto.FRAME_CHUNK:
            c = proto.read_chunk(m)
            parts.setdefault(c.seq, {})[c.chunk] = c.content
            heads[c.seq], arrived[c.seq] = c, at
    assert sorted(parts) == list(range(plan.image_count))
    for i in range(plan.image_count):
        # sent no earlier than the compressed flight reaches the trigger point
        assert arrived[i] - started >= r.trigger_s[i] / scale - 0.25, i
        data = proto.assemble(parts[i], heads[i])
        assert data is not None
        path = tmp_path / f"f{i}.tif"
        path.write_bytes(data)
        meta = adapter.read(path).meta
        assert meta.lon is not None and meta.lat is not None and meta.flight_yaw_deg is not None
        x, y = layout.origin.to_xy(meta.lon, meta.lat)
        px, py = layout.origin.to_xy(*plan.trigger_points[i])
        assert math.hypot(x - px, y - py) < 3.0, i  # the trigger point, within the GPS noise
        ln = plan.lines[r.trigger_line[i]]
        (x0, y0), (x1, y1) = layout.origin.to_xy(*ln.start), layout.origin.to_xy(*ln.end)
        heading = math.degrees(math.atan2(x1 - x0, y1 - y0))
        assert abs((meta.flight_yaw_deg - heading + 180) % 360 - 180) < 5.0, i
        assert meta.time is not None
        taken = dt.datetime.fromisoformat(took_off) + dt.timedelta(seconds=r.trigger_s[i] / scale)
        assert meta.time == taken.replace(microsecond=0), i  # EXIF keeps whole seconds
    survey = [p for p in progress if p.phase == "survey"]
    assert survey and [p.ext["waypoint"] for p in survey] == sorted(p.ext["waypoint"] for p in survey)
    assert [p.percent for p in progress] == sorted(p.percent for p in progress)
    assert progress[-1].phase == "landed"
