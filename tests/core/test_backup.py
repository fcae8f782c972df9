"""Backup and restore on the current backend: the database and the evidence files come back as they were,
and an archive that is damaged or of another kind of database is refused before anything is touched."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from gongzhi import backup, demo
from gongzhi.cases import dispatch
from gongzhi.cases import service as cases
from gongzhi.cases.models import Case, CaseEvent, CaseFile
from gongzhi.core import audit
from gongzhi.core import service as core
from gongzhi.core.models import AuditEntry, OutboxEvent, Region, User
from gongzhi.db import Scope, unit_of_work
from gongzhi.kit.filestore import FileStore
from gongzhi.registry import Registry
from tests.conftest import BACKEND
from tests.core._support import Committed, committed_database

pytestmark = pytest.mark.backend  # each test opens a database of the chosen backend itself

COUNTED = (Region, User, Case, CaseEvent, CaseFile, AuditEntry, OutboxEvent)


@dataclass
class Site:
    """A loaded installation: its database, its evidence files, and a backup taken of both."""

    db: Committed
    files: Path
    archive: Path
    case_id: int
    at_backup: dict[str, Any]  # snapshot() when the backup was taken
    files_at_backup: dict[str, bytes]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("backup")
    with committed_database(tmp) as db:
        reg = Registry()
        dispatch.register(reg)
        with unit_of_work(db.factory, Scope.for_system()) as s:
            demo.load(s, reg, 2)
        files = tmp / "files"
        case_id = _attach_evidence(db, FileStore(files))
        at_backup = snapshot(db, case_id)
        backup.backup(db.url, files, tmp / "site.tar.gz")
        yield Site(db, files, tmp / "site.tar.gz", case_id, at_backup, file_tree(files))


def _attach_evidence(db: Committed, store: FileStore) -> int:
    with unit_of_work(db.factory, Scope.for_system()) as s:
        case = s.scalars(select(Case).order_by(Case.id).limit(1)).one()
        for body, name in (
            (b"rectified: manhole cover replaced\n", "after.txt"),
            (b'{"ok": true}', "log.json"),
        ):
            kind = "text/plain" if name.endswith(".txt") else "application/json"
            stored = store.put(body, kind, name)
            cases.add_file(s, case.id, stored.sha256, name, stored.content_type, stored.size)
        return case.id


def snapshot(db: Committed, case_id: int) -> dict[str, Any]:
    with unit_of_work(db.factory, Scope.for_system()) as s:
        counts = {m.__tablename__: s.scalars(select(func.count()).select_from(m)).one() for m in COUNTED}
        timeline = [(e.action, e.from_state, e.to_state, e.note) for e in cases.timeline(s, case_id)]
        title = s.get_one(Case, case_id).title
        links, problems = audit.verify(s)
    return {"counts": counts, "timeline": timeline, "title": title, "audit": (links, problems)}


def file_tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def make_archive(path: Path, manifest: dict[str, Any] | None, dump: bytes) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        members = {"database.dump": dump}
        if manifest is not None:
            members["manifest.json"] = json.dumps(manifest).encode()
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def restore(site: Site, source: Path) -> None:
    site.db.engine.dispose()  # restore runs offline: no connection may hold the old database
    try:
        backup.restore(site.db.url, site.files, source)
    finally:
        site.db.engine.dispose()


def test_a_restore_brings_back_the_database_and_the_evidence_files(site: Site) -> None:
    before = site.at_backup
    assert before["audit"][1] == [] and before["counts"]["case_files"] == 2
    assert before["counts"]["regions"] == 3 and before["counts"]["cases"] == 6
    assert len(site.files_at_backup) == 2

    with unit_of_work(site.db.factory, Scope.for_system()) as s:
        core.create_region(s, "after_backup", "备份后新区", "AB")
        s.execute(update(Case).where(Case.id == site.case_id).values(title="被改掉的标题"))
    with site.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM case_files WHERE case_id = :c"), {"c": site.case_id})
        conn.execute(text("DELETE FROM case_events WHERE case_id = :c"), {"c": site.case_id})
    for p in site.files.rglob("*"):
        if p.is_file():
            p.unlink()
    (site.files / "stray.bin").write_bytes(b"written after the backup")
    assert snapshot(site.db, site.case_id) != before

    restore(site, site.archive)

    assert snapshot(site.db, site.case_id) == before
    assert file_tree(site.files) == site.files_at_backup
    with unit_of_work(site.db.factory, Scope.for_system()) as s:  # the restored database takes new writes
        core.create_region(s, "after_restore", "恢复后新区", "AR")
    with unit_of_work(site.db.factory, Scope.for_system()) as s:
        links, problems = audit.verify(s)
    assert problems == [] and links == before["audit"][0] + 1


def _truncated(site: Site, tmp: Path) -> Path:
    data = site.archive.read_bytes()
    (tmp / "truncated.tar.gz").write_bytes(data[: len(data) // 2])
    return tmp / "truncated.tar.gz"


def _tampered_dump(site: Site, tmp: Path) -> Path:
    with tarfile.open(site.archive, "r:gz") as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        dump = tar.extractfile("database.dump").read()  # type: ignore[union-attr]
    flipped = dump[:100] + bytes([dump[100] ^ 0xFF]) + dump[101:]
    return make_archive(tmp / "tampered.tar.gz", manifest, flipped)


def _no_manifest(site: Site, tmp: Path) -> Path:
    return make_archive(tmp / "bare.tar.gz", None, b"not a database")


def _future_format(site: Site, tmp: Path) -> Path:
    dump = b"whatever"
    manifest = {"format": 99, "backend": BACKEND, "database_sha256": hashlib.sha256(dump).hexdigest()}
    return make_archive(tmp / "future.tar.gz", manifest, dump)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_truncated, "cannot read backup"),
        (_tampered_dump, "does not match its checksum"),
        (_no_manifest, "no readable manifest"),
        (_future_format, "unsupported backup format 99"),
    ],
    ids=["truncated", "checksum-mismatch", "no-manifest", "unknown-format"],
)
def test_a_damaged_archive_is_refused_and_touches_nothing(
    site: Site, tmp_path: Path, damage: Any, message: str, request: pytest.FixtureRequest
) -> None:
    marker = "after_" + request.node.callspec.id.replace("-", "_")
    with unit_of_work(site.db.factory, Scope.for_system()) as s:
        core.create_region(s, marker, "备份后新区", marker[-6:].upper())
    before, files_before = snapshot(site.db, site.case_id), file_tree(site.files)
    source = damage(site, tmp_path)

    with pytest.raises(backup.BackupError, match=message):
        restore(site, source)

    assert snapshot(site.db, site.case_id) == before
    assert file_tree(site.files) == files_before
    with unit_of_work(site.db.factory, Scope.for_system()) as s:
        assert core.get_region(s, marker).code == marker


def _sqlite_site(tmp: Path) -> tuple[str, Path]:
    conn = sqlite3.connect(tmp / "small.db")
    with conn:
        conn.execute("CREATE TABLE regions (id INTEGER PRIMARY KEY, code TEXT)")
        conn.execute("INSERT INTO regions (code) VALUES ('gongshu')")
    conn.close()
    (tmp / "files").mkdir()
    (tmp / "files" / "evidence.txt").write_text("证据")
    return f"sqlite:///{tmp / 'small.db'}", tmp / "files"


def test_a_sqlite_backup_refuses_to_restore_into_postgresql(tmp_path: Path) -> None:
    url, files = _sqlite_site(tmp_path)
    backup.backup(url, files, tmp_path / "sqlite.tar.gz")
    target_files = tmp_path / "target-files"
    target_files.mkdir()
    (target_files / "keep.txt").write_text("untouched")

    with pytest.raises(backup.BackupError, match="backup is of a sqlite database, the target is postgresql"):
        backup.restore(
            "postgresql://postgres@127.0.0.1:5432/never_created", target_files, tmp_path / "sqlite.tar.gz"
        )
    assert file_tree(target_files) == {"keep.txt": b"untouched"}


def test_a_postgresql_backup_refuses_to_restore_into_sqlite(tmp_path: Path) -> None:
    dump = b"PGDMP fake custom-format dump"
    manifest = {"format": 1, "backend": "postgresql", "database_sha256": hashlib.sha256(dump).hexdigest()}
    archive = make_archive(tmp_path / "pg.tar.gz", manifest, dump)
    target = tmp_path / "target.db"

    with pytest.raises(backup.BackupError, match="backup is of a postgresql database, the target is sqlite"):
        backup.restore(f"sqlite:///{target}", tmp_path / "files", archive)
    assert not target.exists()
