"""The ``gongzhi`` command, run through its real entry point against databases of the current backend."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import InstrumentedAttribute

from gongzhi import cli
from gongzhi.app import create_app
from gongzhi.cases.models import Case
from gongzhi.core import audit
from gongzhi.core import service as core
from gongzhi.core.models import Pairing, Region, Role, User
from gongzhi.db import Scope, make_engine, make_session_factory, unit_of_work
from gongzhi.settings import Settings, get_settings
from tests.conftest import drop_database, new_database_url
from tests.core._support import committed_database

pytestmark = pytest.mark.backend  # each test opens a database of the chosen backend itself


@dataclass
class Run:
    code: int
    out: str
    err: str


@dataclass
class Gongzhi:
    """Runs ``gongzhi ARGS`` in-process, the way the console script does (``gongzhi.cli:main``)."""

    url: str
    data_dir: Path
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch

    def __call__(self, *args: str, stdin: str = "") -> Run:
        self.monkeypatch.setattr(sys, "argv", ["gongzhi", *args])
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        get_settings.cache_clear()
        self.capsys.readouterr()
        try:
            cli.main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        finally:
            get_settings.cache_clear()
        captured = self.capsys.readouterr()
        return Run(code, captured.out, captured.err)

    def ok(self, *args: str) -> str:
        run = self(*args)
        assert run.code == 0, run.err
        return run.out


def runner(url: str, tmp: Path, capsys: pytest.CaptureFixture[str], mp: pytest.MonkeyPatch) -> Gongzhi:
    mp.setenv("GONGZHI_DATABASE_URL", url)
    mp.setenv("GONGZHI_DATA_DIR", str(tmp / "data"))
    mp.setenv("GONGZHI_ENV", "test")
    return Gongzhi(url, tmp / "data", capsys, mp)


@pytest.fixture
def gongzhi(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Gongzhi]:
    """On an empty database: no schema until a command creates it."""
    url, name = new_database_url(tmp_path)
    try:
        yield runner(url, tmp_path, capsys, monkeypatch)
    finally:
        drop_database(name)


@pytest.fixture(scope="module")
def prepared_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Regions alpha and beta, and alice, a dispatcher of alpha; the commands run on it change nothing."""
    with committed_database(tmp_path_factory.mktemp("cli")) as db:
        with unit_of_work(db.factory, Scope.for_system()) as s:
            alpha = core.create_region(s, "alpha", "甲区", "AA").id
            core.create_region(s, "beta", "乙县", "BB")
            core.create_user(s, "alice", "Alice", "correct horse", Role.DISPATCHER, region_id=alpha)
        yield db.url


def count(url: str, column: InstrumentedAttribute[int]) -> int:
    engine = make_engine(url)
    try:
        with unit_of_work(make_session_factory(engine), Scope.for_system()) as s:
            return s.scalars(select(func.count(column))).one()
    finally:
        engine.dispose()


def test_demo_loads_three_paired_regions_once_and_prints_the_logins(gongzhi: Gongzhi) -> None:
    first = gongzhi.ok("demo", "--no-serve", "--cases", "5")
    assert "demo loaded: {'regions': 3, 'cases': 15" in first
    for login in ("gs_admin", "ly_dispatcher", "zh_viewer", "gs_transport", "gs_village", "ly_village"):
        assert login in first
    assert "gongzhi-demo" in first  # the demo password
    assert "{'intake_requests': 90}" in first and "'pv_inspections': 1" in first
    assert "'village_villages': 6" in first
    figures = [count(gongzhi.url, c) for c in (Region.id, Pairing.id, Case.id, User.id)]
    # 5 staff cases per region, 30 citizen requests per region, 3 village cases (2 findings, 1 opinion);
    # 10 users per region and 2 supervisor logins limited to their villages
    assert figures == [3, 3, 15 + 90 + 3, 32]

    second = gongzhi.ok("demo", "--no-serve", "--cases", "5")

    assert "demo loaded" not in second
    assert "gs_admin" in second
    assert [count(gongzhi.url, c) for c in (Region.id, Pairing.id, Case.id, User.id)] == figures
    engine = make_engine(gongzhi.url)
    with unit_of_work(make_session_factory(engine), Scope.for_system()) as s:
        links, problems = audit.verify(s)
    engine.dispose()
    assert problems == [] and links > 15


def test_db_upgrade_creates_the_schema_and_can_run_again(gongzhi: Gongzhi) -> None:
    assert "database is at the newest schema" in gongzhi.ok("db", "upgrade")
    assert "database is at the newest schema" in gongzhi.ok("db", "upgrade")
    engine = make_engine(gongzhi.url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"alembic_version", "regions", "cases", "audit_entries", "outbox_deliveries"} <= tables


def test_regions_are_created_paired_and_listed(gongzhi: Gongzhi) -> None:
    gongzhi.ok("db", "upgrade")
    assert "region alpha created with id 1" in gongzhi.ok("region", "create", "alpha", "甲区", "AA")
    gongzhi.ok("region", "create", "beta", "乙县", "BB", "--name-en", "Beta County")
    gongzhi.ok("region", "create", "gamma", "丙区", "CC")
    assert "active" in gongzhi.ok("region", "pair", "alpha", "beta")

    rows = [line.split() for line in gongzhi.ok("region", "list").splitlines()]

    assert rows == [
        ["1", "alpha", "甲区", "paired", "with", "[2]"],
        ["2", "beta", "乙县", "paired", "with", "[1]"],
        ["3", "gamma", "丙区", "paired", "with", "[]"],
    ]


def test_a_token_created_on_the_command_line_authenticates_against_the_api(gongzhi: Gongzhi) -> None:
    gongzhi.ok("db", "upgrade")
    gongzhi.ok("region", "create", "alpha", "甲区", "AA")
    gongzhi.ok("user", "create", "alpha", "alice", "Alice", "dispatcher", "--password", "correct horse")

    token = gongzhi.ok("token", "create", "alpha", "alice", "ci", "dispatcher").strip()

    assert token.startswith("gzt_") and "\n" not in token
    settings = Settings(
        env="test", database_url=gongzhi.url, data_dir=gongzhi.data_dir, embedded_worker=False
    )
    app = create_app(settings)
    with TestClient(app) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200, me.text
        assert (me.json()["username"], me.json()["role"]) == ("alice", "dispatcher")
        forged = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token[:-2]}xx"})
        assert forged.status_code == 401
    app.state.gongzhi.factory.kw["bind"].dispose()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("region", "pair", "nowhere", "alpha"), "no region 'nowhere'"),
        (("token", "create", "nowhere", "alice", "t", "viewer"), "no region 'nowhere'"),
        (("audit", "verify", "--region", "nowhere"), "no region 'nowhere'"),
        (("token", "create", "alpha", "nobody", "t", "viewer"), "no user 'nobody'"),
        (("token", "create", "beta", "alice", "t", "viewer"), "you have no role in that region"),
        (("token", "create", "alpha", "alice", "t", "admin"), "cannot carry a higher role"),
        (("token", "create", "alpha", "alice", "t", "emperor"), "unknown role 'emperor'"),
        (("user", "create", "alpha", "bob", "Bob", "emperor", "--password", "long enough"), "unknown role"),
        (("region", "create", "alpha", "又一个甲区", "AX"), "region 'alpha' exists already"),
        (("region", "create", "delta", "丁区", "AA"), "case prefix 'AA' is taken by another region"),
        (("token", "revoke", "999"), "no such token"),
        (("restore", "no-such-backup.tar.gz", "--yes"), "cannot read backup"),
        (("backup", "/dev/null/b.tar.gz"), "error: /dev/null: "),
        (("catalog", "import", "no-such-catalog.csv", "-r", "alpha"), "no-such-catalog.csv: No such file"),
        (("catalog", "export", "/dev/null/c.ttl", "-r", "alpha"), "/dev/null/c.ttl: Not a directory"),
        (("intake", "import", "alpha", "visit", "/"), "/: Is a directory"),
        (("intake", "import", "alpha", "visit", "no-such-sheet.xlsx"), "no-such-sheet.xlsx: No such file"),
    ],
    ids=lambda v: "-".join(v) if isinstance(v, tuple) else None,
)
def test_a_mistake_exits_1_with_a_message_and_no_traceback(
    prepared_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    message: str,
) -> None:
    run = runner(prepared_url, tmp_path, capsys, monkeypatch)(*args)

    assert run.code == 1
    assert "error:" in run.err and message in run.err
    assert "Traceback" not in run.out + run.err


def test_a_command_on_a_database_without_the_schema_says_to_upgrade_it(gongzhi: Gongzhi) -> None:
    run = gongzhi("region", "list")
    assert run.code == 1 and "gongzhi db upgrade" in run.err
    assert "Traceback" not in run.out + run.err


def test_backup_and_restore_from_the_command_line(gongzhi: Gongzhi, tmp_path: Path) -> None:
    gongzhi.ok("db", "upgrade")
    gongzhi.ok("region", "create", "alpha", "甲区", "AA")
    (gongzhi.data_dir / "files").mkdir(parents=True)
    (gongzhi.data_dir / "files" / "photo.txt").write_text("整改前")
    target = tmp_path / "backups" / "site.tar.gz"
    assert "backup written to" in gongzhi.ok("backup", str(target))
    gongzhi.ok("region", "create", "beta", "乙县", "BB")

    declined = gongzhi("restore", str(target), stdin="n\n")
    assert declined.code == 1
    assert count(gongzhi.url, Region.id) == 2

    assert "restored" in gongzhi.ok("restore", str(target), "--yes")
    assert [row.split()[1] for row in gongzhi.ok("region", "list").splitlines()] == ["alpha"]
    assert (gongzhi.data_dir / "files" / "photo.txt").read_text() == "整改前"


CORE_WITHOUT_MODULES = """
import sys
from gongzhi import cli
sys.argv = ["gongzhi", *sys.argv[1:]]
try:
    cli.main()
except SystemExit as exc:
    assert not exc.code, exc.code
loaded = sorted(m for m in sys.modules if m.startswith("gongzhi.modules.") or m in ("pandas", "scipy"))
print("LOADED", loaded)
"""


def _gongzhi_process(url: str, tmp: Path, *args: str) -> str:
    env = {**os.environ, "GONGZHI_DATABASE_URL": url, "GONGZHI_DATA_DIR": str(tmp / "data")}
    env["GONGZHI_ENV"] = "test"
    done = subprocess.run(
        [sys.executable, "-c", CORE_WITHOUT_MODULES, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.sqlite_leg
def test_core_commands_start_without_importing_the_modules(prepared_url: str, tmp_path: Path) -> None:
    """`gongzhi audit verify` and `gongzhi region list` need no module; a module command loads them all."""
    for args in (("audit", "verify"), ("region", "list")):
        out = _gongzhi_process(prepared_url, tmp_path, *args)
        assert "LOADED []" in out, out
    assert "alpha" in _gongzhi_process(prepared_url, tmp_path, "region", "list")

    out = _gongzhi_process(prepared_url, tmp_path, "pv", "--help")
    assert "'gongzhi.modules.pv'" in out and "'gongzhi.modules.intake'" in out, out


def test_files_prune_deletes_the_stored_files_no_record_holds(gongzhi: Gongzhi) -> None:
    """A file a record holds stays, an old one none holds goes (a dry run first only counts it), a young one
    stays: an upload may still be committing its records."""
    from gongzhi import files
    from gongzhi.core.models import EvidenceFile
    from gongzhi.kit.filestore import FileStore

    gongzhi.ok("db", "upgrade")
    gongzhi.ok("region", "create", "alpha", "甲区", "AA")
    store = FileStore(gongzhi.data_dir / "files")
    held, orphan, young = (store.put(b, "text/plain") for b in (b"held\n", b"orphan\n", b"young orphan\n"))
    for stored in (held, orphan):
        then = time.time() - 2 * 86400
        os.utime(store.root / stored.path, (then, then))
    engine = make_engine(gongzhi.url)
    try:
        with unit_of_work(make_session_factory(engine), Scope.for_system()) as s:
            rid = s.scalars(select(Region.id).where(Region.code == "alpha")).one()
            s.add(
                EvidenceFile(
                    region_id=rid, sha256=held.sha256, filename="a.txt", content_type="text/plain", size=5
                )
            )
    finally:
        engine.dispose()
    out = gongzhi.ok("files", "prune", "--dry-run")
    assert (
        "1 stored file(s) no record holds" in out
        and "1 older file(s) kept: a record holds them" in out
        and "dry run" in out
    )
    assert store.exists(orphan.sha256)
    out = gongzhi.ok("files", "prune")
    assert "deleted 1 file(s)" in out, out
    assert not store.exists(orphan.sha256) and store.exists(held.sha256) and store.exists(young.sha256)
    assert "deleted 1 file(s)" in gongzhi.ok("files", "prune", "--older-than-hours", "0")  # young too now
    assert gongzhi("files", "prune", "--older-than-hours", "-1").code == 1
    assert files.GRACE_S == 24 * 3600  # the command's default, --older-than-hours 24
