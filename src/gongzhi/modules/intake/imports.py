"""Bulk import of visit records and hotline tickets: every row checked first, then all imported or none."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from gongzhi.core import service as core
from gongzhi.core.models import Role
from gongzhi.db import scope_of, utcnow
from gongzhi.errors import InvalidInput, msg
from gongzhi.kit import sheets, validation
from gongzhi.kit.filestore import display_name
from gongzhi.kit.workdays import SHANGHAI
from gongzhi.modules.intake import repository as repo
from gongzhi.modules.intake import service
from gongzhi.modules.intake.io.tabular import Row, TableError, read_rows
from gongzhi.modules.intake.models import IntakeImport
from gongzhi.modules.intake.schemas import RequestIn
from gongzhi.registry import Registry

KINDS = {"hotline", "visit"}
IMPORTERS = (Role.ADMIN, Role.DISPATCHER)
YES = {"是", "yes", "y", "true", "1", "匿名"}
PRIORITY = {"一般": "normal", "普通": "normal", "紧急": "urgent", "较急": "high", "低": "low"}
DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
)


def _parse_time(raw: str) -> datetime:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=SHANGHAI)
        except ValueError:
            continue
    value = datetime.fromisoformat(raw)
    return value if value.tzinfo else value.replace(tzinfo=SHANGHAI)


def _to_request(
    row: Row, codes: dict[str, str], now: datetime
) -> tuple[RequestIn | None, list[dict[str, Any]]]:
    v, errs = row.values, []

    def err(col: str, message: str) -> None:
        errs.append(row.problem(col, message))

    fields: dict[str, Any] = {
        k: v[k] for k in ("subject", "description", "address", "reporter_name", "reporter_phone") if v.get(k)
    }
    fields["external_id"] = v.get("external_id") or None
    fields["anonymous"] = v.get("anonymous", "").lower() in YES
    if v.get("service_code"):
        code = codes.get(v["service_code"]) or codes.get(v["service_code"].lower())
        if code is None:
            err("service_code", msg("unknown category “%(category)s”", category=v["service_code"]))
        fields["service_code"] = code
    if v.get("priority"):
        fields["priority"] = PRIORITY.get(v["priority"], v["priority"])
    for col in ("lat", "lon"):
        if v.get(col):
            try:
                fields[col] = float(v[col])
            except ValueError:
                err(col, msg("not a number"))
    if v.get("received_at"):
        try:
            at = _parse_time(v["received_at"])
            if at > now:
                err("received_at", msg("lies in the future"))
            fields["received_at"] = at
        except ValueError:
            err("received_at", msg("not a date/time such as 2026-11-28 09:30"))
    if not v.get("subject") and not v.get("description"):
        err("subject", msg("a row needs a subject or a description"))
    if errs:
        return None, errs
    try:
        return RequestIn(**fields), []
    except ValidationError as exc:
        return None, [
            row.problem(str(e["loc"][0]) if e["loc"] else "", validation.problem(e)) for e in exc.errors()
        ]


def run(
    s: Session,
    registry: Registry,
    kind: str,
    filename: str,
    data: bytes,
    *,
    secret: str,
    dry_run: bool = False,
    max_bytes: int | None = None,
) -> IntakeImport:
    """Check every row; on any error record a rejected import with the row-by-row report, create nothing."""
    sc = scope_of(s)
    core.require_role(sc, *IMPORTERS)
    rid = service.acting_region(s)
    if kind not in KINDS:
        raise InvalidInput(msg("kind must be one of %(kinds)s", kinds=", ".join(sorted(KINDS))))
    now = utcnow()
    rec = IntakeImport(
        region_id=rid,
        kind=kind,
        filename=display_name(filename) or "upload",
        sha256=hashlib.sha256(data).hexdigest(),
        status="checking",
        created_by=sc.user_id,
        created_at=now,
    )
    big = sheets.too_large(data, max_bytes)
    parsed, errors, rec.rows = (
        ([], [sheets.problem(1, "", big)], 0) if big else _check(s, rid, kind, filename, data, now)
    )
    rec.errors = errors
    rec.status = "rejected" if errors else ("checked" if dry_run else "imported")
    s.add(rec)
    s.flush()
    if not errors and not dry_run:
        for req in parsed:
            service.submit(s, registry, req, region_id=rid, channel=kind, secret=secret, import_id=rec.id)
        rec.imported = len(parsed)
    service._audit(
        s,
        rid,
        "intake.import",
        "intake_import",
        rec.id,
        {"status": rec.status, "rows": rec.rows, "errors": len(errors)},
    )
    return rec


def _check(
    s: Session, rid: int, kind: str, filename: str, data: bytes, now: datetime
) -> tuple[list[RequestIn], list[dict[str, Any]], int]:
    """Parsed rows, the errors of every row, and how many data rows the file had."""
    try:
        _, rows = read_rows(data, filename)
    except TableError as exc:
        return [], [sheets.problem(1, "", exc.args[0])], 0
    cats = repo.categories(s, rid)
    codes = (
        {c.code: c.code for c in cats}
        | {c.code.lower(): c.code for c in cats}
        | {c.name: c.code for c in cats}
    )
    parsed, errors = [], []
    for row in rows:
        req, errs = _to_request(row, codes, now)
        errors.extend(errs)
        if req is not None:
            parsed.append((row, req))
    errors.extend(_duplicate_ids(s, rid, kind, parsed))
    if not rows:
        errors.append(sheets.problem(2, "", msg("the file has no data rows")))
    return [r for _, r in parsed], errors, len(rows)


def _duplicate_ids(
    s: Session, rid: int, kind: str, parsed: list[tuple[Row, RequestIn]]
) -> list[dict[str, Any]]:
    ids = [r.external_id for _, r in parsed if r.external_id]
    known = repo.external_ids(s, rid, kind, ids)
    seen: set[str] = set()
    errs = []
    for row, req in parsed:
        eid = req.external_id
        if eid and (eid in known or eid in seen):
            why = (
                msg("%(name)s already imported", name=eid)
                if eid in known
                else msg("%(name)s appears twice in this file", name=eid)
            )
            errs.append(row.problem("external_id", why))
        if eid:
            seen.add(eid)
    return errs
