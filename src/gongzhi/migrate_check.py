"""``python -m gongzhi.migrate_check``: migrate a scratch SQLite database (and PostgreSQL when reachable,
required in CI) and fail if the models and the migrations disagree."""

from __future__ import annotations

import os
import sys
import tempfile
import uuid

import psycopg

from gongzhi import migrate

PG_ADMIN = os.environ.get("GONGZHI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _check(url: str, label: str) -> bool:
    diffs = migrate.check_in_sync(url)
    for d in diffs:
        print(f"{label}: {d}", file=sys.stderr)
    print(f"{label}: migrations {'OUT OF SYNC' if diffs else 'in sync'} with the models")
    return not diffs


def _check_postgresql() -> bool:
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        if os.environ.get("CI") == "true":
            print(f"postgresql: {PG_ADMIN} not reachable, and CI requires it", file=sys.stderr)
            return False
        print(f"postgresql: {PG_ADMIN} not reachable; PostgreSQL check skipped")
        return True
    name = f"gongzhi_migcheck_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        return _check(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", "postgresql")
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        ok = _check(f"sqlite:///{tmp}/check.db", "sqlite")
    return 0 if _check_postgresql() and ok else 1


if __name__ == "__main__":
    sys.exit(main())
