"""``gongzhi intake …``: categories, retraining (cron-able), hot topics, imports, Open311 keys, statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.core import service as core
from gongzhi.db import Scope, make_engine, make_session_factory, unit_of_work
from gongzhi.registry import load_modules
from gongzhi.settings import get_settings

app = typer.Typer(help="Citizen requests (民情民意): routing, duplicates, hot topics, imports")
out = Console()


def _factory() -> sessionmaker[Session]:
    return make_session_factory(make_engine(get_settings().database_url))


def _scope(region: str) -> tuple[sessionmaker[Session], Scope]:
    factory = _factory()
    with unit_of_work(factory, Scope.for_system()) as s:
        rid = core.get_region(s, region).id
    return factory, Scope(region_id=rid, system=True, username="cli")


@app.command("seed")
def seed(region: str) -> None:
    """Install the starter category tree (15 categories, keywords, departments) in REGION."""
    from gongzhi.modules.intake import service

    factory, scope = _scope(region)
    with unit_of_work(factory, scope) as s:
        assert scope.region_id is not None
        cats = service.seed_categories(s, scope.region_id)
    out.print(f"{len(cats)} categories in {region}")


@app.command("retrain")
def retrain(
    region: Annotated[
        str | None, typer.Option(help="only this region (its code, administrative code or id)")
    ] = None,
    if_due: Annotated[
        bool, typer.Option("--if-due", help="only regions with enough new corrections")
    ] = False,
) -> None:
    """Retrain the routing classifier (run from cron for scheduled retraining)."""
    from gongzhi.modules.intake import jobs, routing

    if region is None and if_due:
        out.print(f"retrained regions: {jobs.retrain_due_regions(_factory())}")
        return
    if region is None:
        raise typer.BadParameter("name a --region, or use --if-due for every region")
    factory, scope = _scope(region)
    with unit_of_work(factory, scope) as s:
        assert scope.region_id is not None
        if if_due and not routing.retrain_due(s, scope.region_id):
            out.print("not due")
            return
        m = routing.retrain(s, scope.region_id, trigger="cli")
        out.print(f"model {m.id}: {m.examples} labelled examples, {len(m.classes)} classes, {m.metrics}")


@app.command("hot-topics")
def hot_topics(region: str) -> None:
    """Recompute the hot-topic table and raise early warnings."""
    from gongzhi.modules.intake import hot

    factory, scope = _scope(region)
    with unit_of_work(factory, scope) as s:
        assert scope.region_id is not None
        topics = hot.refresh(s, load_modules(), scope.region_id)
        table = Table(title=f"热点问题 {region}")
        for col in ("rank", "heat", "requests", "place", "description", "alert"):
            table.add_column(col)
        for t in topics[:20]:
            table.add_row(
                str(t.rank), f"{t.heat:.1f}", str(t.requests), t.place, t.description, str(t.alert_id or "")
            )
    out.print(table)


@app.command("import")
def import_file(
    region: str,
    kind: str,
    file: Path,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check only")] = False,
) -> None:
    """Import visit records or hotline tickets (KIND: visit | hotline) from .xlsx or .csv, all or nothing."""
    from gongzhi.modules.intake import imports

    factory, scope = _scope(region)
    with unit_of_work(factory, scope) as s:
        rec = imports.run(
            s,
            load_modules(),
            kind,
            file.name,
            file.read_bytes(),
            secret=get_settings().secret_key,
            dry_run=dry_run,
        )
        for e in rec.errors:
            out.print(f"row {e['row']} {e['column']}: {e['message']}")
        out.print(f"{rec.status}: {rec.imported} of {rec.rows} rows imported")
    if rec.status == "rejected":
        raise typer.Exit(1)


@app.command("api-key")
def api_key(region: str, name: str) -> None:
    """Create an Open311 api_key for a third-party app; printed once."""
    from gongzhi.modules.intake import service

    factory, scope = _scope(region)
    with unit_of_work(factory, scope) as s:
        _, full = service.create_api_key(s, name)
    out.print(full)


@app.command("stats")
def stats(region: str, month: str) -> None:
    """Monthly statistics per department (MONTH like 2026-11)."""
    from gongzhi.modules.intake import stats as stats_mod

    factory, scope = _scope(region)
    with unit_of_work(factory, scope) as s:
        assert scope.region_id is not None
        st = stats_mod.monthly(s, scope.region_id, month)
    table = Table(title=f"{region} {month}")
    for col in ("department", "received", "on time", "overdue", "rated", "satisfaction"):
        table.add_column(col)
    for r in [*st.departments, st.total]:
        table.add_row(
            r.department, str(r.received), str(r.on_time), str(r.overdue), str(r.rated), str(r.satisfaction)
        )
    out.print(table)
    out.print(f"resolution latency (days): {st.latency_days}")
