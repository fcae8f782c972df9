"""Use cases of the resource catalog: records and their history, import and export, rule sets, audit runs
with reports and rectification cases, and the duplicate-system scan. Services flush, never commit."""

from __future__ import annotations

import hashlib
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from gongzhi.cases.schemas import ActionIn, CaseCreate
from gongzhi.cases.service import apply as apply_action
from gongzhi.cases.service import create_case
from gongzhi.cases.statemachine import Action
from gongzhi.core import audit, outbox
from gongzhi.core.models import Region, Role
from gongzhi.core.service import require_role
from gongzhi.db import Scope, scope_of, utcnow
from gongzhi.errors import Conflict, IllegalTransition, InvalidInput, msg, stored
from gongzhi.kit import validation
from gongzhi.kit.workdays import SHANGHAI
from gongzhi.modules.catalog import instances
from gongzhi.modules.catalog import repository as repo
from gongzhi.modules.catalog.analytics import dupes, rules, texts
from gongzhi.modules.catalog.analytics.entry import Entry, Item
from gongzhi.modules.catalog.io import dcat, readers, report, writers
from gongzhi.modules.catalog.models import (
    CatalogAuditRun,
    CatalogDuplicatePair,
    CatalogFinding,
    CatalogRecord,
    CatalogRecordVersion,
    CatalogRuleset,
)
from gongzhi.modules.catalog.schemas import ImportReport, RecordIn, RowErrorRead, RulesetIn
from gongzhi.registry import Registry

EDITORS = (Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR)
RECORD_FIELDS = tuple(RecordIn.model_fields)
JURISDICTIONS = ("浙江省", "杭州市", "衢州市", "四川省", "广元市", "拱墅区", "龙游县", "昭化区")
EXPORTS = {
    "jsonld": "application/ld+json",
    "ttl": "text/turtle; charset=utf-8",
    "datajson": "application/json",
    "xlsx": writers.XLSX,
}
MAX_CASES = 200


def _region_id(s: Session) -> int:
    sc = scope_of(s)
    if sc.region_id is None:
        raise InvalidInput(msg("choose a region for this catalog action"))
    return sc.region_id


def _audit(s: Session, action: str, obj: str, obj_id: Any, data: dict[str, Any]) -> None:
    sc = scope_of(s)
    audit.record(
        s,
        region_id=_region_id(s),
        action=action,
        object_type=obj,
        object_id=obj_id,
        actor=sc.username,
        actor_user_id=sc.user_id,
        data=data,
    )


def today_in_china() -> date:
    return utcnow().astimezone(SHANGHAI).date()


# --- records ----------------------------------------------------------------------------------------


def record_data(rec: CatalogRecord) -> dict[str, Any]:
    """A record's fields as JSON-ready data (what a version snapshot stores)."""
    data = {f: getattr(rec, f) for f in RECORD_FIELDS}
    for name in ("published", "modified"):
        data[name] = data[name].isoformat() if data[name] else None
    return data


def _normalised(data: RecordIn) -> dict[str, Any]:
    values = data.model_dump(mode="python")
    values["key"] = data.key or data.identifier or readers.derived_key(data.provider, data.name)
    return values


def _snapshot(s: Session, rec: CatalogRecord, change: str) -> None:
    s.add(
        CatalogRecordVersion(
            region_id=rec.region_id,
            record_id=rec.id,
            version=rec.version,
            data=record_data(rec),
            change=change,
            changed_by=scope_of(s).username,
        )
    )


def create_record(s: Session, data: RecordIn, source: str = "manual") -> CatalogRecord:
    require_role(scope_of(s), *EDITORS)
    values = _normalised(data)
    existing = repo.records_by_key(s).get((values["kind"], values["key"]))
    if existing is not None:
        found = {"kind": values["kind"], "key": values["key"], "id": existing.id}
        if existing.archived_at:
            raise Conflict(
                msg(
                    "a %(kind)s with key %(key)r exists already (record %(id)s) and is archived: restore it",
                    **found,
                )
            )
        raise Conflict(msg("a %(kind)s with key %(key)r exists already (record %(id)s)", **found))
    rec = CatalogRecord(region_id=_region_id(s), source=source, **values)
    s.add(rec)
    s.flush()
    _snapshot(s, rec, "create")
    _audit(s, "catalog.record.create", "catalog_record", rec.id, {"name": rec.name, "kind": rec.kind})
    return rec


def _apply(s: Session, rec: CatalogRecord, values: dict[str, Any], change: str) -> bool:
    before = record_data(rec)
    for k, v in values.items():
        setattr(rec, k, v)
    if record_data(rec) == before:
        return False
    rec.version += 1
    rec.updated_at = utcnow()
    s.flush()
    _snapshot(s, rec, change)
    return True


def update_record(s: Session, record_id: int, data: RecordIn, if_version: int | None = None) -> CatalogRecord:
    require_role(scope_of(s), *EDITORS)
    rec = _live(repo.record(s, record_id))
    if if_version is not None and if_version != rec.version:
        raise Conflict(
            msg(
                "record %(id)s is at version %(version)s, you sent %(if_version)s; reload it",
                id=rec.id,
                version=rec.version,
                if_version=if_version,
            )
        )
    values = _normalised(data)
    values["key"] = data.key or rec.key
    if _apply(s, rec, values, "update"):
        _audit(s, "catalog.record.update", "catalog_record", rec.id, {"version": rec.version})
    return rec


def _live(rec: CatalogRecord) -> CatalogRecord:
    if rec.archived_at is not None:
        raise Conflict(msg("record %(id)s is archived; restore it to change it", id=rec.id))
    return rec


def archive_record(s: Session, record_id: int, reason: str) -> CatalogRecord:
    """Take a record out of the catalog (删除): it leaves audits, scans and exports, keeps its history."""
    require_role(scope_of(s), *EDITORS)
    rec = _live(repo.record(s, record_id))
    rec.archived_at, rec.archived_by, rec.archive_reason = utcnow(), scope_of(s).username, reason
    _bump(s, rec, "archive")
    _audit(s, "catalog.record.archive", "catalog_record", rec.id, {"name": rec.name, "reason": reason})
    return rec


def restore_record(s: Session, record_id: int) -> CatalogRecord:
    require_role(scope_of(s), *EDITORS)
    rec = repo.record(s, record_id)
    if rec.archived_at is None:
        raise Conflict(msg("record %(id)s is not archived", id=rec.id))
    rec.archived_at, rec.archived_by, rec.archive_reason = None, "", ""
    _bump(s, rec, "restore")
    _audit(s, "catalog.record.restore", "catalog_record", rec.id, {"name": rec.name})
    return rec


def _bump(s: Session, rec: CatalogRecord, change: str) -> None:
    rec.version += 1
    rec.updated_at = utcnow()
    s.flush()
    _snapshot(s, rec, change)
    s.flush()


def share_record(s: Session, record_id: int, shared: bool) -> CatalogRecord:
    """Let paired regions' duplicate scans compare with this record (its name, summary, functions,
    items and provider), or stop it."""
    require_role(scope_of(s), *EDITORS)
    rec = repo.record(s, record_id)
    if rec.shared_with_pairs != shared:
        rec.shared_with_pairs = shared
        s.flush()
        _audit(s, "catalog.record.share", "catalog_record", rec.id, {"shared_with_pairs": shared})
    return rec


def list_records(
    s: Session,
    kind: str | None = None,
    q: str = "",
    provider: str | None = None,
    page: int = 1,
    size: int = 50,
    archived: bool = False,
) -> tuple[list[CatalogRecord], int]:
    return repo.search_records(s, kind, q.strip(), provider, (page - 1) * size, size, archived)


def get_record(s: Session, record_id: int) -> CatalogRecord:
    return repo.record(s, record_id)


def record_versions(s: Session, record_id: int) -> list[CatalogRecordVersion]:
    repo.record(s, record_id)
    return repo.versions(s, record_id)


# --- import -----------------------------------------------------------------------------------------


def import_catalog(s: Session, raw: bytes, filename: str = "", fmt: str = "auto") -> ImportReport:
    """Upsert every readable row by (kind, key); every row that cannot be used is in the report."""
    require_role(scope_of(s), *EDITORS)
    rid = _region_id(s)
    try:
        kind, rows = readers.read_any(raw, filename, fmt)
    except readers.ReadError as exc:
        raise InvalidInput(exc.args[0]) from exc
    existing = repo.records_by_key(s)
    seen: dict[tuple[str, str], int] = {}
    counts: Counter[str] = Counter()
    errors: list[RowErrorRead] = []
    created: list[CatalogRecord] = []
    for row in rows:
        errors.extend(RowErrorRead(row=e.row, field=e.field, **stored(e.message)) for e in row.errors)
        if any(e.field == "name" for e in row.errors):
            counts["skipped"] += 1
            continue
        outcome = _import_row(s, rid, kind, row, existing, seen, errors, created)
        counts[outcome] += 1
    s.add_all(created)
    s.flush()  # one batched INSERT … RETURNING for every new record
    for rec in created:
        _snapshot(s, rec, f"import:{kind}")
    s.flush()
    _audit(s, "catalog.import", "catalog", rid, {"file": filename[:200], "format": kind, **counts})
    return ImportReport(
        format=kind,
        rows=len(rows),
        created=counts["created"],
        updated=counts["updated"],
        unchanged=counts["unchanged"],
        skipped=counts["skipped"],
        errors=errors,
    )


def _import_row(
    s: Session,
    rid: int,
    source: str,
    row: readers.ParsedRow,
    existing: dict[tuple[str, str], CatalogRecord],
    seen: dict[tuple[str, str], int],
    errors: list[RowErrorRead],
    created: list[CatalogRecord],
) -> str:
    try:
        data = RecordIn.model_validate(row.data)
    except ValidationError as exc:
        for e in exc.errors():
            loc = ".".join(str(p) for p in e["loc"])
            errors.append(RowErrorRead(row=row.row, field=loc, **stored(validation.problem(e))))
        return "skipped"
    values = _normalised(data)
    k = (values["kind"], values["key"])
    if k in seen:
        said = msg("repeats row %(row)s; skipped", row=seen[k])
        errors.append(RowErrorRead(row=row.row, field="key", **stored(said)))
        return "skipped"
    seen[k] = row.row
    rec = existing.get(k)
    if rec is not None and rec.archived_at is not None:
        said = msg("record %(id)s is archived; skipped", id=rec.id)
        errors.append(RowErrorRead(row=row.row, field="key", **stored(said)))
        return "skipped"
    if rec is not None and row.columns is not None:  # a sheet updates only the columns it has
        values = {f: v for f, v in values.items() if f in row.columns}
    if rec is None:
        created.append(CatalogRecord(region_id=rid, source=source, **values))
        return "created"
    return "updated" if _apply(s, rec, values, f"import:{source}") else "unchanged"


# --- export -----------------------------------------------------------------------------------------


def to_entry(row: Any, key: str = "id") -> Entry:
    """An Entry from a record or a row of ``repo.ENTRY_COLUMNS``, keyed by the record id (audits) or its
    catalog key (exports, which must be stable across databases)."""
    g = row._mapping if hasattr(row, "_mapping") else {c: getattr(row, c) for c in repo.ENTRY_COLUMNS}
    return Entry(
        key=str(g[key]),
        kind=g["kind"],
        name=g["name"],
        summary=g["summary"],
        provider=g["provider"],
        provider_code=g["provider_code"],
        category=g["category"],
        category_code=g["category_code"],
        identifier=g["identifier"] or "",
        metadata_id=g["metadata_id"],
        keywords=tuple(g["keywords"] or ()),
        format=g["format"],
        resource_type=g["resource_type"],
        share_type=g["share_type"],
        share_condition=g["share_condition"],
        share_mode=g["share_mode"],
        open_type=g["open_type"],
        open_condition=g["open_condition"],
        rights=g["rights"],
        update_cycle=g["update_cycle"],
        published=g["published"],
        modified=g["modified"],
        contact_name=g["contact_name"],
        contact_email=g["contact_email"],
        contact_phone=g["contact_phone"],
        url=g["url"],
        license=g["license"],
        functions=g["functions"],
        items=tuple(Item(i["name"], i.get("type", ""), bool(i.get("sensitive"))) for i in g["items"] or ()),
        distributions=tuple(g["distributions"] or ()),
    )


def catalog_info(s: Session) -> dcat.CatalogInfo:
    region = s.get_one(Region, _region_id(s))
    name_en = region.name_en or region.name
    return dcat.CatalogInfo(
        title=f"{region.name} 政务信息资源目录",
        description=f"{region.name}的政务信息资源目录，由共治平台导出",
        publisher=region.name,
        base=f"urn:gongzhi:{region.code}:",
        title_en=f"{name_en} government information resource catalog",
        description_en=f"Resource catalog of {name_en}, exported by gongzhi",
    )


def export_catalog(s: Session, fmt: str, kind: str | None = None) -> tuple[bytes, str]:
    if fmt not in EXPORTS:
        raise InvalidInput(
            msg("unknown export format %(fmt)r; one of %(formats)s", fmt=fmt, formats=", ".join(EXPORTS))
        )
    entries = [to_entry(r, key="key") for r in repo.entry_rows(s, kind)]
    info = catalog_info(s)
    if fmt in ("jsonld", "ttl"):
        body = dcat.write_dcat(entries, info, "json-ld" if fmt == "jsonld" else "turtle")
    elif fmt == "datajson":
        body = writers.write_datajson(entries, info)
    else:
        body = writers.write_xlsx(entries)
    return body, EXPORTS[fmt]


# --- rule sets --------------------------------------------------------------------------------------


def _check_rules(config: dict[str, Any]) -> None:
    try:
        rules.activate(config)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc


def rule_catalog() -> list[rules.Rule]:
    return list(rules.RULES.values())


def list_rulesets(s: Session) -> list[CatalogRuleset]:
    return repo.rulesets(s)


def save_ruleset(s: Session, data: RulesetIn, ruleset_id: int | None = None) -> CatalogRuleset:
    require_role(scope_of(s), Role.ADMIN, Role.SUPERVISOR)
    config = {k: v.model_dump(exclude_none=True) for k, v in data.rules.items()}
    _check_rules(config)
    if ruleset_id is None:
        rs = CatalogRuleset(region_id=_region_id(s), name=data.name)
        s.add(rs)
    else:
        rs = repo.ruleset(s, ruleset_id)
    rs.name, rs.description, rs.rules, rs.updated_at = data.name, data.description, config, utcnow()
    if data.is_default:
        for other in repo.rulesets(s):
            other.is_default = False
    rs.is_default = data.is_default
    s.flush()
    _audit(s, "catalog.ruleset.save", "catalog_ruleset", rs.id, {"name": rs.name, "rules": config})
    return rs


def _ruleset_for_run(s: Session, ruleset_id: int | None) -> CatalogRuleset | None:
    return repo.ruleset(s, ruleset_id) if ruleset_id is not None else repo.default_ruleset(s)


# --- audit runs -------------------------------------------------------------------------------------


def fingerprint(record_id: int, rule_id: str, field: str) -> str:
    return hashlib.sha1(f"{record_id}|{rule_id}|{field}".encode(), usedforsecurity=False).hexdigest()


def run_audit(
    s: Session,
    registry: Registry,
    *,
    ruleset_id: int | None = None,
    shacl: bool = False,
    open_cases: bool = False,
    reference_date: date | None = None,
) -> CatalogAuditRun:
    """Audit every record of the region; compare with the previous run; optionally open 整改 cases."""
    require_role(scope_of(s), *EDITORS)
    rid = _region_id(s)
    rs = _ruleset_for_run(s, ruleset_id)
    config = dict(rs.rules) if rs else {}
    if shacl:
        config["dcat-ap-shacl"] = {**config.get("dcat-ap-shacl", {}), "enabled": True}
    detector = instances.detector_params(s)
    if detector:  # the region's subscribed detector models extend the sensitive-data rule
        conf = config.get("sensitive-open", {})
        config["sensitive-open"] = {**conf, "params": {**conf.get("params", {}), **detector}}
    _check_rules(config)
    active = rules.activate(config)
    today = reference_date or today_in_china()
    entries = [to_entry(r) for r in repo.entry_rows(s)]
    found = rules.audit(entries, active, rules.Context(today))
    found.extend(_shacl(s, entries, active))
    run = CatalogAuditRun(
        region_id=rid,
        ruleset_id=rs.id if rs else None,
        rules=config,
        reference_date=today,
        started_by=scope_of(s).username,
        applications=sum(e.kind == "application" for e in entries),
        datasets=sum(e.kind == "dataset" for e in entries),
        problems=len(found),
        records_with_problems=len({f.key for f in found}),
    )
    s.add(run)
    s.flush()
    audited = {int(e.key) for e in entries}
    carried = _compare_with_previous(s, run, found, {r.rule.id for r in active}, audited)
    _store_findings(s, run, found, carried)
    _note_rectified(s, registry, run, {c.case_id for c in carried.values() if c.case_id})
    run.summary = _summary(entries, found, active)
    if open_cases:
        run.cases_opened = _open_cases(s, registry, run, entries)
    s.flush()
    _audit(s, "catalog.audit", "catalog_audit_run", run.id, {"problems": run.problems, "fixed": run.fixed})
    outbox.publish(s, registry, rid, "catalog.audit.completed", _run_payload(run))
    return run


def _shacl(s: Session, entries: list[Entry], active: list[rules.ActiveRule]) -> list[rules.Finding]:
    rule = next((r for r in active if r.rule.id == "dcat-ap-shacl"), None)
    if rule is None:
        return []
    info = catalog_info(s)
    return dcat.shacl_findings(
        entries, info, severity=rule.severity, recommended=bool(rule.params.get("recommended"))
    )


def _compare_with_previous(
    s: Session, run: CatalogAuditRun, found: list[rules.Finding], checked: set[str], audited: set[int]
) -> dict[str, Any]:
    """Mark the previous run's open findings that no longer occur as fixed; return the ones carried over.

    Only rules that ran this time can declare a finding fixed: switching a rule off fixes nothing. The
    findings of a record archived since are closed as ``archived``, not counted as fixed."""
    prev = repo.previous_run(s, run.id)
    if prev is None:
        return {}
    now = {fingerprint(int(f.key), f.rule_id, f.field) for f in found}
    links = repo.open_finding_links(s, prev.id)
    gone = [f.id for f in links if f.record_id not in audited]
    old = {f.fingerprint: f for f in links if f.rule_id in checked and f.record_id in audited}
    fixed_ids = [f.id for fp, f in old.items() if fp not in now]
    for ids, status in ((fixed_ids, "fixed"), (gone, "archived")):
        for start in range(0, len(ids), 5000):
            stmt = (
                update(CatalogFinding)
                .where(CatalogFinding.id.in_(ids[start : start + 5000]))
                .values(status=status, fixed_in_run_id=run.id)
                .execution_options(synchronize_session=False)
            )
            s.execute(stmt)
    run.fixed = len(fixed_ids)
    return {fp: f for fp, f in old.items() if fp in now}


def _store_findings(
    s: Session, run: CatalogAuditRun, found: list[rules.Finding], carried: dict[str, Any]
) -> None:
    rows = []
    for f in found:
        fp = fingerprint(int(f.key), f.rule_id, f.field)
        before = carried.get(fp)
        rows.append(
            {
                "region_id": run.region_id,
                "run_id": run.id,
                "record_id": int(f.key),
                "rule_id": f.rule_id,
                "severity": f.severity,
                "field": f.field[:100],
                "message": f.message,
                "message_key": f.message_key,
                "message_params": dict(f.params),
                "fingerprint": fp,
                "status": "open",
                "first_run_id": before.first_run_id if before else run.id,
                "case_id": before.case_id if before else None,
            }
        )
    if rows:  # Core executemany: ten thousands of rows, no ORM bookkeeping needed
        s.execute(insert(cast(Table, CatalogFinding.__table__)), rows)


def _note_rectified(s: Session, registry: Registry, run: CatalogAuditRun, still_open: set[int]) -> None:
    """Tell each rectification case whose problems this run found fixed (复审通过), on its timeline."""
    cases = {f.case_id for f in repo.fixed_in(s, run.id) if f.case_id} - still_open
    for case_id in sorted(cases):
        note = f"资源目录复审（审核 #{run.id}）：本工单涉及的目录问题已全部整改。"
        try:
            apply_action(s, registry, case_id, Action.COMMENT, ActionIn(note=note))
        except IllegalTransition:  # a rejected or merged case takes no comments
            continue


def _summary(
    entries: list[Entry], found: list[rules.Finding], active: list[rules.ActiveRule]
) -> dict[str, Any]:
    by_key = {e.key: e for e in entries}
    by_rule = Counter(f.rule_id for f in found)
    by_dept: dict[str, Counter[str]] = defaultdict(Counter)
    for e in entries:
        by_dept[e.provider][e.kind] += 1
    for f in found:
        by_dept[by_key[f.key].provider]["problems"] += 1
    return {
        "by_rule": {r.rule.id: by_rule.get(r.rule.id, 0) for r in active},
        "by_severity": dict(Counter(f.severity for f in found)),
        "by_department": {
            d: {"applications": c["application"], "datasets": c["dataset"], "problems": c["problems"]}
            for d, c in sorted(by_dept.items(), key=lambda kv: (-kv[1]["problems"], kv[0]))
        },
    }


def _open_cases(s: Session, registry: Registry, run: CatalogAuditRun, entries: list[Entry]) -> int:
    """One rectification case (整改) per record with new problems, up to MAX_CASES per run.

    A case's text is stored once, in zh-CN: the language of the departments that rectify (as the PV
    module's work orders); the run's pages and reports show the same findings in the reader's language."""
    names = {int(e.key): e for e in entries}
    todo: dict[int, list[CatalogFinding]] = defaultdict(list)
    for f in repo.findings(s, run.id, "open"):
        if f.case_id is None and f.record_id in names:
            todo[f.record_id].append(f)
    opened = 0
    for record_id, fs in sorted(todo.items())[:MAX_CASES]:
        e = names[record_id]
        lines = [_case_line(f) for f in fs]
        case = create_case(
            s,
            registry,
            CaseCreate(
                title=f"资源目录整改：{e.name}"[:200],
                description=(f"审核 #{run.id} 发现 {len(fs)} 个问题（{e.provider}）：\n" + "\n".join(lines))[
                    :10_000
                ],
                category="catalog",
                priority="high" if any(f.severity == "error" for f in fs) else "normal",
                source="catalog-audit",
            ),
            region_id=run.region_id,
        )
        for f in fs:
            f.case_id = case.id
        opened += 1
    return opened


def _case_line(f: CatalogFinding) -> str:
    rule = rules.RULES[f.rule_id]
    return f"- 【{rule.title()}】{finding_text(f)}。整改要求：{rule.fix_hint()}"


def finding_text(f: CatalogFinding, lang: str = texts.DEFAULT_LANG) -> str:
    """A stored finding's message in ``lang`` (a finding stored before message keys: as stored)."""
    return texts.message_text(f.message_key, f.message_params, f.message, lang)


def open_cases(s: Session, registry: Registry, run_id: int) -> CatalogAuditRun:
    """Open rectification cases (整改) for the run's open problems that have none yet; only the latest
    run's problems are current."""
    require_role(scope_of(s), *EDITORS)
    run = repo.audit_run(s, run_id)
    latest = repo.audit_runs(s, 1)
    if latest and latest[0].id != run.id:
        raise Conflict(
            msg(
                "audit #%(id)s is superseded by #%(latest)s; open cases from the latest run",
                id=run.id,
                latest=latest[0].id,
            )
        )
    entries = [to_entry(r) for r in repo.entry_rows(s)]
    opened = _open_cases(s, registry, run, entries)
    run.cases_opened += opened
    s.flush()
    _audit(s, "catalog.audit.cases", "catalog_audit_run", run.id, {"opened": opened})
    return run


def _run_payload(run: CatalogAuditRun) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "applications": run.applications,
        "datasets": run.datasets,
        "problems": run.problems,
        "fixed": run.fixed,
        "cases_opened": run.cases_opened,
    }


def list_runs(s: Session) -> list[CatalogAuditRun]:
    return repo.audit_runs(s)


def get_run(s: Session, run_id: int) -> CatalogAuditRun:
    return repo.audit_run(s, run_id)


def run_findings(
    s: Session, run_id: int, status: str | None = None, rule_id: str | None = None
) -> list[CatalogFinding]:
    repo.audit_run(s, run_id)
    return repo.findings(s, run_id, status, rule_id)


def report_data(s: Session, run_id: int, lang: str = texts.DEFAULT_LANG) -> report.ReportData:
    """Everything a report shows, in ``lang`` (zh-CN or en), for the HTML, Excel and PDF writers and the
    console."""
    from gongzhi.cases.models import Case

    run = repo.audit_run(s, run_id)
    fs = repo.findings(s, run_id)
    recs = repo.records_by_ids(s, sorted({f.record_id for f in fs}))
    fixed = Counter(f.rule_id for f in repo.fixed_in(s, run_id))
    case_ids = sorted({f.case_id for f in fs if f.case_id})
    numbers: dict[int, str] = {}
    if case_ids:
        numbers = {
            i: n for i, n in s.execute(select(Case.id, Case.number).where(Case.id.in_(case_ids))).all()
        }
    by_rule = [
        report.RuleCount(rid, rules.RULES[rid].title(lang), _severity(run, rid), n, fixed.get(rid, 0))
        for rid, n in run.summary.get("by_rule", {}).items()
    ]
    by_dept = [
        report.DepartmentCount(d, c["applications"], c["datasets"], c["problems"])
        for d, c in run.summary.get("by_department", {}).items()
    ]
    region = s.get_one(Region, run.region_id)
    return report.ReportData(
        lang=lang,
        region=region.name,
        run_id=run.id,
        run_at=run.created_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
        applications=run.applications,
        datasets=run.datasets,
        problems=run.problems,
        records_with_problems=run.records_with_problems,
        fixed=run.fixed,
        by_rule=by_rule,
        by_department=by_dept,
        findings=[
            report.FindingRow(
                recs[f.record_id].name,
                recs[f.record_id].provider,
                f.rule_id,
                f.severity,
                finding_text(f, lang),
                f.status,
                numbers.get(f.case_id, "") if f.case_id else "",
            )
            for f in fs
        ],
    )


def _severity(run: CatalogAuditRun, rule_id: str) -> str:
    return str(run.rules.get(rule_id, {}).get("severity", rules.RULES[rule_id].severity))


def render_report(
    s: Session, run_id: int, fmt: str, template: int | None = None, lang: str = texts.DEFAULT_LANG
) -> tuple[bytes, str]:
    """The run's report in ``fmt`` and ``lang``, laid out by the region's report template (``template``:
    the id of a report-template subscription; default the latest one, else the built-in layout)."""
    if fmt not in report.WRITERS:
        raise InvalidInput(
            msg(
                "unknown report format %(fmt)r; one of %(formats)s",
                fmt=fmt,
                formats=", ".join(report.WRITERS),
            )
        )
    layout = instances.report_layout(s, template)
    return report.WRITERS[fmt](report_data(s, run_id, lang), layout), report.FORMATS[fmt]


# --- duplicate systems (重复建设) -------------------------------------------------------------------


def scan_duplicates(s: Session, kind: str = "application", threshold: float = 0.6) -> dict[str, Any]:
    """Score every pair of the region's systems; keep verdicts, mark pairs no longer found stale."""
    require_role(scope_of(s), *EDITORS)
    rid = _region_id(s)
    started = time.perf_counter()
    rows = repo.entry_rows(s, kind)
    systems = [
        dupes.System(
            str(r.id), r.name, r.summary, r.functions, tuple(i["name"] for i in r.items or ()), r.provider
        )
        for r in rows
    ]
    found = dupes.find_duplicates(
        systems, prefixes=[*JURISDICTIONS, *repo.jurisdiction_names(s)], threshold=threshold
    )
    known = repo.duplicate_pairs(s)
    now, seen, new = utcnow(), set(), 0
    for c in found:
        a, b = sorted((int(systems[c.i].key), int(systems[c.j].key)))
        seen.add((a, b))
        pair = known.get((a, b))
        if pair is None:
            pair = CatalogDuplicatePair(region_id=rid, record_a_id=a, record_b_id=b, score=c.score)
            s.add(pair)
            new += 1
        pair.score, pair.evidence, pair.last_seen_at, pair.stale = c.score, _evidence(c, systems), now, False
    scanned = {r.id for r in rows}
    for key, pair in known.items():
        if key not in seen and key[0] in scanned:
            pair.stale = True
    s.flush()
    result = {
        "systems": len(systems),
        "pairs": len(found),
        "new": new,
        "seconds": round(time.perf_counter() - started, 3),
    }
    _audit(s, "catalog.dupes.scan", "catalog", rid, {"kind": kind, "threshold": threshold, **result})
    return result


def _evidence(c: dupes.Candidate, systems: Sequence[dupes.System]) -> dict[str, Any]:
    a, b = systems[c.i], systems[c.j]
    if int(a.key) > int(b.key):
        a, b = b, a
    return {
        "name_similarity": c.name_similarity,
        "text_similarity": c.text_similarity,
        "item_similarity": c.item_similarity,
        "shared_items": list(c.shared_items),
        "normalised_names": sorted(c.normalised_names),
        "same_provider": a.provider == b.provider,
    }


def list_duplicates(
    s: Session, verdict: str | None = None, include_stale: bool = False, limit: int = 200
) -> list[tuple[CatalogDuplicatePair, CatalogRecord, CatalogRecord]]:
    """Pairs best first with both records, for side-by-side review."""
    pairs = repo.list_duplicate_pairs(s, verdict, include_stale, limit)
    recs = repo.records_by_ids(s, sorted({p.record_a_id for p in pairs} | {p.record_b_id for p in pairs}))
    rows = [(p, recs[p.record_a_id], recs[p.record_b_id]) for p in pairs]
    return [(p, a, b) for p, a, b in rows if a.archived_at is None and b.archived_at is None]


def set_verdict(s: Session, pair_id: int, verdict: str, note: str = "") -> CatalogDuplicatePair:
    require_role(scope_of(s), *EDITORS)
    pair = repo.duplicate_pair(s, pair_id)
    pair.verdict, pair.note = verdict, note
    pair.reviewed_by, pair.reviewed_at = scope_of(s).username, utcnow()
    s.flush()
    _audit(s, "catalog.dupes.verdict", "catalog_duplicate_pair", pair.id, {"verdict": verdict})
    return pair


def system_scope(region_id: int) -> Scope:
    """The scope the CLI acts in for one region (full rights, one region's rows)."""
    return Scope(region_id=region_id, role=Role.ADMIN, username="cli")


def parse_date_arg(value: str | None) -> date | None:
    return datetime.strptime(value, "%Y-%m-%d").date() if value else None
