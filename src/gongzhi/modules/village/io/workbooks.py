"""The three-assets ledger as an Excel workbook: contracts with their rent schedule, and the flags."""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook

from gongzhi.kit.sheets import formula_safe
from gongzhi.modules.village.analytics import ledger

KIND_ZH = {
    "renewal_below_previous": "续签低于原租金",
    "not_disclosed": "未公开",
    "paid_after_expiry": "到期后仍收付",
}


def ledger_workbook(
    contracts: Sequence[tuple[str, str, str, ledger.Lease]],
    assets: Sequence[tuple[str, str, str, int]],
    flags: Sequence[ledger.Flag],
) -> bytes:
    """``contracts``: (village, counterparty, subject, lease); ``assets``: (village, kind, name, fen)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "合同 contracts"
    ws.append(
        ["合同ID", "村", "对方", "标的", "起", "止", "首年租金(元)", "年递增(%)", "合同总额(元)", "公开日期"]
    )
    for village, party, subject, c in contracts:
        total = sum(r for _, r in ledger.schedule(c)) / 100
        ws.append(
            [
                c.id,
                formula_safe(village),
                formula_safe(party),
                formula_safe(subject),
                c.starts_on,
                c.ends_on,
                c.annual_rent_fen / 100,
                c.escalation_pct,
                total,
                c.disclosed_on,
            ]
        )
    sched = wb.create_sheet("租金计划 schedule")
    sched.append(["合同ID", "合同年度起", "当年租金(元)"])
    for _, _, _, c in contracts:
        for start, rent in ledger.schedule(c):
            sched.append([c.id, start, rent / 100])
    a = wb.create_sheet("资产资源资金 assets")
    a.append(["村", "类别", "名称", "价值(元)"])
    for village, kind, name, value in assets:
        a.append([formula_safe(village), kind, formula_safe(name), value / 100])
    f = wb.create_sheet("预警 flags")
    f.append(["合同ID", "问题", "说明"])
    for x in flags:
        f.append([x.contract_id, KIND_ZH.get(x.kind, x.kind), x.message])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
