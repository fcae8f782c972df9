"""The ``gongzhi`` command: serve, worker, demo, db, regions, users, tokens, audit, files, backup, restore."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from gongzhi import backup as backup_mod
from gongzhi import migrate
from gongzhi.core import audit
from gongzhi.core import service as core
from gongzhi.core.models import Region
from gongzhi.db import Scope, make_engine, make_session_factory, unit_of_work
from gongzhi.errors import DomainError
from gongzhi.registry import load_modules
from gongzhi.settings import get_settings

app = typer.Typer(help="gongzhi 共治 — closed-loop digital governance", no_args_is_help=True)
db_app = typer.Typer(help="Database schema")
region_app = typer.Typer(help="Regions and pairings")
user_app = typer.Typer(help="Users and roles")
token_app = typer.Typer(help="API tokens")
audit_app = typer.Typer(help="Audit trail")
files_app = typer.Typer(help="The evidence file store")
app.add_typer(db_app, name="db")
app.add_typer(region_app, name="region")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")
app.add_typer(files_app, name="files")
out = Console()
err = Console(stderr=True)


def _factory() -> sessionmaker[Session]:
    return make_session_factory(make_engine(get_settings().database_url))


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def _region_id(s: Session, code: str) -> int:
    try:
        return core.get_region(s, code).id
    except DomainError as exc:
        _fail(exc.detail)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to the configured database."""
    migrate.upgrade(get_settings().database_url)
    out.print("database is at the newest schema")


@db_app.command("check")
def db_check() -> None:
    """Fail when the models and the migrations disagree."""
    diffs = migrate.check_in_sync(get_settings().database_url)
    if diffs:
        for d in diffs:
            err.print(str(d))
        _fail("models and migrations are out of sync: run alembic revision --autogenerate")
    out.print("migrations are in sync with the models")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
    worker: Annotated[bool, typer.Option(help="run the background worker in this process")] = True,
    workers: Annotated[
        int, typer.Option(min=1, help="server processes; with several, run `gongzhi worker` beside them")
    ] = 1,
) -> None:
    """Serve the API and console (the embedded default also runs the worker).

    With ``--workers N`` uvicorn runs N processes on one socket; each keeps its own configuration cache,
    checked against the database on every request, so a change made through one is seen by all. The
    embedded worker runs only with a single process.
    """
    import os

    import uvicorn

    from gongzhi.app import create_app
    from gongzhi.serving import uvicorn_options

    settings = get_settings()
    migrate.upgrade(settings.database_url)
    host, port = host or settings.host, port or settings.port
    options = uvicorn_options(workers) | {"host": host, "port": port, "log_level": "info"}
    if workers > 1:
        os.environ["GONGZHI_EMBEDDED_WORKER"] = "false"
        out.print(f"{workers} server processes; outbox delivery and the SLA sweep need `gongzhi worker`")
        uvicorn.run("gongzhi.app:create_app", factory=True, **options)
        return
    os.environ.setdefault("GONGZHI_EMBEDDED_WORKER", "true" if worker else "false")
    settings.embedded_worker = worker
    uvicorn.run(create_app(settings), **options)


@app.command("worker")
def run_worker() -> None:
    """Run outbox delivery and the SLA sweep as a separate process (production)."""
    from gongzhi import worker as worker_mod

    settings = get_settings()
    stop = threading.Event()
    out.print("worker running; Ctrl-C stops it")
    try:
        worker_mod.run(_factory(), load_modules(), stop, settings.worker_interval_s)
    except KeyboardInterrupt:
        stop.set()


@app.command()
def demo(
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="serve after loading")] = True,
    cases: Annotated[int, typer.Option(help="cases per region")] = 120,
) -> None:
    """Create the demo database (three paired regions) if it is empty, then serve it."""
    from gongzhi import demo as demo_mod

    settings = get_settings()
    migrate.upgrade(settings.database_url)
    factory = _factory()
    with unit_of_work(factory, Scope.for_system()) as s:
        empty = s.execute(select(Region.id)).first() is None
    if empty:
        with Progress(console=out) as bar, unit_of_work(factory, Scope.for_system()) as s:
            task = bar.add_task("loading demo cases", total=cases * len(demo_mod.REGIONS))
            counts = demo_mod.load(s, load_modules(), cases, progress=lambda n: bar.advance(task, n))
        out.print(f"demo loaded: {counts}")
        from gongzhi.kit.filestore import FileStore
        from gongzhi.modules.intake import demo as intake_demo
        from gongzhi.modules.pv import demo as pv_demo
        from gongzhi.modules.village import demo as village_demo

        with out.status("citizen requests through the intake path"):
            n = intake_demo.load_demo(factory, load_modules(), settings.secret_key)
            out.print(f"demo loaded: {{'intake_requests': {n}}}")
        with out.status("PV: a rooftop plant and its first inspection flight, analysed"):
            store = FileStore(settings.files_dir, settings.max_upload_bytes)
            out.print(f"demo loaded: {pv_demo.load_demo(factory, load_modules(), store)}")
        with out.status("village supervision: stations, projects, 四议两公开, ledgers, consultations"):
            village = village_demo.load_demo(factory, load_modules(), settings.secret_key)
            out.print(f"demo loaded: {village}")
    with unit_of_work(factory, Scope.for_system()) as s:
        _print_logins(demo_mod.logins(s), demo_mod.PASSWORD)
    out.print(f"\n[bold]gongzhi 共治[/bold] at http://{settings.host}:{settings.port}/  (API docs: /docs)")
    if serve_after:
        serve(None, None, True)


def _print_logins(rows: list[tuple[str, str, str]], password: str) -> None:
    table = Table(title=f"demo logins (password: {password})")
    for col in ("username", "role", "region"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    out.print(table)


@region_app.command("list")
def region_list() -> None:
    with unit_of_work(_factory(), Scope.for_system()) as s:
        for r in core.visible_regions(s):
            out.print(f"{r.id}\t{r.code}\t{r.name}\tpaired with {sorted(core.paired_region_ids(s, r.id))}")


@region_app.command("create")
def region_create(code: str, name: str, prefix: str, name_en: str = "", admin_code: str = "") -> None:
    with unit_of_work(_factory(), Scope.for_system()) as s:
        r = core.create_region(s, code, name, prefix, name_en=name_en, admin_code=admin_code)
        out.print(f"region {r.code} created with id {r.id}")


@region_app.command("pair")
def region_pair(a: str, b: str, note: str = "") -> None:
    with unit_of_work(_factory(), Scope.for_system()) as s:
        p = core.pair_regions(s, _region_id(s, a), _region_id(s, b), note)
        out.print(f"pairing {p.id} active")


@user_app.command("create")
def user_create(
    region: str,
    username: str,
    display_name: str,
    role: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
) -> None:
    with unit_of_work(_factory(), Scope.for_system()) as s:
        rid = _region_id(s, region)
        u = core.create_user(s, username, display_name, password, role, region_id=rid)
        out.print(f"user {u.username} ({role}) created in {region}")


@token_app.command("create")
def token_create(region: str, username: str, name: str, role: str) -> None:
    """Create an API token for a user in a region; it is printed once."""
    from gongzhi.core.models import User

    with unit_of_work(_factory(), Scope.for_system()) as s:
        rid = _region_id(s, region)
        user = s.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            _fail(f"no user {username!r}")
        s.info["scope"] = core.scope_for(s, user, rid)
        _, full = core.create_token(s, name, role)
    out.print(full)


@token_app.command("revoke")
def token_revoke(token_id: int) -> None:
    with unit_of_work(_factory(), Scope.for_system()) as s:
        core.revoke_token(s, token_id)
    out.print(f"token {token_id} revoked")


@audit_app.command("verify")
def audit_verify(
    region: Annotated[
        str | None, typer.Option(help="only this region (its code, administrative code or id)")
    ] = None,
) -> None:
    """Re-derive every hash chain and report edited, deleted or reordered entries."""
    with unit_of_work(_factory(), Scope.for_system()) as s:
        rid = _region_id(s, region) if region else None
        links, problems = audit.verify(s, rid)
    for p in problems:
        err.print(f"[red]region {p.region_id} link {p.seq}:[/red] {p.problem}")
    if problems:
        _fail(f"{len(problems)} problem(s) in {links} audit links")
    out.print(f"audit chain intact: {links} links verified")


@files_app.command("prune")
def files_prune(
    older_than_hours: Annotated[
        float, typer.Option(help="keep files written more recently than this (uploads in progress)")
    ] = 24.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count, delete nothing")] = False,
) -> None:
    """Delete stored files no record holds (left by refused uploads) and unfinished writes."""
    from gongzhi import files as files_mod
    from gongzhi.kit.filestore import FileStore

    settings = get_settings()
    if older_than_hours < 0:
        _fail("--older-than-hours must not be negative")
    store = FileStore(settings.files_dir, settings.max_upload_bytes)
    report = files_mod.prune(_factory(), store, older_than_hours * 3600, dry_run=dry_run)
    mb = report.orphan_bytes / 1e6
    out.print(
        f"{report.orphans} stored file(s) no record holds ({mb:.1f} MB), {report.unfinished} unfinished "
        f"write(s), older than {older_than_hours:g} h; "
        f"{report.kept_referenced} older file(s) kept: a record holds them"
    )
    if dry_run:
        out.print("dry run: nothing deleted")
    else:
        out.print(f"deleted {report.removed} file(s), {report.removed_bytes / 1e6:.1f} MB")


@app.command()
def backup(target: Path) -> None:
    """Write a consistent backup (database and evidence files) to TARGET (.tar.gz)."""
    settings = get_settings()
    backup_mod.backup(settings.database_url, settings.files_dir, target)
    out.print(f"backup written to {target}")


@app.command()
def restore(
    source: Path, yes: Annotated[bool, typer.Option("--yes", help="overwrite without asking")] = False
) -> None:
    """Replace the database and evidence files with the backup in SOURCE."""
    settings = get_settings()
    if not yes and not typer.confirm(f"replace {settings.database_url} with {source}?"):
        raise typer.Exit(1)
    try:
        backup_mod.restore(settings.database_url, settings.files_dir, source)
    except backup_mod.BackupError as exc:
        _fail(str(exc))
    out.print("restored")


def _core_names() -> set[str]:
    names = {g.name for g in app.registered_groups if g.name}
    for c in app.registered_commands:
        if c.name:
            names.add(c.name)
        elif c.callback is not None:
            names.add(c.callback.__name__.replace("_", "-"))
    return names


_CORE = _core_names()


def _mount_modules() -> None:
    mounted = {g.name for g in app.registered_groups}
    for name, sub_app in load_modules().cli_apps.items():
        if name not in mounted:
            app.add_typer(sub_app, name=name)


def main() -> None:
    # A core command needs no module: importing them all (pandas, scipy, scikit-learn, openpyxl and the
    # modules' routers) took about 3 s of the 4.5 s that `gongzhi db upgrade` or `gongzhi audit verify` cost
    # to start. Commands that use the registry (serve, worker, demo) load the modules themselves; module
    # commands, help and unknown names see every module.
    first = sys.argv[1] if len(sys.argv) > 1 else ""
    if first not in _CORE:
        _mount_modules()
    try:
        app()
    except DomainError as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        sys.exit(1)
    except OSError as exc:
        if exc.filename is None:  # not about a file the command was given
            raise
        err.print(f"[red]error:[/red] {exc.filename}: {exc.strerror or exc}")
        sys.exit(1)
    except DBAPIError as exc:
        if not _no_schema(exc):
            raise
        err.print("[red]error:[/red] the database has no gongzhi tables yet: run `gongzhi db upgrade` first")
        sys.exit(1)


def _no_schema(exc: DBAPIError) -> bool:
    """Whether a command failed on a table that is not there (SQLite's message, PostgreSQL's 42P01)."""
    return getattr(exc.orig, "sqlstate", None) == "42P01" or "no such table" in str(exc.orig)
