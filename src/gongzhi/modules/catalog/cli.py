"""``gongzhi catalog import|audit|export|dupes``: the catalog's use cases from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.core import service as core
from gongzhi.db import Scope, make_engine, make_session_factory, unit_of_work
from gongzhi.modules.catalog import service
from gongzhi.registry import load_modules
from gongzhi.settings import get_settings

app = typer.Typer(help="Resource catalog: import, audit, export, duplicate systems", no_args_is_help=True)
out = Console()
Region = Annotated[
    str, typer.Option("--region", "-r", help="region: its code, administrative code (330105) or id")
]


def _factory() -> sessionmaker[Session]:
    return make_session_factory(make_engine(get_settings().database_url))


def _scope(factory: sessionmaker[Session], code: str) -> Scope:
    with unit_of_work(factory, Scope.for_system()) as s:
        return service.system_scope(core.get_region(s, code).id)


@app.command("import")
def import_(
    file: Path,
    region: Region,
    fmt: Annotated[
        str, typer.Option("--format", help="auto, cn-opendata, datajson, codejson, native, csv, xlsx")
    ] = "auto",
) -> None:
    """Import a catalog file (Excel, CSV, JSON, data.json, code.json) into a region, with a row report."""
    factory = _factory()
    with unit_of_work(factory, _scope(factory, region)) as s:
        rep = service.import_catalog(s, file.read_bytes(), file.name, fmt)
    out.print(
        f"{rep.format}: {rep.rows} rows, {rep.created} created, {rep.updated} updated, "
        f"{rep.unchanged} unchanged, {rep.skipped} skipped, {len(rep.errors)} row errors"
    )
    for e in rep.errors[:50]:
        out.print(f"  row {e.row} {e.field}: {e.message}")
    if len(rep.errors) > 50:
        out.print(f"  … {len(rep.errors) - 50} more")


@app.command()
def audit(
    region: Region,
    shacl: Annotated[bool, typer.Option(help="also validate the DCAT export with DCAT-AP SHACL")] = False,
    cases: Annotated[bool, typer.Option(help="open rectification cases for new problems")] = False,
    ruleset: Annotated[int | None, typer.Option(help="rule set id (default: the region's default)")] = None,
    date: Annotated[str | None, typer.Option(help="reference date YYYY-MM-DD for freshness")] = None,
    report: Annotated[Path | None, typer.Option(help="write the report (.html, .xlsx or .pdf)")] = None,
) -> None:
    """Audit a region's catalog and print the problems per rule."""
    factory = _factory()
    with unit_of_work(factory, _scope(factory, region)) as s:
        run = service.run_audit(
            s,
            load_modules(),
            ruleset_id=ruleset,
            shacl=shacl,
            open_cases=cases,
            reference_date=service.parse_date_arg(date),
        )
        data = service.report_data(s, run.id)
        if report is not None:
            body, _ = service.render_report(s, run.id, report.suffix.lstrip(".") or "html")
            report.write_bytes(body)
    out.print(data.headline_zh)
    out.print(data.headline_en)
    table = Table(title=f"audit run {run.id}")
    for col in ("rule", "severity", "problems", "fixed"):
        table.add_column(col)
    for c in data.by_rule:
        table.add_row(c.rule_id, c.severity, str(c.problems), str(c.fixed))
    out.print(table)


@app.command()
def export(
    region: Region,
    target: Path,
    fmt: Annotated[str, typer.Option("--format", help="jsonld, ttl, datajson or xlsx")] = "jsonld",
) -> None:
    """Export a region's catalog as DCAT (JSON-LD, Turtle), data.json or Excel."""
    factory = _factory()
    with unit_of_work(factory, _scope(factory, region)) as s:
        body, _ = service.export_catalog(s, fmt)
    target.write_bytes(body)
    out.print(f"{len(body)} bytes written to {target}")


@app.command()
def dupes(
    region: Region,
    kind: Annotated[str, typer.Option(help="application or dataset")] = "application",
    threshold: Annotated[float, typer.Option(help="minimum combined similarity 0–1")] = 0.6,
    show: Annotated[int, typer.Option(help="pairs to print")] = 20,
) -> None:
    """Scan for duplicate systems (重复建设) and print the best pairs with their evidence."""
    factory = _factory()
    with unit_of_work(factory, _scope(factory, region)) as s:
        result = service.scan_duplicates(s, kind, threshold)
        pairs = service.list_duplicates(s, limit=show)
        rows = [(p.score, p.verdict, a.name, a.provider, b.name, b.provider, p.evidence) for p, a, b in pairs]
    out.print(
        f"{result['systems']} systems, {result['pairs']} pairs ({result['new']} new) in {result['seconds']} s"
    )
    for score, verdict, an, ap, bn, bp, ev in rows:
        out.print(
            f"{score:.2f} [{verdict}] {an} ({ap})  ⇄  {bn} ({bp})  shared items: {ev.get('shared_items')}"
        )
