"""态势总览: counts by state, overdue work, the live alert feed, the map, trends and SLA compliance."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from gongzhi.cases import alerts, stats
from gongzhi.cases.alerts import LIVE
from gongzhi.core import service as core
from gongzhi.core.deps import api_router
from gongzhi.kit.validation import DbInt
from gongzhi.web import charts, labels
from gongzhi.web.i18n import N_
from gongzhi.web.shell import DASHBOARD, Console, ConsoleDep

router = api_router(include_in_schema=False)
PIPELINE = (
    "submitted",
    "accepted",
    "dispatched",
    "claimed",
    "in_progress",
    "resolved",
    "verified",
    "returned",
    "reopened",
    "closed",
)


def summary(c: Console) -> dict[str, Any]:
    """The figures at the top of the overview (also pushed live to open dashboards)."""
    counts = stats.counts_by_state(c.s)
    open_total = sum(n for st, n in counts.items() if st in stats.OPEN_STATES)
    return {
        "counts": [(st, counts.get(st, 0)) for st in PIPELINE],
        "open_total": open_total,
        "overdue": stats.overdue_count(c.s),
        "live_alerts": stats.live_alert_count(c.s),
    }


def map_data(c: Console) -> dict[str, Any]:
    """Grid cells with their open work, and the open cases and live alerts that have a place."""
    per_cell = stats.open_by_grid_cell(c.s)
    features: list[dict[str, Any]] = []
    for cell in core.list_grid_cells(c.s):
        cases_n, alerts_n = per_cell.get(cell.id, (0, 0))
        props = {"kind": "cell", "name": cell.name, "code": cell.code, "cases": cases_n, "alerts": alerts_n}
        features.append({"type": "Feature", "geometry": cell.geometry, "properties": props})
    open_cases, live_alerts = stats.open_points(c.s)
    for case in open_cases:
        props = {
            "kind": "case",
            "title": f"{case.number} {case.title}",
            "label": c._(labels.label("state", case.state)),
            "url": f"/cases/{case.id}",
        }
        features.append({"type": "Feature", "geometry": case.location, "properties": props})
    for alert in live_alerts:
        props = {
            "kind": "alert",
            "title": alert.title,
            "label": c._(labels.label("severity", alert.severity)),
            "severity": alert.severity,
            "url": f"/alerts/{alert.id}",
        }
        features.append({"type": "Feature", "geometry": alert.location, "properties": props})
    region = c.me.region
    return {
        "type": "FeatureCollection",
        "features": features,
        "center": [region.center_lat, region.center_lon],
        "legend": {k: c._(v) for k, v in MAP_LEGEND.items()},
    }


MAP_LEGEND = {
    "case": N_("Open case"),
    "alert": N_("Live alert"),
    "cell": N_("Grid cell"),
    "cases": N_("open cases"),
    "alerts": N_("live alerts"),
    "open": N_("Open"),
}


def trend_chart(c: Console, days: int) -> Any:
    rows = stats.daily_trend(c.s, days)
    return charts.trend(
        [c.lang.day(r.day) for r in rows],
        [r.created for r in rows],
        [r.closed for r in rows],
        c._("Cases created and closed per day"),
        (c._("Created"), c._("Closed")),
    )


@router.get("/")
def dashboard(c: ConsoleDep, days: DbInt = 7, wall: bool = False) -> Response:
    days = 30 if days >= 30 else 7
    feed, _ = alerts.list_alerts(c.s, list(LIVE), None, None, 1, 12)
    return c.page(
        "dashboard.html",
        days=days,
        wall=wall,
        theme="dark" if wall else c.theme,
        feed=feed,
        chart=trend_chart(c, days),
        sla=stats.sla_by_actor(c.s, 30),
        mapdata=map_data(c),
        cards=[(card.template, card.data(c)) for card in DASHBOARD],
        **summary(c),
    )
