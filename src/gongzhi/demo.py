"""Demo data: 拱墅区, 龙游县 and 昭化区, paired, with people, grid cells, SLA matrices and many cases.

Cases are driven through the real services with simulated clocks, so timelines, audit chains, outbox
events and SLA escalations are exactly what the platform would have written.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongzhi.cases import escalation
from gongzhi.cases import service as cases
from gongzhi.cases.models import Actor, Case, DispatchRule, SlaPolicy
from gongzhi.cases.schemas import ActionIn, CaseCreate
from gongzhi.cases.statemachine import Action, ReturnReason, State
from gongzhi.core import service as core
from gongzhi.core.models import Department, Membership, Region, Role, User
from gongzhi.db import Scope, utcnow
from gongzhi.kit import geo
from gongzhi.modules.intake.analytics import latency
from gongzhi.registry import Registry

PASSWORD = "gongzhi-demo"  # noqa: S105 - printed to the user; demo data only


@dataclass(frozen=True)
class RegionSpec:
    code: str
    name: str
    name_en: str
    admin_code: str
    prefix: str
    lon: float
    lat: float
    streets: tuple[str, ...]


REGIONS = (
    RegionSpec(
        "gongshu",
        "拱墅区",
        "Gongshu District, Hangzhou",
        "330105",
        "GS",
        120.141,
        30.319,
        (
            "米市巷街道",
            "湖墅街道",
            "小河街道",
            "和睦街道",
            "拱宸桥街道",
            "大关街道",
            "上塘街道",
            "祥符街道",
            "半山街道",
        ),
    ),
    RegionSpec(
        "longyou",
        "龙游县",
        "Longyou County, Quzhou",
        "330825",
        "LY",
        119.172,
        29.028,
        ("龙洲街道", "东华街道", "湖镇镇", "小南海镇", "溪口镇", "詹家镇", "塔石镇", "模环乡", "社阳乡"),
    ),
    RegionSpec(
        "zhaohua",
        "昭化区",
        "Zhaohua District, Guangyuan",
        "510811",
        "ZH",
        105.963,
        32.323,
        ("元坝镇", "昭化镇", "卫子镇", "王家镇", "磨滩镇", "柏林沟镇", "太公镇", "虎跳镇", "红岩镇"),
    ),
)

DEPARTMENTS = (
    ("urban", "综合行政执法局", "Urban Management"),
    ("housing", "住房和城乡建设局", "Housing and Construction"),
    ("ecology", "生态环境分局", "Ecology and Environment"),
    ("transport", "交通运输局", "Transport"),
    ("hrss", "人力资源和社会保障局", "Human Resources and Social Security"),
    ("data", "数据资源管理局", "Data Resources Bureau"),
)

CATEGORIES = {
    "city_appearance": ("urban", "占道经营、乱堆乱放"),
    "illegal_building": ("urban", "疑似违章搭建"),
    "property": ("housing", "小区物业服务问题"),
    "road": ("transport", "道路破损、井盖缺失"),
    "noise": ("ecology", "夜间施工噪声扰民"),
    "pollution": ("ecology", "河道异味、污水直排"),
    "wages": ("hrss", "拖欠农民工工资"),
    "pv_om": ("data", "屋顶光伏组件热斑告警"),
}

# category × priority → (claim, unit, resolve, unit); '*' rows are the fallback (one bureau's 12345 rules)
SLA_MATRIX = (
    ("*", "*", 4, "working_hours", 13, "working_days"),
    ("*", "urgent", 1, "hours", 24, "hours"),
    ("*", "high", 2, "working_hours", 3, "working_days"),
    ("wages", "*", 2, "working_hours", 5, "working_days"),
    ("pv_om", "*", 1, "working_hours", 2, "working_days"),
)

# the state each demo case ends in, and how often
TARGETS = (
    (State.SUBMITTED, 5),
    (State.ACCEPTED, 5),
    (State.REJECTED, 3),
    (State.MERGED, 2),
    (State.DISPATCHED, 12),
    (State.CLAIMED, 9),
    (State.IN_PROGRESS, 14),
    (State.RESOLVED, 8),
    (State.VERIFIED, 5),
    (State.CLOSED, 29),
    (State.RETURNED, 4),
    (State.REOPENED, 4),
)
PATHS: dict[State, tuple[Action, ...]] = {
    State.SUBMITTED: (),
    State.ACCEPTED: (Action.ACCEPT,),
    State.REJECTED: (Action.REJECT,),
    State.MERGED: (Action.ACCEPT, Action.MERGE),
    State.DISPATCHED: (Action.ACCEPT, Action.DISPATCH),
    State.CLAIMED: (Action.ACCEPT, Action.DISPATCH, Action.CLAIM),
    State.IN_PROGRESS: (Action.ACCEPT, Action.DISPATCH, Action.CLAIM, Action.START),
    State.RESOLVED: (Action.ACCEPT, Action.DISPATCH, Action.CLAIM, Action.START, Action.RESOLVE),
    State.VERIFIED: (
        Action.ACCEPT,
        Action.DISPATCH,
        Action.CLAIM,
        Action.START,
        Action.RESOLVE,
        Action.VERIFY,
    ),
    State.CLOSED: (
        Action.ACCEPT,
        Action.DISPATCH,
        Action.CLAIM,
        Action.START,
        Action.RESOLVE,
        Action.VERIFY,
        Action.CLOSE,
        Action.FOLLOW_UP,
    ),
    State.RETURNED: (Action.ACCEPT, Action.DISPATCH, Action.RETURN),
    State.REOPENED: (
        Action.ACCEPT,
        Action.DISPATCH,
        Action.CLAIM,
        Action.RESOLVE,
        Action.VERIFY,
        Action.CLOSE,
        Action.FOLLOW_UP,
    ),
}

ROLE_USERS = (
    ("admin", Role.ADMIN, "管理员"),
    ("dispatcher", Role.DISPATCHER, "派单员"),
    ("supervisor", Role.SUPERVISOR, "督查员"),
    ("viewer", Role.VIEWER, "值班观察员"),
)


@dataclass
class Cast:
    region: Region
    scopes: dict[str, Scope]
    handlers: dict[str, Scope]  # department code → a handler of that department
    actors: dict[str, int]  # department code → actor id


@contextmanager
def acting(s: Session, scope: Scope) -> Iterator[None]:
    saved = s.info.get("scope")
    s.info["scope"] = scope
    try:
        yield
    finally:
        s.info["scope"] = saved


def load(
    s: Session,
    registry: Registry,
    cases_per_region: int = 120,
    seed: int = 20261128,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Create the demo world in an empty database; returns counts. Runs in the system scope."""
    if s.execute(select(Region.id)).first() is not None:
        raise RuntimeError("the database already has regions; the demo loads into an empty database only")
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    casts = [_region(s, spec) for spec in REGIONS]
    for a in casts:
        for b in casts:
            if a.region.id < b.region.id:
                core.pair_regions(s, a.region.id, b.region.id, note="拱墅·龙游·昭化 结对共建")
    now = utcnow()
    total = 0
    for cast, spec in zip(casts, REGIONS, strict=True):
        for i in range(cases_per_region):
            _demo_case(s, registry, cast, spec, rng, now, i)
            total += 1
            if progress:
                progress(1)
    with acting(s, Scope.for_system()):
        report = escalation.sweep(s, registry, now)
    return {"regions": len(casts), "cases": total, "reminded": report.reminded, "escalated": report.escalated}


def _region(s: Session, spec: RegionSpec) -> Cast:
    region = core.create_region(
        s,
        spec.code,
        spec.name,
        spec.prefix,
        name_en=spec.name_en,
        admin_code=spec.admin_code,
        center_lon=spec.lon,
        center_lat=spec.lat,
    )
    admin_scope = Scope(region_id=region.id, role=Role.ADMIN, username=f"{spec.prefix.lower()}_setup")
    with acting(s, admin_scope):
        depts = {code: core.create_department(s, code, name, en) for code, name, en in DEPARTMENTS}
        for i, street in enumerate(spec.streets):
            lon = spec.lon + (i % 3 - 1) * 0.02
            lat = spec.lat + (i // 3 - 1) * 0.02
            core.upsert_grid_cell(
                s, f"{spec.prefix}-G{i + 1:02d}", f"{street}网格", geo.square(lon, lat, 0.01)
            )
        for cat, pri, ca, cu, ra, ru in SLA_MATRIX:
            s.add(
                SlaPolicy(
                    region_id=region.id,
                    category=cat,
                    priority=pri,
                    claim_amount=ca,
                    claim_unit=cu,
                    resolve_amount=ra,
                    resolve_unit=ru,
                )
            )
    scopes = {
        key: _user(s, region, f"{spec.prefix.lower()}_{key}", f"{spec.name}{label}", role, None)
        for key, role, label in ROLE_USERS
    }
    handlers, actors = {}, {}
    for code, dept in depts.items():
        handlers[code] = _user(
            s, region, f"{spec.prefix.lower()}_{code}", f"{spec.name}{dept.name}承办人", Role.HANDLER, dept.id
        )
        actor = Actor(
            region_id=region.id,
            kind="department",
            name=dept.name,
            department_id=dept.id,
            shared_with_pairs=code == "data",
        )
        s.add(actor)
        s.flush()
        actors[code] = actor.id
    for pos, (cat, (code, _)) in enumerate(CATEGORIES.items()):
        s.add(DispatchRule(region_id=region.id, position=pos * 10, category=cat, actor_id=actors[code]))
    s.flush()
    return Cast(region, scopes, handlers, actors)


def _user(s: Session, region: Region, username: str, name: str, role: Role, dept_id: int | None) -> Scope:
    with acting(s, Scope(region_id=region.id, role=Role.ADMIN, system=True)):
        user = core.create_user(s, username, name, PASSWORD, role, dept_id, region_id=region.id)
    return Scope(region_id=region.id, user_id=user.id, role=role, username=username)


def _demo_case(
    s: Session, registry: Registry, cast: Cast, spec: RegionSpec, rng: random.Random, now: datetime, i: int
) -> None:
    category = rng.choice(list(CATEGORIES))
    dept, title = CATEGORIES[category]
    street_i = rng.randrange(len(spec.streets))
    lon = spec.lon + (street_i % 3 - 1) * 0.02 + rng.uniform(-0.009, 0.009)
    lat = spec.lat + (street_i // 3 - 1) * 0.02 + rng.uniform(-0.009, 0.009)
    target = rng.choices([t for t, _ in TARGETS], weights=[w for _, w in TARGETS])[0]
    if target == State.MERGED and i < 5:
        target = State.CLOSED  # nothing to merge into yet
    times = _timeline(PATHS[target], rng, now)
    t = times[0]
    data = CaseCreate(
        title=f"{spec.streets[street_i]}{title}",
        description=f"群众反映：{spec.streets[street_i]}附近{title}，请尽快处理。",
        category=category,
        priority=rng.choices(["low", "normal", "high", "urgent"], [2, 12, 4, 1])[0],
        location={"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
        address=f"{spec.name}{spec.streets[street_i]}",
        reporter_name=rng.choice(["张伟", "王芳", "李娜", "刘洋", "陈静"]),
        reporter_phone=f"13{rng.randrange(100000000, 999999999)}",
        reporter_anonymous=rng.random() < 0.1,
        source=rng.choice(["12345", "web", "grid", "open311"]),
    )
    with acting(s, cast.scopes["dispatcher"]):
        case = cases.create_case(s, registry, data, now=t)
    for action, t in zip(PATHS[target], times[1:], strict=True):
        scope, payload = _step(s, cast, case, action, dept, rng, target)
        with acting(s, scope):
            cases.apply(s, registry, case.id, action, payload, now=t)


def _timeline(path: tuple[Action, ...], rng: random.Random, now: datetime) -> list[datetime]:
    """When a demo case was created and when each step of its path happened.

    The reply (回单, ``resolve``) comes a reply latency after creation, drawn from the distribution of the
    government's replies on a real message board (median 11.2 days, p90 41 days; see
    ``intake.analytics.latency``); the steps before it fall inside that span, the steps after it within
    hours to a couple of days (verification, closure, then the next-day follow-up call). Cases that are
    not yet replied are younger than their drawn latency, so their open age is realistic too.
    """
    reply = timedelta(days=latency.demo_days(rng.random()))
    before = path.index(Action.RESOLVE) if Action.RESOLVE in path else len(path)
    after = [timedelta(hours=rng.uniform(2, 30)) for _ in path[before + 1 :]]
    if Action.RESOLVE in path:
        created = now - reply - sum(after, timedelta()) - timedelta(days=rng.uniform(0, 20))
    else:
        created = now - reply * rng.uniform(0.05, 0.95)
    marks = sorted(rng.uniform(0.02, 0.6) for _ in range(before))
    times = [created, *(created + reply * m for m in marks)]
    if Action.RESOLVE in path:
        times.append(created + reply)
        for gap in after:
            times.append(times[-1] + gap)
    return [min(now, x) for x in times]


def _step(
    s: Session, cast: Cast, case: Any, action: Action, dept: str, rng: random.Random, target: State
) -> tuple[Scope, ActionIn]:
    if action in (Action.CLAIM, Action.START, Action.RESOLVE, Action.RETURN):
        payload = {
            Action.RESOLVE: ActionIn(note="已现场处置完毕，附整改前后照片。"),
            Action.RETURN: ActionIn(reason=rng.choice(list(ReturnReason)[:3]), note="非本单位职责范围"),
        }.get(action, ActionIn())
        return cast.handlers[dept], payload
    if action == Action.VERIFY:
        return cast.scopes["supervisor"], ActionIn(passed=True, note="核查属实")
    if action == Action.FOLLOW_UP:
        unhappy = target == State.REOPENED
        return cast.scopes["dispatcher"], ActionIn(
            rating=2 if unhappy else rng.choice([4, 5]), satisfied=not unhappy
        )
    if action == Action.MERGE:
        into = _merge_target(s, case)
        return cast.scopes["dispatcher"], ActionIn(target_case_id=into, note="重复诉求合并")
    if action == Action.REJECT:
        return cast.scopes["dispatcher"], ActionIn(note="不属于受理范围")
    return cast.scopes["dispatcher"], ActionIn(actor_id=cast.actors[CATEGORIES[case.category][0]])


def _merge_target(s: Session, case: Case) -> int:
    stmt = select(Case.id).where(
        Case.region_id == case.region_id,
        Case.id != case.id,
        Case.state.not_in([State.MERGED, State.REJECTED]),
    )
    found = s.execute(stmt.order_by(Case.id).limit(1)).scalar_one_or_none()
    if found is None:
        raise RuntimeError("no case to merge into yet")
    return found


def logins(s: Session) -> list[tuple[str, str, str]]:
    rows = s.execute(
        select(User.username, Membership.role, Region.name)
        .join(Membership, Membership.user_id == User.id)
        .join(Region, Region.id == Membership.region_id)
        .order_by(Region.id, User.username),
        execution_options={"unscoped": True},
    )
    return [(u, r, n) for u, r, n in rows]


__all__ = ["PASSWORD", "Department", "load", "logins"]
