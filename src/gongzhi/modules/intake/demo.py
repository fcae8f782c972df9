"""Citizen requests for ``gongzhi demo``: every demo region gets the starter category tree and a few dozen
requests through the real intake path (routing, triage, near-duplicate detection), including repeated
reports of the same problems so that duplicate groups and hot topics show in the console.

The messages are written for the project (no teddy2020 text ships): everyday 12345 matters of a district.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select

from gongzhi.core.models import Region
from gongzhi.db import Scope, SessionFactory, unit_of_work, utcnow
from gongzhi.modules.intake import jobs, service
from gongzhi.registry import Registry

MESSAGES = (
    ("路灯不亮", "{street}{n}号附近的路灯已经坏了一个星期，晚上很黑，老人小孩出行不安全，请尽快维修。"),
    ("井盖缺失", "{street}和{street2}交叉口有个窨井盖缺失，只放了一个纸箱挡着，电动车很容易摔倒。"),
    ("垃圾清运不及时", "{street}{n}号小区门口的垃圾桶已经满了三天没人清运，气味很大，夏天招蚊蝇。"),
    ("夜间施工噪音", "{street}旁边的工地每天晚上十一点以后还在打桩，严重影响居民休息，希望依法处理。"),
    ("占道经营", "{street}早上七点到九点有很多流动摊贩占用人行道，行人只能走机动车道，很危险。"),
    ("共享单车乱停", "{street}地铁站出口共享单车堆放在盲道上，盲人无法通行，请管理部门清理。"),
    ("自来水水质发黄", "我家住在{street}{n}号，这两天自来水发黄有异味，不敢饮用，请供水部门检测。"),
    ("违章停车堵塞消防通道", "{street}{n}号小区消防通道长期被私家车占用，一旦发生火灾后果不堪设想。"),
    ("公交站台破损", "{street}公交站的候车亭玻璃碎了，雨棚也漏水，下雨天乘客没地方躲雨。"),
    ("下水道堵塞", "{street}{n}号楼下的下水道堵了，污水漫到路面上，路过都要绕着走。"),
    ("绿化带无人修剪", "{street}中间绿化带的树枝长得太密，挡住了红绿灯，司机看不清信号。"),
    ("学校门口交通拥堵", "{street}小学放学时家长车辆乱停，道路堵得水泄不通，建议安排交警疏导。"),
    ("工资拖欠", "我在{street}附近一家装修公司打工，老板已经拖欠三个月工资，多次讨要没有结果。"),
    ("养老补贴咨询", "请问{street}社区八十岁以上老人的高龄补贴怎么申请，需要准备哪些材料？"),
    ("餐馆油烟扰民", "{street}{n}号楼下新开的餐馆油烟直接排到居民窗口，家里不敢开窗。"),
)
STREETS = ("湖墅南路", "莫干山路", "登云路", "拱康路", "大关路", "上塘路", "通益路", "丽水路")
REPEATS = (1, 3, 5)  # the first three problems are reported again and again: duplicates and a hot topic


def load_demo(
    factory: SessionFactory, registry: Registry, secret: str, *, per_region: int = 30, seed: int = 7
) -> int:
    """Seed categories and submit ``per_region`` requests in each region; returns how many were submitted."""
    rng = random.Random(seed)  # noqa: S311 - demo data
    with unit_of_work(factory, Scope.for_system()) as s:
        regions = list(s.execute(select(Region.id)).scalars())
    total = 0
    now = utcnow()
    for rid in regions:
        with unit_of_work(factory, Scope(region_id=rid, system=True, username="demo")) as s:
            service.seed_categories(s, rid)
        for i in range(per_region):
            k = REPEATS[i % len(REPEATS)] if i % 3 == 0 else rng.randrange(len(MESSAGES))
            subject, text = MESSAGES[k]
            street = STREETS[k % len(STREETS)] if k in REPEATS else rng.choice(STREETS)
            body = text.format(street=street, street2=rng.choice(STREETS), n=(k * 7) % 40 + 1)
            data = service.request_in(
                subject=subject,
                description=body,
                reporter_name=rng.choice(("张女士", "李先生", "王阿姨", "陈同学", "")),
                reporter_phone=f"138{rng.randrange(10**8):08d}",
                anonymous=rng.random() < 0.2,
            )
            when = now - timedelta(hours=rng.uniform(0.5, 24 * 20))
            with unit_of_work(factory, service.public_scope(rid, "citizen")) as s:
                service.submit(s, registry, data, region_id=rid, channel="web", secret=secret, now=when)
            total += 1
    jobs.refresh_hot_topics(factory, registry)
    return total
