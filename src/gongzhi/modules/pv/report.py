"""The O&M report of one inspection (巡检报告), in HTML and PDF, Chinese or English.

Contents: the plant map with every module coloured by its finding; findings by class and severity with ΔT and
ΔTn; an IR thumbnail per finding (the module's frame, hot spot circled); inspection conditions against
IEC TS 62446-3 (irradiance ≥ 600 W/m² in the module plane, wind ≤ 28 km/h; domain/pv.md §1); the flight's
duration against walking the plant (the seed's figure: one hour on foot for a 50,000 m² roof, scaled by area);
recommended actions per class. The PDF embeds its fonts (``gongzhi.kit.pdffonts``).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import math
import warnings
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import numpy.typing as npt
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from gongzhi.errors import InvalidInput, NotFound, msg
from gongzhi.kit.filestore import FileStore
from gongzhi.modules.pv import loop, production, service
from gongzhi.modules.pv.analytics.anomalies import Anomaly, loss_at_stake, named_loss_share
from gongzhi.modules.pv.analytics.cameras import CAMERAS, ThermalCamera
from gongzhi.modules.pv.analytics.flightplan import FlightPlan
from gongzhi.modules.pv.analytics.geometry import project
from gongzhi.modules.pv.analytics.layout import PlantLayout
from gongzhi.modules.pv.analytics.modules import SUN_REFLECTIONS_NOTE
from gongzhi.modules.pv.analytics.production import MIN_CALIBRATION_POINTS, IndexCalibration
from gongzhi.modules.pv.analytics.soiling import (
    FORECAST_MAX_DAYS,
    GRACE_DAYS,
    RAIN_WASH_MM,
    SoilingForecast,
    ZoneSoiling,
    plant_day,
)
from gongzhi.modules.pv.io.thermal import read_frame
from gongzhi.modules.pv.io.visible import VisibleError, read_visible
from gongzhi.modules.pv.models import PvFinding, PvFrame, PvInspection, PvModule, PvPlant
from gongzhi.modules.pv.names import CLASS_NAMES
from gongzhi.modules.pv.outcome import worst_by_module

MANUAL_MIN_PER_50000_M2 = 60.0
MIN_IRRADIANCE_W_M2 = 600.0
MAX_WIND_M_S = 28 / 3.6

COLOURS = {
    "none": "#d9e4ef",
    Anomaly.SOILING.value: "#c9a227",
    Anomaly.VEGETATION.value: "#4c9a2a",
    Anomaly.SHADING.value: "#7f7f7f",
}
FAULT_COLOUR = {"S1": "#f4a261", "S2": "#e76f51", "S3": "#b00020"}

log = logging.getLogger(__name__)

TEXT: dict[str, dict[str, str]] = {
    "title": {"zh-CN": "光伏电站无人机巡检报告", "en": "PV plant drone inspection report"},
    "plant": {"zh-CN": "电站", "en": "Plant"},
    "inspection": {"zh-CN": "巡检", "en": "Inspection"},
    "conditions": {"zh-CN": "巡检条件", "en": "Conditions"},
    "coverage": {"zh-CN": "覆盖", "en": "Coverage"},
    "coverage_text": {
        "zh-CN": "组件 {seen} / {total}（{pct}）；帧 {used} / {frames} 已分析",
        "en": "modules {seen} of {total} ({pct}); frames {used} of {frames} analysed",
    },
    "left_out": {"zh-CN": "；上传时剔除 {n} 帧", "en": "; {n} left out at the upload"},
    "irradiance": {"zh-CN": "辐照度", "en": "Irradiance"},
    "classes_by": {"zh-CN": "异常分类", "en": "Anomaly classes"},
    "by_rules": {"zh-CN": "按规则判定", "en": "by the rules"},
    "by_rules_network": {
        "zh-CN": "按规则判定，组件图像网络置信度不低于 {c} 时改判类别",
        "en": "by the rules, renamed by the crop network where it is at least {c} confident",
    },
    "legend_none": {"zh-CN": "无缺陷或未见", "en": "No finding, or not seen"},
    "legend_S1": {"zh-CN": "故障 S1（ΔT < 10 K）", "en": "Fault S1 (ΔT < 10 K)"},
    "legend_S2": {"zh-CN": "故障 S2（ΔT 10–20 K）", "en": "Fault S2 (ΔT 10–20 K)"},
    "legend_S3": {"zh-CN": "故障 S3（ΔT ≥ 20 K）", "en": "Fault S3 (ΔT ≥ 20 K)"},
    "since": {
        "zh-CN": "与巡检 #{n}（{day}）相比：新发现 {new} 块组件，再次发现 {again} 块，"
        "{gone} 块已不再发现，上次发现的组件中有 {unseen} 块本次未拍到。",
        "en": "Against inspection #{n} ({day}), modules with a finding: new {new}, found again {again}, "
        "no longer found {gone}, found then but not seen by this flight {unseen}.",
    },
    "loss": {
        "zh-CN": "缺陷估算损失：约合 {modules:.1f} 块组件的功率（占电站 {share:.2f} %），"
        "按日发电量 {kwh_day:.0f} 千瓦时、电价 {tariff:g} 元/千瓦时计，每天约 {kwh:.1f} 千瓦时，"
        "每年约 {yuan:,.0f} 元。此为估算而非实测：旁路二极管导通计该组件功率的三分之一，"
        "组件或组串离线计全部，其余热缺陷按严重度计 15 % / 30 % / 60 %。",
        "en": "Estimated loss of the defects: about {modules:.1f} modules' worth of power ({share:.2f} % "
        "of the plant); at {kwh_day:.0f} kWh a day and {tariff:g} yuan/kWh, about {kwh:.1f} kWh a day, "
        "{yuan:,.0f} yuan a year. An estimate, not a measurement: a conducting bypass diode counts a third "
        "of its module, an offline module or string all of it, any other thermal defect 15 / 30 / 60 % by "
        "severity.",
    },
    "loss_left_out": {
        "zh-CN": "遮挡、积灰、植被 {n} 项未计入：一次巡检无法判断其损失。",
        "en": "Shade, soiling and vegetation ({n}) are not in it: one flight cannot tell what they cost.",
    },
    "sun_reflections": {
        "zh-CN": "⚠ 阳光反射：按拍摄时间和位置推算的太阳解释不了本次飞行的反光斑块，"
        "电站的倾角和朝向或相机的时钟可能有误；所有斑块均已交由多视角表决，热斑类缺陷请到现场复核",
        "en": "⚠ Sun reflections: the sun worked out from the frames' time and place does not explain this "
        "flight's glints, so the plant's tilt and facing or the camera's clock may be wrong; every pattern "
        "was put to the vote, and hot-spot findings want a check on site",
    },
    "ambient": {"zh-CN": "环境温度", "en": "Ambient temperature"},
    "wind": {"zh-CN": "风速", "en": "Wind"},
    "compliant": {"zh-CN": "符合 IEC TS 62446-3", "en": "Compliant with IEC TS 62446-3"},
    "not_compliant": {"zh-CN": "不符合 IEC TS 62446-3", "en": "Not compliant with IEC TS 62446-3"},
    "unknown": {"zh-CN": "未记录", "en": "not recorded"},
    "duration": {"zh-CN": "巡检用时", "en": "Inspection time"},
    "manual": {"zh-CN": "人工步行巡检约", "en": "on foot, about"},
    "map": {"zh-CN": "组件分布图", "en": "Module map"},
    "summary": {"zh-CN": "缺陷统计", "en": "Findings by class and severity"},
    "findings": {"zh-CN": "缺陷明细", "en": "Findings"},
    "actions": {"zh-CN": "处置建议", "en": "Recommended actions"},
    "zones": {"zh-CN": "分区积灰与清洗经济性", "en": "Soiling and cleaning economics per zone"},
    "zone": {"zh-CN": "分区（阵列）", "en": "Zone (array)"},
    "energy_share": {"zh-CN": "发电量占比", "en": "Energy share"},
    "soiling_index": {"zh-CN": "积灰指数", "en": "Soiling index"},
    "visible_photo": {"zh-CN": "可见光照片", "en": "visible-light photo"},
    "visible_soiling_index": {"zh-CN": "可见光积灰指数（本次）", "en": "Visible soiling index (this flight)"},
    "rate": {"zh-CN": "积灰速率 (每日)", "en": "Soiling rate (per day)"},
    "t_star": {"zh-CN": "最优清洗周期 T*", "en": "Optimal interval T*"},
    "lost": {"zh-CN": "上次洁净后损失 / 清洗成本 (元)", "en": "Lost since last clean / cost (yuan)"},
    "advice": {"zh-CN": "建议", "en": "Advice"},
    "clean_now": {"zh-CN": "立即清洗", "en": "Clean now"},
    "due": {"zh-CN": "下次清洗", "en": "Next cleaning"},
    "never": {"zh-CN": "暂无需清洗", "en": "Cleaning does not pay"},
    "days": {"zh-CN": "天", "en": "days"},
    "src_inspections": {"zh-CN": "两次巡检对比", "en": "last two inspections"},
    "src_since cleaning": {"zh-CN": "清洗后巡检", "en": "inspection since cleaning"},
    "src_assumed": {"zh-CN": "假定值", "en": "assumed"},
    "src_production": {"zh-CN": "发电数据", "en": "production data"},
    "method": {"zh-CN": "方法", "en": "Method"},
    "method_production": {"zh-CN": "实测：发电数据 RdTools SRR", "en": "Measured: RdTools SRR on production"},
    "method_ir_calibrated": {"zh-CN": "红外积灰指数（已标定）", "en": "IR soiling index, calibrated"},
    "method_ir_index": {"zh-CN": "红外积灰指数（未标定）", "en": "IR soiling index, uncalibrated"},
    "method_typed": {"zh-CN": "人工输入", "en": "Typed in"},
    "loss_now": {"zh-CN": "当前损失", "en": "loss now"},
    "calibrated": {
        "zh-CN": "红外标定：损失 = {a} × 积灰指数 {b}，R² {r}，{n} 个样本点（已用于无发电数据的分区）。",
        "en": "IR calibration: loss = {a} × soiling index {b}, R² {r}, {n} points (used for zones without "
        "production data).",
    },
    "uncalibrated": {
        "zh-CN": "红外标定：仅 {n} 个样本点（需 {m} 个，即发电数据覆盖日期内的巡检），积灰指数未标定。",
        "en": "IR calibration: {n} points of {m} needed (inspections on days the production data covers); "
        "the soiling index is read uncalibrated.",
    },
    "zones_note": {
        "zh-CN": "T* = √(2C/(s·E·p))；C、E 按组件数分摊到各分区。积灰速率优先取该分区发电数据的"
        " RdTools SRR 结果（方括号内为 95% 置信区间），其次为经电站标定的积灰指数变化，"
        "再次为按指数等于损失比例换算的未标定近似，最后为人工输入值。",
        "en": "T* = √(2C/(s·E·p)); C and E are shared among the zones by module count. A zone's soiling rate "
        "comes, by preference, from RdTools SRR on its production data (95 % interval in brackets), from the "
        "soiling index change turned into loss by the plant's calibration, from the index read one for one "
        "as loss (uncalibrated), or from the rate typed in.",
    },
    "economics": {
        "zh-CN": "C = 单次清洗费用 {cost:,.0f} 元 · E = 日发电量 {kwh_day:,.0f} 千瓦时 · "
        "p = 电价 {tariff:g} 元/千瓦时 · s = 假定积灰速率 {rate:g} %/天。",
        "en": "C = {cost:,.0f} yuan a cleaning · E = {kwh_day:,.0f} kWh a day · p = {tariff:g} yuan/kWh · "
        "s = {rate:g} % a day assumed.",
    },
    "economics_defaults": {
        "zh-CN": "其中 {names} 为平台默认值{estimated}，可在电站页面填写本电站的数值。",
        "en": "Of these, {names} are the platform's defaults{estimated}; the plant's own can be set on its "
        "page.",
    },
    "energy_estimated": {
        "zh-CN": "（日发电量按屋顶面积估算）",
        "en": " (the energy estimated from the roof's area)",
    },
    "forecast": {"zh-CN": "积灰预测（Kimber 模型）", "en": "Soiling forecast (Kimber model)"},
    "clean_since": {"zh-CN": "视为清洁日", "en": "Clean since"},
    "loss_today": {"zh-CN": "今日损失", "en": "Loss today"},
    "in_days": {"zh-CN": "{n} 天后", "en": "In {n} days"},
    "clean_level": {"zh-CN": "立即清洗阈值", "en": "Clean-now level"},
    "clean_by": {"zh-CN": "应清洗日期", "en": "Clean by"},
    "not_within": {"zh-CN": "{n} 天内不需", "en": "Not within {n} days"},
    "levels_off": {
        "zh-CN": "暂无需清洗（损失在 {ceiling:.0f} % 趋稳，低于清洗阈值）",
        "en": "Cleaning does not pay (the loss levels off at {ceiling:.0f} %, below the level)",
    },
    "forecast_note_rain": {
        "zh-CN": "假设：pvlib Kimber 模型；各分区自所列日期起视为清洁，按上表积灰速率累积，"
        "机器人清洗及 24 小时降雨超过 {mm} mm 时清零（雨后 {grace} 天不积灰）；"
        "降雨取自发电数据 {a} 至 {b}；自今日起假定无雨、无清洗。"
        "应清洗日期：损失达到立即清洗阈值 s·T* 的日期。",
        "en": "Assumptions: pvlib's Kimber model; each zone clean on the day shown, soiling at its rate "
        "above, reset by its robot cleanings and by rain over {mm} mm in 24 hours (no soiling for {grace} "
        "days after); rain from the production data, {a} to {b}; no rain and no cleaning from today on. "
        "Clean by: the day the loss reaches the clean-now level s·T*.",
    },
    "forecast_note_dry": {
        "zh-CN": "假设：pvlib Kimber 模型；各分区自所列日期起视为清洁，按上表积灰速率累积，机器人清洗时清零；"
        "发电数据中无降雨记录，过去与今后均假定无雨。"
        "应清洗日期：损失达到立即清洗阈值 s·T* 的日期。",
        "en": "Assumptions: pvlib's Kimber model; each zone clean on the day shown, soiling at its rate "
        "above, reset by its robot cleanings; the production data holds no rain, so none is assumed, in the "
        "past or from today on. Clean by: the day the loss reaches the clean-now level s·T*.",
    },
    "module": {"zh-CN": "组件", "en": "Module"},
    "class": {"zh-CN": "类别", "en": "Class"},
    "severity": {"zh-CN": "严重度", "en": "Severity"},
    "status": {"zh-CN": "复核", "en": "Review"},
    "frames": {"zh-CN": "帧数", "en": "Frames"},
    "none_found": {"zh-CN": "未发现缺陷。", "en": "No findings."},
    "severity_note": {
        "zh-CN": "等级按 ΔTn 划分；旁路二极管（子串）至少为 S2，组件或组串开路离线为 S3，"
        "与温差无关（其损失为电量损失，温升不明显）。",
        "en": "Bands are by ΔTn; a bypass-diode substring is at least S2 and an offline module or string S3, "
        "whatever its ΔT (the loss is electrical and hardly warms the module).",
    },
    "at_least_note": {
        "zh-CN": "ΔT 前的“≥”：缺陷小于热像仪的测温光斑（3×3 像素），读数被周围较冷的玻璃拉低，"
        "实际温差至少为此值；建议近距离（详细检测）复测后再定等级。",
        "en": "“≥” before a ΔT: the pattern is smaller than the camera's measurement spot (3 × 3 px) and "
        "reads low, blurred into the cooler glass about it; the true ΔT is at least this. Measure it again "
        "from closer (a detailed inspection) before grading it.",
    },
    "generated": {"zh-CN": "生成时间", "en": "Generated"},
    "modules": {"zh-CN": "组件数", "en": "Modules"},
    "area": {"zh-CN": "面积", "en": "Area"},
    "minutes": {"zh-CN": "分钟", "en": "min"},
}

ACTIONS: dict[str, dict[str, str]] = {
    "soiling": {
        "zh-CN": "派清洗机器人清洗，清洗后复飞比对。",
        "en": "Dispatch the cleaning robot; re-fly the rows after.",
    },
    "vegetation": {"zh-CN": "清除遮挡植被。", "en": "Cut back the vegetation."},
    "shading": {
        "zh-CN": "查找并移除遮挡物，或记录为固定遮挡。",
        "en": "Find and remove the obstruction or record it.",
    },
    "junction_box": {
        "zh-CN": "安全隐患：断开组串，检查接线盒与二极管。",
        "en": "Safety: isolate the string, inspect the junction box and diodes.",
    },
    "substring": {
        "zh-CN": "检测旁路二极管，必要时更换组件。",
        "en": "Test the bypass diodes; replace the module if needed.",
    },
    "module_offline": {"zh-CN": "检查组件接线与连接器。", "en": "Check the module's wiring and connectors."},
    "string_offline": {
        "zh-CN": "检查组串熔断器、汇流箱与逆变器输入。",
        "en": "Check the string fuse, combiner box and inverter input.",
    },
}
REPAIR_ACTION = {
    "zh-CN": "IV 曲线测试确认，ΔT ≥ 20 K 优先更换。",
    "en": "Confirm with an IV curve; replace first where ΔT ≥ 20 K.",
}


@dataclass(frozen=True)
class ReportFinding:
    module_id: str
    anomaly_class: str
    delta_t_k: float | None
    delta_tn_k: float | None
    t_max_c: float | None
    severity: str
    coa: int
    status: str
    frames_seen: int
    thumbnail_png: bytes | None = None
    photo_png: bytes | None = None
    """The visible-light photo over the thumbnail's window, when the frame came with one."""
    delta_t_at_least: bool = False
    """Whether ΔT (and ΔTn) is only a lower bound (``service.delta_t_lower_bound``)."""
    string: str = ""
    """The module's plant string ("" where the plant names none)."""
    lon: float | None = None
    lat: float | None = None


@dataclass
class Report:
    plant_name: str
    plant_code: str
    area_m2: float
    module_count: int
    inspection_id: int
    camera: str
    started_at: dt.datetime | None
    analysed_at: dt.datetime | None
    irradiance_w_m2: float | None
    ambient_temp_c: float | None
    wind_m_s: float | None
    frame_count: int
    findings: list[ReportFinding]
    modules: ModuleMap
    generated_at: dt.datetime
    compliance: list[tuple[str, str, bool | None]] = field(default_factory=list)
    classifier: str = "rules"
    """What named the anomalies (``pv_inspections.classifier``)."""
    min_confidence: float | None = None
    """With ``"learned"``: the network's least confidence to rename an anomaly
    (:func:`.service.network_confidence`)."""
    zones: list[ZoneSoiling] = field(default_factory=list)
    economics: dict[str, float] = field(default_factory=dict)
    """The plant-wide inputs of the zones' economics: cost, tariff, energy, assumed rate
    (:meth:`.loop.PlantEconomics.inputs`)."""
    economics_defaults: tuple[str, ...] = ()
    """Which of :attr:`economics` are the platform's defaults, not the plant's own."""
    calibration: IndexCalibration | None = None
    """The plant's fit of production soiling loss on the IR soiling index, up to this inspection."""
    forecasts: dict[str, SoilingForecast] = field(default_factory=dict)
    """Each zone's Kimber forecast on the inspection's day."""
    modules_seen: int | None = None
    frames_used: int | None = None
    frames_refused: int = 0
    """Frames the upload left out (corrupt or cut off), besides the ``frame_count`` kept."""
    visible_soiling: dict[str, float] = field(default_factory=dict)
    """Each zone's visible soiling index on this flight's photos (``summary.rgb_soiling_by_zone``); empty
    when the flight had none."""
    since: tuple[int, str, int, int, int, int] | None = None
    """Against the plant's previous flight (:func:`.service.since_previous`): its id and day, and how many
    modules with a finding are new, found again, no longer found and not seen this time; ``None`` for the
    plant's first."""
    sun_reflections: bool = False
    """Whether the flight's notes say that the sun from the frames did not explain its glints
    (:data:`.analytics.modules.SUN_REFLECTIONS_NOTE`): the report warns of it under the conditions."""

    def since_text(self, lang: str) -> str:
        """What changed since the plant's previous flight, in ``lang``; empty for its first."""
        if self.since is None:
            return ""
        n, day, new, again, gone, unseen = self.since
        return t("since", lang).format(n=n, day=day, new=new, again=again, gone=gone, unseen=unseen)

    def economics_text(self, lang: str) -> str:
        """The economics the report's figures are worked out at, in ``lang``, and which of them are the
        platform's defaults rather than the plant's own."""
        e = self.economics
        text = t("economics", lang).format(
            cost=e.get("cleaning_cost", 0.0), kwh_day=e.get("energy_kwh_per_day", 0.0),
            tariff=e.get("tariff_per_kwh", 0.0), rate=round(100 * e.get("assumed_rate_per_day", 0.0), 4),
        )  # fmt: skip
        symbols = {"cleaning_cost": "C", "energy_kwh_per_day": "E", "tariff_per_kwh": "p",
                   "assumed_rate_per_day": "s"}  # fmt: skip
        names = [symbol for name, symbol in symbols.items() if name in self.economics_defaults]
        if not names:
            return text
        estimated = t("energy_estimated", lang) if "energy_kwh_per_day" in self.economics_defaults else ""
        sep = "、" if lang == "zh-CN" else ", "
        return f"{text} " + t("economics_defaults", lang).format(names=sep.join(names), estimated=estimated)

    def loss_text(self, lang: str) -> str:
        """What the findings cost (:func:`.analytics.anomalies.loss_at_stake` of each module's
        :func:`.analytics.anomalies.named_loss_share`, at the report's energy a day and tariff), in
        ``lang``; empty without a finding."""
        if not self.findings:
            return ""
        kwh_day = self.economics.get("energy_kwh_per_day", 0.0)
        tariff = self.economics.get("tariff_per_kwh", 0.0)
        shares = [named_loss_share(f.anomaly_class, f.severity) for f in self.findings]
        loss = loss_at_stake(shares, self.module_count, kwh_day, tariff)
        text = t("loss", lang).format(
            modules=loss.modules, share=100 * loss.share, kwh_day=kwh_day, tariff=tariff,
            kwh=loss.kwh_per_day, yuan=loss.yuan_per_year,
        )  # fmt: skip
        left_out = t("loss_left_out", lang).format(n=loss.not_estimated)
        return f"{text} {left_out}" if loss.not_estimated else text

    def classes_by(self, lang: str) -> str:
        """What named the anomalies, in ``lang``."""
        if self.classifier == "learned" and self.min_confidence is not None:
            return t("by_rules_network", lang).format(c=f"{self.min_confidence:g}")
        return t("by_rules", lang)

    def coverage(self, lang: str) -> str:
        """Modules seen of the plant's and frames analysed of those kept (a module not seen can hide a
        defect): "–" for an inspection analysed before these were kept."""
        if self.modules_seen is None or self.frames_used is None:
            return "–"
        pct = f"{100 * self.modules_seen / self.module_count:.1f} %" if self.module_count else "–"
        said = t("coverage_text", lang).format(
            seen=self.modules_seen,
            total=self.module_count,
            pct=pct,
            used=self.frames_used,
            frames=self.frame_count,
        )
        return said + (t("left_out", lang).format(n=self.frames_refused) if self.frames_refused else "")

    def forecast_rows(self, lang: str) -> list[list[str]]:
        """The per-zone soiling forecast as table cells (header first)."""
        first = next(iter(self.forecasts.values()), None)
        horizons = [n for n, _ in first.ahead] if first is not None else []
        head = [t("zone", lang), t("clean_since", lang), t("loss_today", lang)]
        head += [t("in_days", lang).format(n=n) for n in horizons]
        rows = [[*head, t("clean_level", lang), t("clean_by", lang)]]
        for zone, f in sorted(self.forecasts.items()):
            level = "–" if f.clean_level is None else _pct(f.clean_level)
            rows.append(
                [
                    zone,
                    f.start.isoformat(),
                    _pct(f.loss_today),
                    *[_pct(loss) for _, loss in f.ahead],
                    level,
                    _clean_by(f, lang),
                ]
            )
        return rows

    def forecast_note(self, lang: str) -> str:
        """The forecast's assumptions in one line."""
        rain = loop.rain_span(self.forecasts)
        if rain is None:
            return t("forecast_note_dry", lang)
        return t("forecast_note_rain", lang).format(
            mm=f"{RAIN_WASH_MM:.0f}", grace=GRACE_DAYS, a=rain[0].isoformat(), b=rain[1].isoformat()
        )

    def zone_rows(self, lang: str) -> list[list[str]]:
        """The per-zone economics as table cells (header first)."""
        head = [
            "zone",
            "modules",
            "energy_share",
            "soiling_index",
            *(["visible_soiling_index"] if self.visible_soiling else []),
            "rate",
            "method",
            "t_star",
            "lost",
            "advice",
        ]
        rows = [[t(k, lang) for k in head]]
        for z in self.zones:
            a = z.advice
            finite = math.isfinite(a.optimal_interval_days)
            if a.clean_now:
                advice = t("clean_now", lang)
            elif a.next_cleaning is not None:
                advice = f"{t('due', lang)} {a.next_cleaning.isoformat()}"
            else:
                advice = t("never", lang)
            rows.append(
                [
                    z.zone,
                    str(z.modules),
                    f"{z.energy_share * 100:.0f} %",
                    "–" if z.soiling_index is None else f"{z.soiling_index:.3f}",
                    *([_index_cell(self.visible_soiling.get(z.zone))] if self.visible_soiling else []),
                    _rate_cell(z, lang),
                    _method_cell(z, lang),
                    f"{a.optimal_interval_days:.0f} {t('days', lang)}" if finite else "∞",
                    f"{a.revenue_lost_yuan:.0f} / {a.cleaning_cost_yuan:.0f}",
                    advice,
                ]
            )
        return rows

    def calibration_note(self, lang: str) -> str:
        """Whether the plant's IR index is calibrated against production, and how well."""
        c = self.calibration
        if c is None:
            return ""
        if not c.usable:
            return t("uncalibrated", lang).format(n=c.points, m=MIN_CALIBRATION_POINTS)
        b = f"+ {c.intercept:.4f}" if c.intercept >= 0 else f"− {-c.intercept:.4f}"
        return t("calibrated", lang).format(a=f"{c.slope:.3f}", b=b, r=f"{c.r2:.2f}", n=c.points)

    @property
    def compliant(self) -> bool | None:
        verdicts = [ok for _, _, ok in self.compliance]
        if any(v is False for v in verdicts):
            return False
        return None if any(v is None for v in verdicts) else True

    @property
    def duration_min(self) -> float | None:
        if self.started_at is None or self.analysed_at is None:
            return None
        return round((self.analysed_at - self.started_at).total_seconds() / 60, 1)

    @property
    def manual_min(self) -> float:
        return round(MANUAL_MIN_PER_50000_M2 * self.area_m2 / 50_000, 1)

    def counts(self) -> dict[str, dict[str, int]]:
        return counts_by_class(self.findings)

    def actions(self, lang: str) -> list[tuple[str, str]]:
        seen = sorted({f.anomaly_class for f in self.findings})
        return [(class_name(c, lang), ACTIONS.get(c, REPAIR_ACTION)[lang]) for c in seen]


def counts_by_class(findings: Sequence[ReportFinding]) -> dict[str, dict[str, int]]:
    """Findings by class (in name order) and severity band."""
    c: Counter[tuple[str, str]] = Counter((f.anomaly_class, f.severity) for f in findings)
    out: dict[str, dict[str, int]] = {}
    for (cls, sev), n in sorted(c.items()):
        out.setdefault(cls, {"S1": 0, "S2": 0, "S3": 0})[sev] = n
    return out


def t(key: str, lang: str) -> str:
    return TEXT[key][lang]


REVIEWS: dict[str, dict[str, str]] = {
    "new": {"zh-CN": "待复核", "en": "Awaiting review"},
    "accepted": {"zh-CN": "已确认", "en": "Confirmed"},
    "reclassified": {"zh-CN": "已改类", "en": "Reclassified"},
}


def review_name(status: str, lang: str) -> str:
    """A finding's review status as the report names it (the stored code for one it does not know)."""
    return REVIEWS.get(status, {}).get(lang, status)


def class_name(cls: str, lang: str) -> str:
    return CLASS_NAMES.get(cls, {}).get(lang, cls)


def colour(cls: str, severity: str) -> str:
    return COLOURS.get(cls, FAULT_COLOUR.get(severity, "#e76f51"))


def map_legend(modules: ModuleMap, lang: str) -> list[tuple[str, str]]:
    """(colour, what it means in ``lang``) of each colour the module map uses, in a fixed order: no
    finding, the faults by severity band, then soiling, vegetation and shading."""
    used = set(modules.fills)
    entries = [
        (COLOURS["none"], t("legend_none", lang)),
        *((FAULT_COLOUR[band], t(f"legend_{band}", lang)) for band in ("S1", "S2", "S3")),
        *((COLOURS[cls], class_name(cls, lang)) for cls in COLOURS if cls != "none"),
    ]
    return [(fill, label) for fill, label in entries if fill in used]


def legend_svg(fill: str) -> str:
    """A swatch of ``fill`` for a legend line (an SVG, as the map is: no inline style)."""
    return (
        f'<svg class="swatch" width="12" height="12" aria-hidden="true"><rect width="12" height="12" '
        f'fill="{fill}"/></svg>'
    )


def check_lang(lang: str) -> str:
    if lang not in ("zh-CN", "en"):
        raise InvalidInput(msg("lang must be zh-CN or en"))
    return lang


# --- data ---


@dataclass(frozen=True)
class ModuleMap:
    """The modules of a map: their ids, their outlines in the plant's metric frame [m] and their fill
    colours, the outlines' corners in one array. A plant's 17,150 outlines as lists of (x, y) pairs were
    about 100,000 objects, whose making and the collections they set off cost more than reading them
    (``bench/pv/defect_ledger.py``, "map outlines").

    Attributes
    ----------
    ids : list of str
        Module ids, in the map's order.
    xy : ndarray, shape (M, 2)
        The corners of every outline, module after module [m].
    ends : ndarray, shape (N,)
        Where each module's corners end in ``xy``; they start where the module before ends.
    fills : list of str
        Fill colour of each module.
    """

    ids: list[str]
    xy: npt.NDArray[np.float64]
    ends: npt.NDArray[np.intp]
    fills: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def spans(self) -> list[tuple[int, int]]:
        """Each module's first corner in ``xy`` and the one after its last."""
        ends = self.ends.tolist()
        return list(zip([0, *ends[:-1]], ends, strict=True))

    def outline(self, k: int) -> list[tuple[float, float]]:
        """The ``k``-th module's corners [m]."""
        start = int(self.ends[k - 1]) if k else 0
        return [(float(x), float(y)) for x, y in self.xy[start : int(self.ends[k])]]

    def recoloured(self, fills: Sequence[str]) -> ModuleMap:
        """The same modules filled with ``fills``, one a module."""
        if len(fills) != len(self.ids):
            raise ValueError("one fill a module")
        return replace(self, fills=list(fills))

    @classmethod
    def of(cls, modules: Sequence[tuple[str, Sequence[tuple[float, float]], str]]) -> ModuleMap:
        """A map of (id, outline, fill) triples."""
        corners = [c for _, outline, _ in modules for c in outline]
        return cls(
            [m for m, _, _ in modules],
            np.array(corners, dtype=np.float64).reshape(len(corners), 2),
            np.cumsum([len(outline) for _, outline, _ in modules], dtype=np.intp),
            [fill for _, _, fill in modules],
        )


def _done_inspection(s: Session, inspection_id: int) -> PvInspection:
    insp = s.execute(select(PvInspection).where(PvInspection.id == inspection_id)).scalar_one_or_none()
    if insp is None:
        raise NotFound(msg("no inspection %(inspection_id)s", inspection_id=inspection_id))
    if insp.status != "done":
        raise InvalidInput(
            msg(
                "inspection %(inspection_id)s is %(inspection_status)s: "
                "the report is ready when its analysis is done",
                inspection_id=inspection_id,
                inspection_status=insp.status,
            )
        )
    return insp


def _live_findings(s: Session, inspection_id: int) -> list[PvFinding]:
    rows = s.execute(select(PvFinding).where(PvFinding.inspection_id == inspection_id)).scalars().all()
    return [f for f in rows if f.status != "rejected"]


def map_modules(s: Session, inspection_id: int) -> ModuleMap:
    """The module map of a finished inspection (what :func:`map_svg` draws), without the rest of the
    report: the plant page shows it beside zone figures of its own."""
    insp = _done_inspection(s, inspection_id)
    return _map_modules(s, s.get_one(PvPlant, insp.plant_id), _live_findings(s, inspection_id))


def layout_modules(s: Session, plant: PvPlant) -> ModuleMap:
    """The module map of a plant no inspection has finished on: its layout, every module unseen."""
    return _map_modules(s, plant, [])


def _map_modules(s: Session, plant: PvPlant, live: list[PvFinding]) -> ModuleMap:
    worst = worst_by_module(live)
    outlines = outlines_xy(s, plant)
    plain = COLOURS["none"]
    fills = [
        colour(service.effective_class(f), f.severity) if (f := worst.get(module_id)) else plain
        for module_id in outlines.ids
    ]
    return outlines.recoloured(fills)


_NUMBERS_ONLY = str.maketrans("[],", "   ")


def outlines_xy(s: Session, plant: PvPlant) -> ModuleMap:
    """Each module's outline in the plant's metric frame [m], in the order the modules were stored, with
    the fill of a module without a finding.

    The outlines (``pv_modules.outline``, [lon, lat] corners as JSON) are read as text and their numbers
    parsed in one pass: the same values as decoding each row's JSON, in a third of the time or less on a
    large plant (bench/pv/defect_ledger.py, "map outlines"); a text that is not [lon, lat] pairs is decoded
    row by row.
    """
    text = cast(PvModule.outline, Text)
    rows = s.execute(
        select(PvModule.module_id, text).where(PvModule.plant_id == plant.id).order_by(PvModule.id)
    ).all()
    if not rows:
        return ModuleMap([], np.empty((0, 2)), np.empty(0, dtype=np.intp), [])
    ids, texts = [m for m, _ in rows], [t for _, t in rows]
    counts = np.array([t.count(",") + 1 for t in texts])  # numbers in each outline
    corners = np.array([t.count("[") - 1 for t in texts])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # a text that stops early: checked below
        flat = np.fromstring(" ".join(texts).translate(_NUMBERS_ONLY), sep=" ")
    if flat.size != counts.sum() or (counts != 2 * corners).any():  # not [lon, lat] pairs: row by row
        outlines = [json.loads(t) for t in texts]
        flat = np.array([v for outline in outlines for corner in outline for v in corner[:2]], dtype=float)
        counts = np.array([2 * len(outline) for outline in outlines])
    origin = service.plant_origin(plant)  # the layout's own metric frame: origin.to_xy, vectorised
    kx, ky = origin.metres_per_degree()
    xy = np.column_stack(((flat[0::2] - origin.lon0_deg) * kx, (flat[1::2] - origin.lat0_deg) * ky))
    return ModuleMap(ids, xy, np.cumsum(counts // 2).astype(np.intp), [COLOURS["none"]] * len(ids))


def build_report(s: Session, inspection_id: int, store: FileStore | None = None) -> Report:
    """Everything the report shows, read in one transaction; refuses an inspection still being analysed.
    With ``store`` (where the frames are kept) each finding gets an IR thumbnail of its best frame."""
    insp = _done_inspection(s, inspection_id)
    plant = s.get_one(PvPlant, insp.plant_id)
    live = _live_findings(s, inspection_id)
    modules = _map_modules(s, plant, live)
    pictures = finding_pictures(s, store, live, CAMERAS.get(insp.camera)) if store is not None else {}
    # each finding's module: its string, and its centre where the finding has no position of its own
    placed = {
        mid: (string, lon, lat)
        for mid, string, lon, lat in s.execute(
            select(PvModule.module_id, PvModule.string, PvModule.lon, PvModule.lat).where(
                PvModule.plant_id == plant.id, PvModule.module_id.in_({f.module_id for f in live})
            )
        )
    }
    findings = [
        ReportFinding(
            module_id=f.module_id,
            anomaly_class=service.effective_class(f),
            delta_t_k=f.delta_t_k,
            delta_tn_k=f.delta_tn_k,
            t_max_c=f.t_max_c,
            severity=f.severity,
            coa=f.coa,
            status=f.status,
            frames_seen=f.frames_seen,
            thumbnail_png=pictures.get(f.id, (None, None))[0],
            photo_png=pictures.get(f.id, (None, None))[1],
            delta_t_at_least=service.delta_t_lower_bound(f),
            string=string,
            lon=f.lon if f.lon is not None else lon,
            lat=f.lat if f.lat is not None else lat,
        )
        for f in sorted(live, key=lambda f: (-(f.coa or 0), -(f.delta_t_k or 0), f.module_id))
        for string, lon, lat in [placed.get(f.module_id, ("", None, None))]
    ]
    econ = loop.plant_economics(plant)
    day = plant_day(loop.inspection_time(insp))
    rain, washes = loop.PlantRain(s, plant.id), production.zone_cleaning_times(s, plant.id)
    zones = loop.zone_economics(
        s, plant.id, today=day, upto_inspection=insp.id, rain=rain, washes=washes, **econ.inputs()
    )
    calibration = loop.zone_calibration(s, plant.id, upto_inspection=insp.id)
    forecasts = loop.zone_forecasts(s, plant.id, zones, today=day, rain=rain, washes=washes)
    compliance = [  # (TEXT key, threshold, verdict): labelled in the report's language when rendered
        (
            "irradiance",
            f"≥ {MIN_IRRADIANCE_W_M2:.0f} W/m²",
            None if insp.irradiance_w_m2 is None else insp.irradiance_w_m2 >= MIN_IRRADIANCE_W_M2,
        ),
        ("wind", "≤ 28 km/h", None if insp.wind_m_s is None else insp.wind_m_s <= MAX_WIND_M_S),
    ]
    return Report(
        plant_name=plant.name,
        plant_code=plant.code,
        area_m2=plant.area_m2,
        module_count=plant.module_count,
        inspection_id=insp.id,
        camera=insp.camera,
        started_at=insp.started_at,
        analysed_at=insp.analysed_at,
        irradiance_w_m2=insp.irradiance_w_m2,
        ambient_temp_c=insp.ambient_temp_c,
        wind_m_s=insp.wind_m_s,
        frame_count=insp.frame_count,
        classifier=insp.classifier,
        min_confidence=service.network_confidence(insp),
        modules_seen=insp.summary.get("modules_seen"),
        frames_used=insp.summary.get("frames_used"),
        frames_refused=int(insp.summary.get("frames_refused_count", 0)),
        visible_soiling={
            str(k): float(v) for k, v in (insp.summary.get("rgb_soiling_by_zone") or {}).items()
        },
        since=_since(s, insp),
        sun_reflections=any(
            isinstance(n, dict) and n.get("template") == SUN_REFLECTIONS_NOTE.template
            for n in insp.summary.get("notes") or []
        ),
        findings=findings,
        modules=modules,
        generated_at=dt.datetime.now(dt.UTC),
        compliance=compliance,
        zones=zones,
        economics=econ.inputs(),
        economics_defaults=econ.defaults,
        calibration=calibration,
        forecasts=forecasts,
    )


def _since(s: Session, insp: PvInspection) -> tuple[int, str, int, int, int, int] | None:
    since = service.since_previous(s, insp)
    if since is None:
        return None
    day = plant_day(loop.inspection_time(since.previous)).isoformat()
    return (since.previous.id, day, len(since.new), len(since.again), len(since.gone), len(since.unseen))


def _index_cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _rate_cell(z: ZoneSoiling, lang: str) -> str:
    ci = (
        ""
        if z.rate_low is None or z.rate_high is None
        else f" [{z.rate_low * 100:.2f}–{z.rate_high * 100:.2f}]"
    )
    return f"{z.rate_per_day * 100:.2f} %{ci} ({t('src_' + z.rate_source, lang)})"


def _pct(loss: float) -> str:
    return f"{loss * 100:.2f} %"


def _clean_by(f: SoilingForecast, lang: str) -> str:
    if f.clean_level is None:
        return t("never", lang)
    if f.levels_off_below_clean_level:
        return t("levels_off", lang).format(ceiling=f.ceiling * 100)
    if f.clean_by is None:
        return t("not_within", lang).format(n=FORECAST_MAX_DAYS)
    return t("clean_now", lang) if f.clean_by <= f.today else f.clean_by.isoformat()


def _method_cell(z: ZoneSoiling, lang: str) -> str:
    text = t("method_" + z.method, lang)
    if z.loss_estimate is not None:
        text += f" ({t('loss_now', lang)} {z.loss_estimate * 100:.1f} %)"
    return text


def finding_thumbnail(s: Session, store: FileStore, finding_id: int) -> bytes:
    """The IR thumbnail of one finding the caller may see (its best frame around its hottest pixel)."""
    f = s.execute(select(PvFinding).where(PvFinding.id == finding_id)).scalar_one_or_none()
    if f is None:
        raise NotFound(msg("no finding %(finding_id)s", finding_id=finding_id))
    png = _thumbnail(store, f)
    if png is None:
        raise NotFound(msg("finding %(finding_id)s has no readable frame", finding_id=finding_id))
    return png


def _thumbnail(store: FileStore, f: PvFinding) -> bytes | None:
    """A 128-px ironbow crop of the finding's best frame around its module, circled (or None)."""
    if not f.evidence:
        return None
    try:
        temps = read_frame(store.open(str(f.evidence[0])), source=f"{f.module_id} frame").temperature_c
    except Exception:  # noqa: BLE001 - a missing or unreadable frame leaves the thumbnail out
        return None
    return thumbnail_png(temps, f.details.get("pixel"))


def finding_pictures(
    s: Session, store: FileStore, findings: list[PvFinding], camera: ThermalCamera | None = None
) -> dict[int, tuple[bytes | None, bytes | None]]:
    """Each finding's IR thumbnail and, when its frame came with a visible-light photo, the photo's
    (:func:`thumbnail_png`, :func:`photo_png`; ``camera``: the inspection's, when it names one). The
    findings are taken frame by frame: each frame and its photo are read once and let go before the next,
    so a report of hundreds of findings holds one frame."""
    by_frame: dict[str, list[PvFinding]] = {}
    for f in findings:
        if f.evidence:
            by_frame.setdefault(str(f.evidence[0]), []).append(f)
    photos = _photos(s, {f.inspection_id for f in findings})
    out: dict[int, tuple[bytes | None, bytes | None]] = {}
    for sha, members in by_frame.items():
        try:
            frame = read_frame(store.open(sha), source=f"{members[0].module_id} frame")
        except Exception:  # a missing or unreadable frame leaves the thumbnail out, not the report
            log.warning("frame %s: left out of the report's thumbnails", sha[:12], exc_info=True)
            continue
        photo = store.path_for(photos[sha]) if sha in photos else None
        pictures, left_out = frame_pictures(frame, photo, [f.details.get("pixel") for f in members], camera)
        if left_out is not None:
            log.warning("frame %s: its photo is left out of the report: %s", sha[:12], left_out)
        out.update(zip((f.id for f in members), pictures, strict=True))
    return out


def frame_pictures(
    frame: Any, photo: Path | None, pixels: list[Any], camera: ThermalCamera | None = None
) -> tuple[list[tuple[bytes, bytes | None]], VisibleError | OSError | None]:
    """For each of ``pixels`` (findings' places in ``frame``, a ``ThermalFrame``): its IR thumbnail and,
    when ``photo`` (the visible-light photo taken with the frame) is given, the photo's over the same window
    (:func:`thumbnail_png`, :func:`photo_crop_png`), the photo read once; and why the photo was left out
    (it could not be read or registered onto the frame), ``None`` when it was used or there is none."""
    rgb, left_out = None, None
    if photo is not None:
        try:
            rgb = read_visible(photo, frame, scale=PHOTO_SCALE, camera=camera)
        except (VisibleError, OSError) as exc:
            left_out = exc
    pictures = [
        (
            thumbnail_png(frame.temperature_c, pixel),
            None if rgb is None else photo_crop_png(rgb, frame.temperature_c, pixel),
        )
        for pixel in pixels
    ]
    return pictures, left_out


def _photos(s: Session, inspection_ids: set[int], frame: str | None = None) -> dict[str, str]:
    """The frames of these inspections (only ``frame``, a digest, when given) that came with a
    visible-light photo: frame digest → photo's."""
    stmt = select(PvFrame.sha256, PvFrame.meta).where(PvFrame.inspection_id.in_(inspection_ids))
    if frame is not None:
        stmt = stmt.where(PvFrame.sha256 == frame)
    out = {}
    for sha, meta in s.execute(stmt):
        photo = meta.get(service.PHOTO_KEY)
        if isinstance(photo, dict) and photo.get("sha256"):
            out[sha] = str(photo["sha256"])
    return out


def _window(temps: np.ndarray[Any, Any], pixel: Any, size: int) -> tuple[int, int, int, int, int]:
    """Where a thumbnail looks in a frame: the finding's pixel (row, col), or the hottest one, and the
    corner (row, col) and half side of the square of at most ``size`` pixels around it, inside the frame."""
    h, w = temps.shape
    if pixel is not None and len(pixel) == 2:
        r, c = int(pixel[0]), int(pixel[1])
    else:
        r, c = (int(v) for v in np.unravel_index(int(np.argmax(temps)), temps.shape))
    half = min(size // 2, h // 2, w // 2)
    return r, c, min(max(r - half, 0), h - 2 * half), min(max(c - half, 0), w - 2 * half), half


def _circled_png(img: Any, centre: tuple[float, float]) -> bytes:
    from PIL import ImageDraw

    cy, cx = centre
    ImageDraw.Draw(img).ellipse((cx - 9, cy - 9, cx + 9, cy + 9), outline=(0, 255, 255), width=2)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


THUMBNAIL_REACH_PX = 20
"""Half side of the square around a finding's module centre whose temperatures set the IR thumbnail's
colour range [px]: about a module at the IEC screening resolution."""
THUMBNAIL_SPAN_K = 2.0
"""Least range either side of the module's median temperature in the IR thumbnail [K]."""
THUMBNAIL_MODULE_K = 10.0
"""How far from that median a temperature may be and still count as the module's in setting the range
(the roof between rows is left out; a hot spot beyond runs off the top, white) [K]."""


def thumbnail_png(temps: np.ndarray[Any, Any], pixel: Any = None, size: int = 128) -> bytes:
    """PNG of a crop of ``temps`` around ``pixel`` (row, col) or the hottest pixel, in an ironbow palette.

    Around a module centre (``pixel``) the colours span the module's own temperatures (at least
    :data:`THUMBNAIL_SPAN_K` either side of its median, :data:`THUMBNAIL_MODULE_K` at most), so that a
    pattern of a few kelvin shows; the roof and farther modules may run off either end. Without one, they
    span the crop's 1st to 99.5th percentile.
    """
    from PIL import Image

    r, c, r0, c0, half = _window(temps, pixel, size)
    crop = temps[r0 : r0 + 2 * half, c0 : c0 + 2 * half]
    finite = crop[np.isfinite(crop)]  # a pixel without a temperature is drawn black
    lo, hi = np.percentile(finite, [1, 99.5]) if finite.size else (0.0, 1.0)
    if pixel is not None and len(pixel) == 2:
        k = THUMBNAIL_REACH_PX
        near = temps[max(r - k, 0) : r + k + 1, max(c - k, 0) : c + k + 1]
        near = near[np.isfinite(near)]
        if near.size:  # the module's pixels: those within THUMBNAIL_MODULE_K of the window's median
            middle = float(np.median(near))
            module = near[np.abs(near - middle) < THUMBNAIL_MODULE_K]
            low, high = np.percentile(module, [1, 99.8])
            lo, hi = min(low, middle - THUMBNAIL_SPAN_K), max(high, middle + THUMBNAIL_SPAN_K)
    x = np.nan_to_num(np.clip((crop - lo) / max(hi - lo, 1e-3), 0, 1), nan=0.0)
    rgb = np.stack(
        [np.clip(1.6 * x, 0, 1), np.clip(1.6 * x - 0.55, 0, 1), np.clip(np.sin(np.pi * x) * 0.8, 0, 1)],
        axis=-1,
    )
    img = Image.fromarray((rgb * 255).astype(np.uint8)).resize((size, size), Image.Resampling.NEAREST)
    scale = size / (2 * half)
    return _circled_png(img, ((r - r0 + 0.5) * scale, (c - c0 + 0.5) * scale))


PHOTO_SCALE = 2
"""Photo pixels per thermal pixel in a finding's visible thumbnail, each way [-]."""


def photo_png(
    frame: Any, photo: Path, pixel: Any = None, size: int = 128, camera: ThermalCamera | None = None
) -> bytes:
    """PNG of the visible-light photo taken with ``frame`` (a ``ThermalFrame``) over the window of its IR
    thumbnail (:func:`thumbnail_png`), circled at the same place; raises ``VisibleError`` when the photo
    cannot be registered onto the frame (``camera``: the inspection's, when it names one)."""
    rgb = read_visible(photo, frame, scale=PHOTO_SCALE, camera=camera)
    return photo_crop_png(rgb, frame.temperature_c, pixel, size)


def photo_crop_png(
    rgb: np.ndarray[Any, Any], temps: np.ndarray[Any, Any], pixel: Any = None, size: int = 128
) -> bytes:
    """:func:`photo_png` of a photo already registered onto the frame at :data:`PHOTO_SCALE` (``rgb``, from
    :func:`.io.visible.read_visible`), for several findings of one frame without reading it again."""
    from PIL import Image

    r, c, r0, c0, half = _window(temps, pixel, size)
    k = PHOTO_SCALE
    crop = rgb[r0 * k : (r0 + 2 * half) * k, c0 * k : (c0 + 2 * half) * k]
    img = Image.fromarray(np.ascontiguousarray(crop)).resize((size, size), Image.Resampling.BILINEAR)
    scale = size / (2 * half)
    return _circled_png(img, ((r - r0 + 0.5) * scale, (c - c0 + 0.5) * scale))


def finding_photo(s: Session, store: FileStore, finding_id: int) -> bytes:
    """The visible thumbnail of one finding the caller may see: the photo uploaded with its best frame,
    over the window of its IR thumbnail (:func:`photo_png`)."""
    f = s.execute(select(PvFinding).where(PvFinding.id == finding_id)).scalar_one_or_none()
    if f is None:
        raise NotFound(msg("no finding %(finding_id)s", finding_id=finding_id))
    photo = _photo_of(s, f)
    if photo is not None:
        try:
            frame = read_frame(store.open(str(f.evidence[0])), source=f"{f.module_id} frame")
            camera = CAMERAS.get(s.get_one(PvInspection, f.inspection_id).camera)
            return photo_png(frame, store.path_for(photo), f.details.get("pixel"), camera=camera)
        except Exception:  # a missing or unreadable file: no photo, said as such
            log.warning("finding %s: its photo could not be shown", finding_id, exc_info=True)
    raise NotFound(msg("finding %(finding_id)s has no visible-light photo", finding_id=finding_id))


def _photo_of(s: Session, f: PvFinding) -> str | None:
    """The digest of the photo uploaded with the finding's best frame, if there was one."""
    if not f.evidence:
        return None
    return _photos(s, {f.inspection_id}, str(f.evidence[0])).get(str(f.evidence[0]))


def frames_with_photos(s: Session, inspection_id: int) -> set[str]:
    """The digests of an inspection's frames that came with a visible-light photo."""
    return set(_photos(s, {inspection_id}))


# --- rendering ------------------------------------------------------------------------------------------


def _map_bounds(modules: ModuleMap) -> tuple[float, float, float, float]:
    if not len(modules.xy):
        return 0.0, 0.0, 1.0, 1.0
    (x0, y0), (x1, y1) = modules.xy.min(axis=0), modules.xy.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


PLAIN_STROKE = 'stroke="#4a5a6a" stroke-width="0.05"'
MARKED_STROKE = 'stroke="#000000" stroke-width="0.35"'


def map_svg(
    modules: ModuleMap,
    width: int = 900,
    link: str | None = None,
    titles: Mapping[str, str] | None = None,
    marked: Collection[str] = (),
) -> str:
    """The plant's modules as an SVG, north up, each filled with the colour of its worst finding; with
    ``link`` (a format string of ``id``), each module a link there; ``titles`` gives a module's tooltip
    in place of its id; the modules in ``marked`` are outlined in a heavy dark stroke.

    A large plant has tens of thousands of modules, most of them without a finding, so those are bare
    paths in one group a colour: each carries its id (``data-m``) and any title (``data-t``), and the
    console's script (``console.js``) makes a module's tooltip when it is first hovered and follows
    ``data-link`` on a click. A module with a finding, or marked, is a link of its own with its title, as
    it works without the script (in the report, and from the keyboard). 17,150 modules come to about a
    third of the bytes and DOM nodes of a link and a title each (``bench/pv/defect_ledger.py``)."""
    x0, y0, x1, y1 = _map_bounds(modules)
    pad = 2.0
    w, h = (x1 - x0) + 2 * pad, (y1 - y0) + 2 * pad
    height = max(120, int(width * h / w))
    head = f'viewBox="0 0 {w:.2f} {h:.2f}" width="{width}" height="{height}"'
    if link is not None:
        head += f' data-link="{escape(link)}"'
    plain_fill = COLOURS["none"]
    groups: dict[tuple[str, bool], list[str]] = {}
    for module_id, d, fill in zip(
        modules.ids, _outline_paths(modules, x0, y1, pad), modules.fills, strict=True
    ):
        title = titles.get(module_id, module_id) if titles else module_id
        held = module_id in marked
        key = escape(module_id)
        if fill == plain_fill and not held:
            extra = f' data-t="{escape(title)}"' if title != module_id else ""
            shape = f'<path d="{d}z" data-m="{key}"{extra}/>'
        else:
            shape = f'<path d="{d}z" data-m="{key}"><title>{escape(title)}</title></path>'
            if link is not None:
                shape = f'<a href="{escape(link.format(id=quote(module_id)))}">{shape}</a>'
        groups.setdefault((fill, held), []).append(shape)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" {head}>']
    for (fill, held), shapes in sorted(groups.items(), key=lambda g: g[0][1]):  # the marked drawn last
        parts.append(f'<g fill="{fill}" {MARKED_STROKE if held else PLAIN_STROKE}>{"".join(shapes)}</g>')
    parts.append("</svg>")
    return "".join(parts)


def _outline_paths(modules: ModuleMap, x0: float, y1: float, pad: float) -> list[str]:
    """Each module's path (without its closing ``z``), north up from (``x0``, ``y1``) less ``pad`` [m]: its
    first corner, then each next one as its step from the one before, in tenths of a metre (a third of a
    pixel at 900 pixels for 250 m) between the rounded corners, so that nothing accumulates. Every corner
    at once; the plant's few distinct numbers are each written once."""
    xy = modules.xy
    if not len(xy):
        return []
    tx = np.rint((xy[:, 0] - x0 + pad) * 10).astype(np.int64)  # round(): the same halves to even
    ty = np.rint((y1 - xy[:, 1] + pad) * 10).astype(np.int64)
    vx, vy = tx.copy(), ty.copy()
    vx[1:] -= tx[:-1]
    vy[1:] -= ty[:-1]
    spans = modules.spans()
    starts = [a for a, _ in spans]
    vx[starts], vy[starts] = tx[starts], ty[starts]
    values, index = np.unique(np.concatenate((vx, vy)), return_inverse=True)
    said = [_tenths(v) for v in values.tolist()]
    m = len(xy)
    pairs = [f"{said[i]} {said[j]}" for i, j in zip(index[:m].tolist(), index[m:].tolist(), strict=True)]
    return [f"M{pairs[a]}l{' '.join(pairs[a + 1 : b])}" for a, b in spans]


def _tenths(v: int) -> str:
    """``v`` tenths as the shortest decimal: 123 → 12.3, 120 → 12, −5 → −0.5."""
    whole, tenth = divmod(abs(v), 10)
    return f"{'-' if v < 0 else ''}{whole}{f'.{tenth}' if tenth else ''}"


def plan_svg(layout: PlantLayout, plan: FlightPlan, width: int = 900) -> str:
    """A flight plan over its plant as an SVG, north up: the roof, the modules, the path in flight order
    (the survey lines thick, the turns and the way to and from home dashed), the images' positions and the
    home point."""
    frame = layout.origin
    roof = project(layout.polygon, frame)
    path = project([w[:2] for w in plan.waypoints], frame)
    triggers = project(plan.trigger_points, frame)
    home = frame.to_xy(*plan.home)
    xs = [p[0] for p in (*roof, *path, home)]
    ys = [p[1] for p in (*roof, *path, home)]
    pad = max(2.0, 0.03 * max(max(xs) - min(xs), max(ys) - min(ys)))
    x0, y1 = min(xs) - pad, max(ys) + pad
    w, h = max(xs) + pad - x0, y1 - (min(ys) - pad)

    def pts(points: Sequence[Sequence[float]]) -> str:
        return " ".join(f"{x - x0:.2f},{y1 - y:.2f}" for x, y in points)

    quads = "".join(f"M{pts(q)}Z" for q in layout.corners_xy().tolist())
    lines = "".join(
        f'<polyline points="{pts(path[i : i + 2])}" class="pass"/>' for i in range(0, len(path) - 1, 2)
    )
    dot = 0.004 * max(w, h)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w:.2f} {h:.2f}" width="{width}" '
        f'height="{max(120, int(width * h / w))}" role="img">',
        f"<style>.pass{{fill:none;stroke:#0b57d0;stroke-width:{2.5 * dot:.2f}}}</style>",
        f'<polygon points="{pts(roof)}" fill="#f3f7fb" stroke="#8aa0b8" stroke-width="{dot:.2f}"/>',
        f'<path d="{quads}" fill="#c9d4e0"/>',
        f'<polyline points="{pts(path)}" fill="none" stroke="#0b57d0" stroke-width="1.5" '
        'stroke-dasharray="4 3" vector-effect="non-scaling-stroke"/>',  # in screen pixels, whatever the scale
        lines,
        *(f'<circle cx="{x - x0:.2f}" cy="{y1 - y:.2f}" r="{dot:.2f}" fill="#e76f51"/>' for x, y in triggers),
        f'<circle cx="{home[0] - x0:.2f}" cy="{y1 - home[1]:.2f}" r="{4 * dot:.2f}" fill="#1b7f3b"/>',
        "</svg>",
    ]
    return "".join(parts)


def trend_svg(
    values: Sequence[float | None], labels: Sequence[str], width: int = 440, height: int = 140
) -> str:
    """One figure over a module's flights as a small line chart: a dot per flight that measured it
    (``None``: not seen, left out), the line through them, the figure's range on the left and the first
    and last flights' ``labels`` below. Empty with nothing measured."""
    seen = [(k, v) for k, v in enumerate(values) if v is not None and math.isfinite(v)]
    if not seen:
        return ""
    left, right, top, bottom = 48.0, 10.0, 10.0, 24.0
    low, high = min(v for _, v in seen), max(v for _, v in seen)
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    span_x = max(1, len(values) - 1)

    def xy(k: int, v: float) -> tuple[float, float]:
        x = left + (width - left - right) * (k / span_x if len(values) > 1 else 0.5)
        return x, top + (height - top - bottom) * (high - v) / (high - low)

    pts = [xy(k, v) for k, v in seen]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    text = 'font-size="11" fill="#6b7785"'
    parts = [
        f'<svg class="trend" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img">',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#c5d3e0"/>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" '
        'stroke="#c5d3e0"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" {text}>{high:.3g}</text>',
        f'<text x="{left - 4}" y="{height - bottom}" text-anchor="end" {text}>{low:.3g}</text>',
        f'<polyline points="{line}" fill="none" stroke="#0b57d0" stroke-width="2"/>',
        *(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#0b57d0"/>' for x, y in pts),
        f'<text x="{left}" y="{height - 6}" {text}>{escape(labels[0])}</text>',
        f'<text x="{width - right}" y="{height - 6}" text-anchor="end" {text}>{escape(labels[-1])}</text>',
        "</svg>",
    ]
    return "".join(parts)


def map_png(modules: ModuleMap, width_px: int = 1600) -> tuple[bytes, tuple[int, int]]:
    """The module map as a PNG (for the PDF: one image instead of thousands of vector polygons)."""
    from PIL import Image, ImageDraw

    x0, y0, x1, y1 = _map_bounds(modules)
    pad = 2.0
    scale = width_px / ((x1 - x0) + 2 * pad)
    size = (width_px, max(60, int(((y1 - y0) + 2 * pad) * scale)))
    img = Image.new("RGB", size, (251, 253, 255))
    draw = ImageDraw.Draw(img)
    px = ((modules.xy[:, 0] - x0 + pad) * scale).tolist()
    py = ((y1 - modules.xy[:, 1] + pad) * scale).tolist()
    for (a, b), fill in zip(modules.spans(), modules.fills, strict=True):
        draw.polygon(list(zip(px[a:b], py[a:b], strict=True)), fill=fill, outline=(74, 90, 106))
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue(), size


def render_html(report: Report, lang: str = "zh-CN") -> str:
    import base64

    from jinja2 import Environment, FileSystemLoader, select_autoescape

    check_lang(lang)
    env = Environment(
        loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=select_autoescape(["html"]),
    )

    def uri(png: bytes | None) -> str | None:
        return None if png is None else "data:image/png;base64," + base64.b64encode(png).decode()

    thumbs = [(f, uri(f.thumbnail_png), uri(f.photo_png)) for f in report.findings if f.thumbnail_png]
    return env.get_template("pv_report.html").render(
        r=report,
        lang=lang,
        t=lambda key: t(key, lang),
        cname=lambda cls: class_name(cls, lang),
        review=lambda status: review_name(status, lang),
        colour=colour,
        num=_num,
        local=local_time,
        svg=map_svg(report.modules),
        legend=map_legend(report.modules, lang),
        swatch=legend_svg,
        thumbs=thumbs,
    )


def _num(value: float | None, unit: str, at_least: bool = False) -> str:
    return "–" if value is None else f"{'≥ ' if at_least else ''}{value:.1f} {unit}"


def local_time(value: dt.datetime | None) -> str:
    if value is None:
        return "–"
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")


def render_pdf(report: Report, lang: str = "zh-CN") -> bytes:
    """The same report as an A4 PDF with its fonts embedded."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from gongzhi.kit import pdffonts

    check_lang(lang)
    pdffonts.register()
    body = ParagraphStyle("body", fontName=pdffonts.LATIN, fontSize=9, leading=12)
    h1 = ParagraphStyle("h1", parent=body, fontSize=16, leading=20, spaceAfter=4)
    h2 = ParagraphStyle("h2", parent=body, fontSize=12, leading=16, spaceBefore=10, spaceAfter=4)

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(pdffonts.markup(text), style)

    def tx(key: str) -> str:
        return t(key, lang)

    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#c5d3e0")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f3f7fb")),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]
    )
    story: list[Any] = [
        p(tx("title"), h1),
        p(
            f"{report.plant_name} ({report.plant_code}) · {tx('inspection')} #{report.inspection_id} · "
            f"{tx('generated')} {local_time(report.generated_at)}"
        ),
        p(tx("conditions"), h2),
    ]
    verdict = {True: tx("compliant"), False: tx("not_compliant"), None: f"IEC TS 62446-3: {tx('unknown')}"}[
        report.compliant
    ]
    duration = f"{report.duration_min} {tx('minutes')}" if report.duration_min is not None else tx("unknown")
    cond = [
        [
            p(tx("irradiance")),
            p(_num(report.irradiance_w_m2, "W/m²")),
            p(tx("ambient")),
            p(_num(report.ambient_temp_c, "°C")),
        ],
        [
            p(tx("wind")),
            p(_num(report.wind_m_s, "m/s")),
            p(tx("duration")),
            p(f"{duration} ({tx('manual')} {report.manual_min} {tx('minutes')})"),
        ],
        [
            p(verdict),
            "",
            p(f"{tx('modules')} / {tx('area')}"),
            p(f"{report.module_count} / {report.area_m2:.0f} m²"),
        ],
        [p(tx("coverage")), p(report.coverage(lang)), "", ""],
        [p(tx("classes_by")), p(report.classes_by(lang)), "", ""],
    ]
    # the coverage and the classifier across their rows, a warning across the whole of its own
    spans = [*grid.getCommands(), ("SPAN", (1, 3), (3, 3)), ("SPAN", (1, 4), (3, 4))]
    if report.sun_reflections:
        cond.append([p(tx("sun_reflections")), "", "", ""])
        spans.append(("SPAN", (0, 5), (3, 5)))
    story.append(Table(cond, colWidths=[30 * mm, 45 * mm, 35 * mm, 60 * mm], style=TableStyle(spans)))

    story.append(p(tx("map"), h2))
    png, (w_px, h_px) = map_png(report.modules)
    width = 170 * mm
    height = min(width * h_px / w_px, 120 * mm)
    story.append(Image(io.BytesIO(png), width=height * w_px / h_px, height=height))
    legend = map_legend(report.modules, lang)
    if legend:
        cells = [c for fill, label in legend for c in ("", p(label))]
        key = Table([cells], colWidths=[4 * mm, 170 * mm / len(legend) - 4 * mm] * len(legend))
        key.setStyle(TableStyle([("BACKGROUND", (2 * i, 0), (2 * i, 0), colors.HexColor(fill))
                                 for i, (fill, _) in enumerate(legend)]))  # fmt: skip
        story.append(key)

    story.append(p(tx("summary"), h2))
    counts = report.counts()
    if counts:
        rows = [[p(tx("class")), p("S1 (< 10 K)"), p("S2 (10–20 K)"), p("S3 (≥ 20 K)")]]
        rows += [
            [p(class_name(c, lang)), str(r["S1"]), str(r["S2"]), str(r["S3"])] for c, r in counts.items()
        ]
        story.append(Table(rows, style=grid))
        story.append(p(tx("severity_note")))
    else:
        story.append(p(tx("none_found")))
    if report.findings:
        story.append(p(report.loss_text(lang)))
    if report.since is not None:
        story.append(p(report.since_text(lang)))

    if report.findings:
        story.append(p(tx("findings"), h2))
        head = [tx("module"), tx("class"), "ΔT", "ΔTn", "T max", tx("severity"), "CoA", tx("frames"), ""]
        rows = [[p(h) for h in head]]
        for f in report.findings:
            thumb: Any = ""
            if f.thumbnail_png:
                thumb = Image(io.BytesIO(f.thumbnail_png), width=16 * mm, height=16 * mm)
            if f.thumbnail_png and f.photo_png:  # the photo beside it, over the same window
                photo = Image(io.BytesIO(f.photo_png), width=16 * mm, height=16 * mm)
                tight = [(side, (0, 0), (-1, -1), 0) for side in ("LEFTPADDING", "RIGHTPADDING")]
                thumb = Table([[thumb, photo]], colWidths=[17 * mm, 17 * mm], style=tight)
            rows.append(
                [
                    p(f.module_id),
                    p(class_name(f.anomaly_class, lang)),
                    p(_num(f.delta_t_k, "K", f.delta_t_at_least)),
                    p(_num(f.delta_tn_k, "K", f.delta_t_at_least)),
                    p(_num(f.t_max_c, "°C")),
                    p(f.severity),
                    p(str(f.coa)),
                    p(str(f.frames_seen)),
                    thumb,
                ]
            )
        story.append(Table(rows, repeatRows=1, style=grid))
        if any(f.delta_t_at_least for f in report.findings):
            story.append(p(tx("at_least_note")))

    if report.zones:
        story.append(p(tx("zones"), h2))
        story.append(Table([[p(c) for c in row] for row in report.zone_rows(lang)], repeatRows=1, style=grid))
        story.append(p(f"{tx('zones_note')} {report.economics_text(lang)}"))
        story.append(p(report.calibration_note(lang)))
    if report.forecasts:
        story.append(p(tx("forecast"), h2))
        rows = [[p(c) for c in row] for row in report.forecast_rows(lang)]
        story.append(Table(rows, repeatRows=1, style=grid))
        story.append(p(report.forecast_note(lang)))

    story.append(p(tx("actions"), h2))
    acts = report.actions(lang)
    if acts:
        story.append(Table([[p(c), p(text)] for c, text in acts], colWidths=[40 * mm, 130 * mm], style=grid))
    else:
        story.append(p(tx("none_found")))
    story.append(Spacer(1, 4 * mm))

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"{tx('title')} {report.plant_code} #{report.inspection_id}",
        author="gongzhi 共治",
    )
    doc.build(story)
    return buf.getvalue()
