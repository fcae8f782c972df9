"""Backup and restore: the database (SQLite online backup, or pg_dump/pg_restore) plus the evidence files,
in one .tar.gz with a manifest of checksums. Restore checks the archive before it touches anything."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path

from sqlalchemy.engine import URL

from gongzhi.db import normalise_url, utcnow

FORMAT = 1


class BackupError(RuntimeError):
    """The archive is missing, damaged, or for another kind of database."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _libpq(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _dump_db(url: URL, dest: Path) -> str:
    if url.get_backend_name() == "sqlite":
        src = sqlite3.connect(url.database or "")
        dst = sqlite3.connect(dest)
        with dst:
            src.backup(dst)
        src.close()
        dst.close()
        return "sqlite"
    subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--file", str(dest), _libpq(url)], check=True)  # noqa: S603, S607
    return "postgresql"


def backup(database_url: str, files_dir: Path, target: Path) -> None:
    url = normalise_url(database_url)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db_file = Path(tmp) / "database.dump"
        backend = _dump_db(url, db_file)
        manifest = {
            "format": FORMAT,
            "backend": backend,
            "created_at": utcnow().isoformat(),
            "database_sha256": _sha256(db_file),
        }
        (Path(tmp) / "manifest.json").write_text(json.dumps(manifest, indent=2))
        partial = target.with_suffix(target.suffix + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(Path(tmp) / "manifest.json", "manifest.json")
            tar.add(db_file, "database.dump")
            if files_dir.exists():
                tar.add(files_dir, "files")
        os.replace(partial, target)


def _safe_extract(source: Path, dest: Path) -> dict[str, object]:
    try:
        with tarfile.open(source, "r:gz") as tar:
            tar.extractall(dest, filter="data")
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise BackupError(f"cannot read backup {source}: {exc}") from exc
    try:
        manifest: dict[str, object] = json.loads((dest / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise BackupError("backup has no readable manifest.json") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unsupported backup format {manifest.get('format')!r}")
    if _sha256(dest / "database.dump") != manifest.get("database_sha256"):
        raise BackupError("database dump does not match its checksum; the archive is damaged")
    return manifest


def restore(database_url: str, files_dir: Path, source: Path) -> None:
    url = normalise_url(database_url)
    with tempfile.TemporaryDirectory() as tmp:
        manifest = _safe_extract(source, Path(tmp))
        backend = "sqlite" if url.get_backend_name() == "sqlite" else "postgresql"
        if manifest.get("backend") != backend:
            raise BackupError(f"backup is of a {manifest.get('backend')} database, the target is {backend}")
        _restore_db(url, Path(tmp) / "database.dump")
        _restore_files(Path(tmp) / "files", files_dir)


def _restore_db(url: URL, dump: Path) -> None:
    if url.get_backend_name() == "sqlite":
        db = Path(url.database or "")
        for suffix in ("-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        shutil.copyfile(dump, db.with_suffix(".restoring"))
        os.replace(db.with_suffix(".restoring"), db)
        return
    subprocess.run(  # noqa: S603
        [  # noqa: S607
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--dbname",
            _libpq(url),
            str(dump),
        ],
        check=True,
    )


def _restore_files(extracted: Path, files_dir: Path) -> None:
    if files_dir.exists():
        shutil.rmtree(files_dir)
    if extracted.exists():
        files_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(extracted, files_dir)
