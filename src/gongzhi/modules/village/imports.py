"""Import and export of village projects and supervision visits (the shape of intake's import): every row
is checked first; on any error nothing is created and the report names each row and column."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import takewhile
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from gongzhi.db import utcnow
from gongzhi.errors import InvalidInput, msg
from gongzhi.kit import sheets, validation
from gongzhi.kit.workdays import SHANGHAI
from gongzhi.modules.village import service
from gongzhi.modules.village.io.tables import Row, TableError, read_rows
from gongzhi.modules.village.models import Project, Supervisor, Village, Visit
from gongzhi.modules.village.schemas import ProjectIn, VisitIn
from gongzhi.registry import Registry

KINDS = ("projects", "visits")
YES = {"是", "有", "yes", "y", "true", "1"}
NO = {"", "否", "无", "no", "n", "false", "0"}
STATUSES = {"计划": "planned", "在建": "in_progress", "完工": "completed", "停工": "suspended"}
STATUS_ZH = {v: k for k, v in STATUSES.items()}
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日")
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", *DATE_FORMATS)


@dataclass
class ImportReport:
    kind: str
    filename: str
    sha256: str
    status: str = "checking"  # rejected | checked (dry run) | imported
    rows: int = 0
    imported: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


class _Rows:
    """Row-by-row checking against the villages, projects and supervisors the caller may use."""

    def __init__(self, s: Session, kind: str) -> None:
        self.kind = kind
        villages = service.rows(s, Village)
        self.villages = {v.code: v.id for v in villages} | {v.name: v.id for v in villages}
        self.projects = {(p.village_id, p.name): p.id for p in service.rows(s, Project)}
        self.supervisors = {x.name: x.id for x in service.rows(s, Supervisor)}
        self.errors: list[dict[str, Any]] = []

    def err(self, row: Row, column: str, message: str) -> None:
        """A problem of one cell (:meth:`.sheets.Row.problem`)."""
        self.errors.append(row.problem(column, message))

    def village(self, row: Row) -> int | None:
        raw = row.values.get("village", "")
        vid = self.villages.get(raw)
        if vid is None:
            why = msg("not a village you may use (give its code or name)") if raw else msg("required")
            self.err(row, "village", why)
        return vid

    def day(self, row: Row, col: str) -> date | None:
        raw = row.values.get(col, "")
        if not raw:
            return None
        for fmt in DATE_FORMATS:
            try:
                return datetime.strptime(raw.split(" ")[0], fmt).date()
            except ValueError:
                continue
        self.err(row, col, msg("not a date such as 2026-11-28"))
        return None

    def moment(self, row: Row, col: str) -> datetime | None:
        raw = row.values.get(col, "")
        if not raw:
            return None
        for fmt in TIME_FORMATS:
            try:
                at = datetime.strptime(raw, fmt).replace(tzinfo=SHANGHAI)
            except ValueError:
                continue
            if at > utcnow():
                self.err(row, col, msg("lies in the future"))
            return at
        self.err(row, col, msg("not a date/time such as 2026-11-28 09:30"))
        return None

    def validated(self, row: Row, model: type[ProjectIn] | type[VisitIn], fields: dict[str, Any]) -> Any:
        try:
            return model(**fields)
        except ValidationError as exc:
            # this row's problems so far: the tail of the list, as rows are checked in order
            told = {e["column"] for e in takewhile(lambda e: e["row"] == row.number, reversed(self.errors))}
            for e in exc.errors():
                column = str(e["loc"][0]) if e["loc"] else ""
                if column not in told:  # a value refused above reaches the model as missing
                    self.err(row, column, validation.problem(e))
            return None


def _project(c: _Rows, row: Row, seen: set[tuple[int, str]]) -> ProjectIn | None:
    v, before = row.values, len(c.errors)
    vid = c.village(row)
    fields: dict[str, Any] = {"name": v.get("name", ""), "contractor": v.get("contractor", "")}
    try:
        fields["budget_yuan"] = float((v.get("budget_yuan") or "0").replace(",", ""))
    except ValueError:
        c.err(row, "budget_yuan", msg("not a number"))
    fields["starts_on"], fields["ends_on"] = c.day(row, "starts_on"), c.day(row, "ends_on")
    if fields["starts_on"] and fields["ends_on"] and fields["ends_on"] < fields["starts_on"]:
        c.err(row, "ends_on", msg("ends before it starts"))
    status = v.get("status", "")
    if status:
        fields["status"] = STATUSES.get(status, status)
    if vid is not None and fields["name"]:
        key = (vid, fields["name"])
        if key in c.projects or key in seen:
            name = fields["name"]
            c.err(
                row,
                "name",
                msg("%(name)s already exists in this village", name=name)
                if key in c.projects
                else msg("%(name)s appears twice in this file", name=name),
            )
        seen.add(key)
    data = c.validated(row, ProjectIn, {**fields, "village_id": vid or 0})
    return data if len(c.errors) == before and vid is not None else None


def _visit(c: _Rows, row: Row) -> VisitIn | None:
    v, before = row.values, len(c.errors)
    vid = c.village(row)
    fields: dict[str, Any] = {"findings": v.get("findings", ""), "visited_at": c.moment(row, "visited_at")}
    if v.get("project") and vid is not None:
        fields["project_id"] = c.projects.get((vid, v["project"]))
        if fields["project_id"] is None:
            c.err(row, "project", msg("no project “%(project)s” in this village", project=v["project"]))
    if v.get("supervisor"):
        fields["supervisor_id"] = c.supervisors.get(v["supervisor"])
        if fields["supervisor_id"] is None:
            c.err(row, "supervisor", msg("unknown supervisor “%(name)s”", name=v["supervisor"]))
    issue = v.get("issue", "").lower()
    if issue not in YES | NO:
        c.err(row, "issue", msg("是 or 否 (yes or no)"))
    fields["issue"] = issue in YES
    if fields["issue"] and not fields["findings"].strip():
        c.err(row, "findings", msg("an issue needs findings"))
    data = c.validated(row, VisitIn, {**fields, "village_id": vid or 0})
    return data if len(c.errors) == before and vid is not None else None


def check(s: Session, kind: str, filename: str, data: bytes) -> tuple[list[Any], list[dict[str, Any]], int]:
    """Parsed rows, the errors of every row, and how many rows the file had."""
    try:
        rows = read_rows(data, filename, kind)
    except TableError as exc:
        return [], [sheets.problem(1, "", exc.args[0])], 0
    c, parsed, seen = _Rows(s, kind), [], set[tuple[int, str]]()
    for row in rows:
        item = _project(c, row, seen) if kind == "projects" else _visit(c, row)
        if item is not None:
            parsed.append((row, item))
    if not rows:
        c.errors.append(sheets.problem(2, "", msg("the file has no data rows")))
    return [x for _, x in parsed], c.errors, len(rows)


def run(
    s: Session,
    registry: Registry,
    kind: str,
    filename: str,
    data: bytes,
    *,
    dry_run: bool = False,
    max_bytes: int | None = None,
) -> ImportReport:
    """Check every row; on any error create nothing and report each problem; else create every row."""
    if kind not in KINDS:
        raise InvalidInput(msg("kind must be one of %(kinds)s", kinds=", ".join(KINDS)))
    rid = service._region(s)
    report = ImportReport(kind, filename[:200], hashlib.sha256(data).hexdigest())
    big = sheets.too_large(data, max_bytes)
    if big:
        parsed: list[Any] = []
        report.errors = [sheets.problem(1, "", big)]
    else:
        parsed, report.errors, report.rows = check(s, kind, filename, data)
    report.status = "rejected" if report.errors else ("checked" if dry_run else "imported")
    if report.status == "imported":
        for item in parsed:
            if kind == "projects":
                service.create_project(s, item)
            else:
                service.record_visit(s, registry, item)
        report.imported = len(parsed)
    service._record(
        s,
        rid,
        f"import.{kind}",
        "village_import",
        report.sha256[:16],
        {
            "filename": report.filename,
            "status": report.status,
            "rows": report.rows,
            "errors": report.errors[:50],
        },
    )
    return report


def export_rows(s: Session, kind: str) -> list[list[object]]:
    """The rows of an export, in the import's columns (what the caller may see)."""
    names = {v.id: v.code for v in service.rows(s, Village)}
    projects = service.rows(s, Project)
    if kind == "projects":
        return [
            [
                names.get(p.village_id, ""),
                p.name,
                p.budget_fen / 100,
                p.contractor,
                p.starts_on.isoformat() if p.starts_on else "",
                p.ends_on.isoformat() if p.ends_on else "",
                STATUS_ZH.get(p.status, p.status),
            ]
            for p in projects
        ]
    titles = {p.id: p.name for p in projects}
    people = {x.id: x.name for x in service.rows(s, Supervisor)}
    return [
        [
            names.get(v.village_id, ""),
            titles.get(v.project_id or 0, ""),
            v.visited_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
            people.get(v.supervisor_id or 0, ""),
            v.findings,
            "是" if v.issue else "否",
            len(v.photos),
        ]
        for v in service.rows(s, Visit)
    ]
