"""Village supervision (基层监督) for ``gongzhi demo``: communities of 拱墅区 and villages of 龙游县 with
their supervision liaison stations, supervisors, projects, 四议两公开 records, three-assets ledgers and public
consultations, all written through :mod:`.service` so the audit chain, cases and ledger flags are real.

Every date is relative to today, so the overdue milestone stays overdue and the consultation stays open.
Names of people are common fictional ones; the places are the districts' towns and streets, the villages
and communities fictional.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongzhi.core import service as core
from gongzhi.core.models import Region, Role
from gongzhi.db import Scope, SessionFactory, unit_of_work
from gongzhi.demo import PASSWORD
from gongzhi.modules.village import models as m
from gongzhi.modules.village import service
from gongzhi.modules.village.analytics import ledger
from gongzhi.modules.village.schemas import (
    AssetIn,
    ConsultationIn,
    ContractIn,
    DecisionIn,
    MilestoneIn,
    ProjectIn,
    StationIn,
    StepIn,
    SupervisorIn,
    VillageIn,
    VisitIn,
)
from gongzhi.registry import Registry

# region code → villages: (code, name, town or street, representatives, party members)
VILLAGES = {
    "gongshu": (
        ("dq01", "南苑社区", "大关街道", 45, 62),
        ("dq02", "西岸社区", "大关街道", 38, 51),
        ("bs01", "田园村", "半山街道", 41, 57),
    ),
    "longyou": (
        ("hz01", "塘边村", "湖镇镇", 35, 48),
        ("hz02", "溪头村", "湖镇镇", 29, 36),
        ("xk01", "灵山村", "溪口镇", 33, 44),
    ),
}
# region code → stations: (village the station sits in, name, address, phone)
STATIONS = {
    "gongshu": (
        ("dq01", "大关街道监察联络站", "大关街道南苑社区党群服务中心一楼", "0571-88120301"),
        ("bs01", "半山街道监察联络站", "半山街道田园村村委会二楼", "0571-88120302"),
    ),
    "longyou": (
        ("hz01", "湖镇镇监察联络站", "湖镇镇塘边村便民服务中心", "0570-7412301"),
        ("xk01", "溪口镇监察联络站", "溪口镇灵山村文化礼堂旁", "0570-7412302"),
    ),
}
# supervisors: (name, phone, station village or "", linked villages, login username suffix or "")
SUPERVISORS = {
    "gongshu": (
        ("周建华", "13905710001", "dq01", ("dq01", "dq02"), "village"),
        ("吴美玲", "13905710002", "bs01", ("bs01",), ""),
    ),
    "longyou": (
        ("徐国平", "13905700001", "hz01", ("hz01", "hz02"), "village"),
        ("郑秀兰", "13905700002", "xk01", ("xk01",), ""),
    ),
}


@dataclass
class Ctx:
    """What one region's loading needs: its scopes, today, and ids by village code."""

    s: Session
    registry: Registry
    secret: str
    today: date
    villages: dict[str, int] = field(default_factory=dict)
    supervisors: dict[str, int] = field(default_factory=dict)  # by name
    logins: dict[int, Scope] = field(default_factory=dict)  # supervisor id → their login's scope

    def day(self, offset: int) -> date:
        return self.today + timedelta(days=offset)

    def at(self, offset: int, hour: int = 10) -> datetime:
        return datetime.combine(self.day(offset), time(hour), tzinfo=UTC)


def load_demo(
    factory: SessionFactory, registry: Registry, secret: str, *, today: date | None = None
) -> dict[str, int]:
    """Load the village supervision demo into the demo regions that exist; returns counts."""
    today = today or date.today()
    with unit_of_work(factory, Scope.for_system()) as s:
        regions = dict(s.execute(select(Region.code, Region.id).where(Region.code.in_(VILLAGES))).all())
        prefixes = dict(s.execute(select(Region.code, Region.case_prefix)).all())
    for code, rid in sorted(regions.items(), key=lambda x: x[1]):
        scope = Scope(region_id=rid, system=True, username="demo")  # as the other demo loaders
        with unit_of_work(factory, scope) as s:
            ctx = Ctx(s, registry, secret, today)
            _people(ctx, code, rid, prefixes[code].lower())
            CONTENT[code](ctx)
    with unit_of_work(factory, Scope.for_system()) as s:
        return counts(s, list(regions.values()))


def counts(s: Session, region_ids: list[int]) -> dict[str, int]:
    """Rows per village table in the given regions, and the ledger flags by kind."""
    out = {}
    tables: dict[str, Any] = {
        "villages": m.Village,
        "stations": m.Station,
        "supervisors": m.Supervisor,
        "projects": m.Project,
        "visits": m.Visit,
        "decisions": m.Decision,
        "contracts": m.Contract,
        "consultations": m.Consultation,
        "opinions": m.Opinion,
    }
    for name, model in tables.items():
        stmt = select(func.count(model.id)).where(model.region_id.in_(region_ids))
        out[f"village_{name}"] = s.execute(stmt, execution_options={"unscoped": True}).scalar_one()
    return out


# --- people and places -----------------------------------------------------------------------------


def _people(ctx: Ctx, code: str, rid: int, prefix: str) -> None:
    s = ctx.s
    for vcode, name, town, reps, party in VILLAGES[code]:
        data = VillageIn(code=vcode, name=name, town=town, representatives=reps, party_members=party)
        ctx.villages[vcode] = service.create_village(s, data).id
    stations = {}
    for vcode, name, address, phone in STATIONS[code]:
        station = StationIn(village_id=ctx.villages[vcode], name=name, address=address, phone=phone)
        stations[vcode] = service.create_station(s, station).id
    for name, phone, at, linked, login in SUPERVISORS[code]:
        user_scope = _login(s, rid, f"{prefix}_{login}", f"{name}（监督员）") if login else None
        sup_in = SupervisorIn(
            name=name,
            phone=phone,
            user_id=user_scope.user_id if user_scope else None,
            station_id=stations[at] if at else None,
            village_ids=[ctx.villages[v] for v in linked],
        )
        sup = service.create_supervisor(s, sup_in)
        ctx.supervisors[name] = sup.id
        if user_scope is not None:
            ctx.logins[sup.id] = user_scope


def _login(s: Session, rid: int, username: str, display: str) -> Scope:
    """A supervisor's own login: a 监督员 who sees only their villages (service.allowed_villages)."""
    user = core.create_user(s, username, display, PASSWORD, Role.SUPERVISOR, region_id=rid)
    return Scope(region_id=rid, user_id=user.id, role=Role.SUPERVISOR, username=username)


def _as(ctx: Ctx, supervisor: str) -> Scope | None:
    return ctx.logins.get(ctx.supervisors[supervisor])


def _visit(ctx: Ctx, supervisor: str, data: dict[str, Any]) -> int | None:
    """Record a visit as the supervisor's own login when they have one (else as the system, on their
    behalf); returns the case a finding raised."""
    s, own = ctx.s, _as(ctx, supervisor)
    saved = s.info["scope"]
    if own is not None:
        s.info["scope"] = own
    try:
        sid = None if own is not None else ctx.supervisors[supervisor]
        visit = service.record_visit(s, ctx.registry, VisitIn(supervisor_id=sid, **data))
    finally:
        s.info["scope"] = saved
    return visit.case_id


def _steps(ctx: Ctx, decision_id: int, village: str, steps: list[tuple[str, int, str, str]]) -> None:
    """Record 四议两公开 steps: (step, days ago, attendees, summary); votes from the village's sizes."""
    v = ctx.s.get_one(m.Village, ctx.villages[village])
    sizes = {"members": v.party_members, "representatives": v.representatives}
    for step, ago, attendees, summary in steps:
        votes: dict[str, int] = {}
        if step in sizes:
            n = sizes[step]
            present = n - max(2, n // 8)
            votes = {"expected": n, "present": present, "votes_for": present - 3}
            votes |= {"votes_against": 1, "abstain": 2}
        data = StepIn(
            step=step,
            held_on=ctx.day(-ago),
            attendees=attendees.split("、"),
            summary=summary,
            **votes,
        )
        service.record_step(ctx.s, decision_id, data)


def _lease(ctx: Ctx, village: str, asset: int | None, **fields: Any) -> m.Contract:
    return service.create_contract(
        ctx.s, ContractIn(village_id=ctx.villages[village], asset_id=asset, **fields)
    )


def _pay_every_year(ctx: Ctx, c: m.Contract, note: str, late_days: int = 15) -> None:
    """The rent of each contract year that has begun, paid a little after the year starts."""
    for start, rent in ledger.schedule(service.lease(c)):
        paid_on = start + timedelta(days=late_days)
        if paid_on <= ctx.today:
            service.add_payment(ctx.s, c.id, paid_on, rent / 100, f"{start.year}年度{note}")


def _opinions(ctx: Ctx, village: str, consultation: int, texts: list[tuple[str, str, str]]) -> list[int]:
    v = ctx.s.get_one(m.Village, ctx.villages[village])
    return [service.submit_opinion(ctx.s, v, t, n, p, consultation).id for t, n, p in texts]


# --- 拱墅区 ------------------------------------------------------------------------------------------


def _gongshu(ctx: Ctx) -> None:
    s, vid, y = ctx.s, ctx.villages, ctx.today.year
    lift = service.create_decision(
        s,
        DecisionIn(
            village_id=vid["dq01"],
            title="南苑社区老旧小区加装电梯（一期）实施方案",
            matter="南苑社区12幢、14幢、15幢加装电梯3台，总投资约186万元，其中政府补助每台20万元，"
            "其余由受益住户按楼层分摊；施工单位经公开比选确定。",
        ),
    )
    _steps(
        ctx,
        lift.id,
        "dq01",
        [
            ("proposal", 150, "刘志强、陈丽华、孙明", "社区党委根据居民联名申请提出加装电梯实施方案。"),
            (
                "committees",
                143,
                "刘志强、陈丽华、孙明、赵红梅、钱伟",
                "社区“两委”会商议，同意提交党员大会审议。",
            ),
            ("members", 136, "社区党员", "党员大会审议通过方案，建议补充低层住户补偿办法。"),
            ("representatives", 129, "居民代表", "居民代表会议表决通过加装电梯实施方案。"),
            ("disclose_resolution", 126, "刘志强", "决议在社区公开栏和“共治”公开页公示7天，无异议。"),
        ],
    )
    lift_project = service.create_project(
        s,
        ProjectIn(
            village_id=vid["dq01"],
            name="南苑社区老旧小区加装电梯（一期）",
            budget_yuan=1_860_000,
            contractor="杭州恒升电梯工程有限公司",
            starts_on=ctx.day(-110),
            ends_on=ctx.day(60),
            status="in_progress",
            decision_id=lift.id,
            milestones=[
                MilestoneIn(
                    name="施工图设计及审查", due_on=ctx.day(-95), done_on=ctx.day(-98), amount_yuan=90_000
                ),
                MilestoneIn(
                    name="井道及基础施工", due_on=ctx.day(-40), done_on=ctx.day(-43), amount_yuan=620_000
                ),
                MilestoneIn(name="电梯安装及调试", due_on=ctx.day(-12), amount_yuan=850_000),
                MilestoneIn(name="特种设备检验及竣工验收", due_on=ctx.day(45), amount_yuan=300_000),
            ],
        ),
    )
    _visit(
        ctx,
        "周建华",
        {
            "village_id": vid["dq01"],
            "project_id": lift_project.id,
            "visited_at": ctx.at(-9),
            "findings": "电梯安装节点已超期，施工方称导轨到货延迟；已要求其三日内报送调整后的进度计划。",
        },
    )
    sewer = service.create_project(
        s,
        ProjectIn(
            village_id=vid["dq02"],
            name="西岸社区雨污分流改造工程",
            budget_yuan=980_000,
            contractor="浙江华禹市政建设有限公司",
            starts_on=ctx.day(-60),
            ends_on=ctx.day(75),
            status="in_progress",
            milestones=[
                MilestoneIn(
                    name="管线探测及开挖", due_on=ctx.day(-30), done_on=ctx.day(-31), amount_yuan=250_000
                ),
                MilestoneIn(name="管道敷设及检查井砌筑", due_on=ctx.day(20), amount_yuan=480_000),
                MilestoneIn(name="路面恢复及闭水试验", due_on=ctx.day(70), amount_yuan=250_000),
            ],
        ),
    )
    _visit(
        ctx,
        "周建华",
        {
            "village_id": vid["dq02"],
            "project_id": sewer.id,
            "visited_at": ctx.at(-3, 16),
            "issue": True,
            "findings": "西岸社区3幢北侧沟槽开挖处围挡缺失约20米，夜间无警示灯，已有居民反映险些跌落；"
            "另发现现场使用的PE管无合格证。请街道城建科督促施工单位限期整改并复核管材。",
        },
    )
    repair = service.create_decision(
        s,
        DecisionIn(
            village_id=vid["bs01"],
            title="田园村文化礼堂修缮项目",
            matter="文化礼堂屋面渗漏、墙体开裂，拟投资约42万元修缮，资金由村集体经济收入和街道补助各半承担，"
            "施工单位通过街道小额工程交易平台确定。",
        ),
    )
    _steps(
        ctx,
        repair.id,
        "bs01",
        [
            ("proposal", 300, "沈国强、杨丽、黄志明", "村党支部根据村民代表提案提出修缮方案。"),
            ("committees", 294, "沈国强、杨丽、黄志明、何建平、罗芳", "两委会商议，同意提交党员大会审议。"),
            ("members", 287, "全体党员", "党员大会审议通过，建议保留礼堂原有木构梁架。"),
            ("representatives", 280, "村民代表", "村民代表会议表决通过修缮方案及资金筹措办法。"),
            ("disclose_resolution", 277, "沈国强", "决议在村务公开栏公示7天，无异议。"),
            ("disclose_result", 55, "沈国强", "工程已竣工验收，决算41.6万元，资金使用明细在村务公开栏公示。"),
        ],
    )
    hall = service.create_project(
        s,
        ProjectIn(
            village_id=vid["bs01"],
            decision_id=repair.id,
            name="田园村文化礼堂修缮",
            budget_yuan=420_000,
            contractor="杭州半山古建筑修缮有限公司",
            starts_on=ctx.day(-240),
            ends_on=ctx.day(-60),
            status="completed",
            milestones=[
                MilestoneIn(
                    name="屋面翻修", due_on=ctx.day(-170), done_on=ctx.day(-175), amount_yuan=180_000
                ),
                MilestoneIn(
                    name="内部装修及验收", due_on=ctx.day(-60), done_on=ctx.day(-64), amount_yuan=240_000
                ),
            ],
        ),
    )
    _visit(
        ctx,
        "吴美玲",
        {
            "village_id": vid["bs01"],
            "project_id": hall.id,
            "visited_at": ctx.at(-62),
            "findings": "参加竣工验收，工程量与合同一致，结算资料齐全，已在村务公开栏公示。",
        },
    )
    service.create_project(
        s,
        ProjectIn(
            village_id=vid["bs01"],
            name="田园村农房立面整治及道路提升",
            budget_yuan=760_000,
            starts_on=ctx.day(40),
            ends_on=ctx.day(220),
            status="planned",
        ),
    )
    pond = service.create_decision(
        s,
        DecisionIn(
            village_id=vid["bs01"],
            title="田园村集体鱼塘（约46亩）发包方案",
            matter="原承包合同明年到期，拟通过区农村产权交易平台公开发包，期限5年，底价每年6.8万元。",
        ),
    )
    _steps(
        ctx,
        pond.id,
        "bs01",
        [
            ("proposal", 18, "沈国强、杨丽、黄志明", "村党支部提议鱼塘到期后公开发包。"),
            ("committees", 11, "沈国强、杨丽、黄志明、何建平、罗芳", "两委会商议同意，底价参照周边行情。"),
        ],
    )
    _gongshu_ledger(ctx, y)
    _gongshu_consultation(ctx)


def _gongshu_ledger(ctx: Ctx, y: int) -> None:
    s, vid = ctx.s, ctx.villages
    plant = service.create_asset(
        s,
        AssetIn(
            village_id=vid["dq01"],
            kind="asset",
            name="南苑社区集体标准厂房（4200平方米）",
            value_yuan=8_600_000,
            notes="2012年建成，产权归社区股份经济合作社",
        ),
    )
    first = _lease(
        ctx,
        "dq01",
        plant.id,
        counterparty="杭州运达物流有限公司",
        subject="标准厂房整体租赁",
        starts_on=date(y - 6, 1, 1),
        ends_on=date(y - 2, 12, 31),
        annual_rent_yuan=1_500_000,
        escalation_pct=1.0,
        disclosed_on=date(y - 7, 12, 20),
    )
    _pay_every_year(ctx, first, "厂房租金")
    renewal = _lease(  # the renewal starts below the last year of the first lease: flagged
        ctx,
        "dq01",
        plant.id,
        counterparty="杭州运达物流有限公司",
        subject="标准厂房整体租赁（续签）",
        starts_on=date(y - 1, 1, 1),
        ends_on=date(y + 3, 12, 31),
        annual_rent_yuan=1_480_000,
        escalation_pct=1.0,
        previous_id=first.id,
        disclosed_on=date(y - 2, 12, 18),
    )
    _pay_every_year(ctx, renewal, "厂房租金")
    shops = service.create_asset(
        s,
        AssetIn(village_id=vid["dq02"], kind="asset", name="西岸社区沿街商铺（6间）", value_yuan=3_200_000),
    )
    shop = _lease(
        ctx,
        "dq02",
        shops.id,
        counterparty="杭州邻里便利店连锁有限公司",
        subject="沿街商铺1-3号租赁",
        starts_on=date(y - 2, 7, 1),
        ends_on=date(y + 2, 6, 30),
        annual_rent_yuan=286_000,
        escalation_pct=2.0,
        disclosed_on=date(y - 2, 6, 10),
    )
    _pay_every_year(ctx, shop, "商铺租金", late_days=10)
    parking = _lease(  # never disclosed: flagged
        ctx,
        "dq02",
        None,
        counterparty="杭州城西停车管理有限公司",
        subject="社区东侧空地临时停车场经营",
        starts_on=ctx.day(-300),
        ends_on=ctx.day(-300 + 3 * 365),
        annual_rent_yuan=120_000,
    )
    service.add_payment(s, parking.id, ctx.day(-290), 120_000, "首年场地使用费")
    pond = service.create_asset(
        s,
        AssetIn(village_id=vid["bs01"], kind="resource", name="田园村集体鱼塘（约46亩）", value_yuan=0),
    )
    old = _lease(  # expired, yet rent still came in afterwards: flagged
        ctx,
        "bs01",
        pond.id,
        counterparty="沈某某（个人承包）",
        subject="集体鱼塘承包",
        starts_on=ctx.day(-5 * 365 - 120),
        ends_on=ctx.day(-120),
        annual_rent_yuan=52_000,
        disclosed_on=ctx.day(-5 * 365 - 135),
    )
    _pay_every_year(ctx, old, "鱼塘承包费", late_days=5)
    service.add_payment(s, old.id, ctx.day(-35), 52_000, "鱼塘承包费（合同到期后收取）")


def _gongshu_consultation(ctx: Ctx) -> None:
    s, vid = ctx.s, ctx.villages
    c = service.create_consultation(
        s,
        ConsultationIn(
            village_id=vid["dq01"],
            title="南苑社区公共停车位规划征求意见",
            description="社区拟将8幢南侧绿地边角改造为约30个公共停车位，并在主干道划设夜间临时停车线。"
            "现向全体居民征求意见，欢迎就车位数量、收费方式、绿地补种等提出建议。",
            open_until=ctx.day(14),
        ),
    )
    ids = _opinions(
        ctx,
        "dq01",
        c.id,
        [
            ("支持改造。建议车位优先租给本小区有车无位的住户，收费标准按月公示。", "陈女士", "13800000101"),
            ("8幢南侧绿地里有几棵三十多年的香樟，改造时请务必保留，不要一砍了之。", "王老师", ""),
            (
                "8幢楼下的消防通道现在晚上就被私家车堵死了，改造前能不能先把消防通道清出来？"
                "上个月救护车都开不进来。",
                "李先生",
                "13800000103",
            ),
            ("建议同步安装两个电动自行车充电桩，现在很多人在楼道里飞线充电。", "", ""),
        ],
    )
    service.opinion_to_case(s, ctx.registry, ids[2], ctx.secret)
    service.opinion_to_decision(s, ids[3], "南苑社区电动自行车集中充电设施建设")


# --- 龙游县 ------------------------------------------------------------------------------------------


def _longyou(ctx: Ctx) -> None:
    s, vid, y = ctx.s, ctx.villages, ctx.today.year
    road = service.create_project(
        s,
        ProjectIn(
            village_id=vid["hz01"],
            name="塘边村村道硬化及路灯安装工程",
            budget_yuan=650_000,
            contractor="龙游县通衢交通建设有限公司",
            starts_on=ctx.day(-80),
            ends_on=ctx.day(30),
            status="in_progress",
            milestones=[
                MilestoneIn(name="路基整平", due_on=ctx.day(-55), done_on=ctx.day(-52), amount_yuan=150_000),
                MilestoneIn(name="水泥路面浇筑（2.3公里）", due_on=ctx.day(-5), amount_yuan=380_000),
                MilestoneIn(name="太阳能路灯安装及验收", due_on=ctx.day(25), amount_yuan=120_000),
            ],
        ),
    )
    service.link_decision(s, road.id, None)  # its 四议两公开 opened from the project page, just begun
    _visit(
        ctx,
        "徐国平",
        {
            "village_id": vid["hz01"],
            "project_id": road.id,
            "visited_at": ctx.at(-6),
            "issue": True,
            "findings": "抽查K1+200处路面，实测厚度约16厘米，低于设计的20厘米；现场无监理人员旁站。"
            "建议暂停该段计量支付，委托第三方钻芯检测。",
        },
    )
    farm = service.create_project(
        s,
        ProjectIn(
            village_id=vid["xk01"],
            name="灵山村高标准农田建设（320亩）",
            budget_yuan=1_150_000,
            contractor="衢州金土地农业开发有限公司",
            starts_on=ctx.day(-200),
            ends_on=ctx.day(-10),
            status="completed",
            milestones=[
                MilestoneIn(
                    name="土地平整及灌排渠系",
                    due_on=ctx.day(-100),
                    done_on=ctx.day(-104),
                    amount_yuan=700_000,
                ),
                MilestoneIn(
                    name="机耕路及竣工验收", due_on=ctx.day(-10), done_on=ctx.day(-14), amount_yuan=450_000
                ),
            ],
        ),
    )
    _visit(
        ctx,
        "郑秀兰",
        {
            "village_id": vid["xk01"],
            "project_id": farm.id,
            "visited_at": ctx.at(-15),
            "findings": "渠系和机耕路已按图施工，验收资料齐全；提醒村里落实后期管护责任人。",
        },
    )
    land = service.create_decision(
        s,
        DecisionIn(
            village_id=vid["hz02"],
            title="溪头村集体土地流转（180亩）续约方案",
            matter="原流转合同明年到期，拟继续流转给龙游县绿源家庭农场种植水稻，期限5年，"
            "每亩每年650元，每两年递增3%。",
        ),
    )
    _steps(
        ctx,
        land.id,
        "hz02",
        [
            ("proposal", 40, "叶伟、蓝小燕、毛海军", "村党支部提议土地流转到期后续约。"),
            ("committees", 35, "叶伟、蓝小燕、毛海军、徐丽、方建", "两委会商议同意续约方案。"),
            ("members", 28, "全体党员", "党员大会审议通过。"),
        ],
    )
    _longyou_ledger(ctx, y)
    c = service.create_consultation(
        s,
        ConsultationIn(
            village_id=vid["hz01"],
            title=f"塘边村{y + 1}年度民生实事项目征集",
            description="村两委正在谋划明年的民生实事项目，请村民提出最希望办的一两件事。",
            open_until=ctx.day(21),
        ),
    )
    _opinions(
        ctx,
        "hz01",
        c.id,
        [
            ("村里老人多，希望办一个老年食堂，中午能吃上热饭。", "徐大伯", "13700000201"),
            ("村口到小学那段路没有人行道，希望加装护栏。", "毛女士", ""),
        ],
    )


def _longyou_ledger(ctx: Ctx, y: int) -> None:
    land = service.create_asset(
        ctx.s,
        AssetIn(village_id=ctx.villages["hz02"], kind="resource", name="溪头村集体耕地（180亩）"),
    )
    lease = _lease(
        ctx,
        "hz02",
        land.id,
        counterparty="龙游县绿源家庭农场",
        subject="集体耕地流转",
        starts_on=date(y - 4, 3, 1),
        ends_on=date(y + 1, 2, 28),
        annual_rent_yuan=117_000,
        disclosed_on=date(y - 4, 2, 15),
    )
    _pay_every_year(ctx, lease, "土地流转费", late_days=20)
    hall = service.create_asset(
        ctx.s,
        AssetIn(village_id=ctx.villages["xk01"], kind="asset", name="灵山村老村委办公楼", value_yuan=600_000),
    )
    rent = _lease(
        ctx,
        "xk01",
        hall.id,
        counterparty="龙游县灵山竹制品专业合作社",
        subject="老村委办公楼一层出租",
        starts_on=date(y - 1, 5, 1),
        ends_on=date(y + 2, 4, 30),
        annual_rent_yuan=36_000,
        disclosed_on=date(y - 1, 4, 20),
    )
    _pay_every_year(ctx, rent, "房屋租金")


CONTENT = {"gongshu": _gongshu, "longyou": _longyou}
