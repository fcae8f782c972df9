"""Three-assets ledger checks: the rent schedule of an escalating lease and the flags supervisors look for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Lease:
    id: int
    starts_on: date
    ends_on: date
    annual_rent_fen: int
    escalation_pct: float
    previous_id: int | None = None
    disclosed_on: date | None = None


@dataclass(frozen=True)
class Flag:
    """One finding; ``message`` is the Chinese sentence of the workbook, ``params`` its figures, from which
    the console writes the sentence in the reader's language."""

    kind: str
    contract_id: int
    message: str
    params: dict[str, str] = field(default_factory=dict)


def _yuan(fen: int) -> str:
    return f"{fen / 100:,.2f}"


def _add_years(d: date, n: int) -> date:
    try:
        return d.replace(year=d.year + n)
    except ValueError:  # 29 February
        return d.replace(year=d.year + n, day=28)


def schedule(lease: Lease) -> list[tuple[date, int]]:
    """(start, rent [fen]) of each contract year; year k pays rent × (1 + p)^k, rounded to the fen."""
    out, k = [], 0
    while (start := _add_years(lease.starts_on, k)) <= lease.ends_on:
        out.append((start, round(lease.annual_rent_fen * (1 + lease.escalation_pct / 100) ** k)))
        k += 1
    return out


def rent_due_until(lease: Lease, day: date) -> int:
    """Rent [fen] of every contract year that has begun by ``day``."""
    return sum(rent for start, rent in schedule(lease) if start <= day)


def flags(leases: Sequence[Lease], payments: Sequence[tuple[int, date, int]]) -> list[Flag]:
    """Renewals below the previous rent, leases never disclosed, payments after a lease expired."""
    by_id = {c.id: c for c in leases}
    out = []
    for c in leases:
        prev = by_id.get(c.previous_id) if c.previous_id else None
        if prev is not None and schedule(prev):
            last = schedule(prev)[-1][1]
            if c.annual_rent_fen < last:
                rent, previous = _yuan(c.annual_rent_fen), _yuan(last)
                out.append(
                    Flag(
                        "renewal_below_previous",
                        c.id,
                        f"续签首年租金 {rent} 元低于上期末年 {previous} 元",
                        {"rent": rent, "previous": previous},
                    )
                )
        if c.disclosed_on is None:
            out.append(Flag("not_disclosed", c.id, "合同未公开"))
    for contract_id, paid_on, amount in payments:
        paid = by_id.get(contract_id)
        if paid is not None and paid_on > paid.ends_on:
            params = {"ends_on": str(paid.ends_on), "paid_on": str(paid_on), "amount": _yuan(amount)}
            out.append(
                Flag(
                    "paid_after_expiry",
                    contract_id,
                    "合同 {ends_on} 到期后仍于 {paid_on} 收付 {amount} 元".format(**params),
                    params,
                )
            )
    return out
