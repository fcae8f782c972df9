"""The migrations that gave inspections their network's least confidence and their positioning, and plants
theirs, on a database of the revision before each: the inspections classified by the rules and the network
then had used 0.8, which it writes into them, those by the rules alone get none; every inspection and plant
gets positioning auto."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command

from gongzhi import migrate

BEFORE = "7c3e91b4d0a2"
"""The revision before ``pv_inspections.min_confidence``."""

_DUMMY = {
    "INTEGER": 1,
    "FLOAT": 0.0,
    "DOUBLE": 0.0,
    "BOOLEAN": 0,
    "JSON": "{}",
    "DATETIME": "2026-11-30 08:00:00",
}


def test_inspections_classified_by_the_network_before_keep_the_confidence_they_were_named_at(
    tmp_path: Path,
) -> None:
    path = tmp_path / "before.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url, BEFORE)
    with sqlite3.connect(path) as db:  # foreign keys are not enforced on a plain connection
        columns = db.execute("PRAGMA table_info(pv_inspections)").fetchall()
        assert "min_confidence" not in {c[1] for c in columns}
        # every column that needs a value and has no default gets a dummy one of its type
        needed = {c[1]: _DUMMY.get(c[2].split("(")[0].upper(), "x") for c in columns if c[3] and c[4] is None}
        needed.pop("id", None)
        for id_, classifier in ((1, "rules"), (2, "learned")):
            row = {**needed, "id": id_, "classifier": classifier}
            names = ", ".join(row)
            db.execute(
                f"INSERT INTO pv_inspections ({names}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()),
            )
    migrate.upgrade(url)
    with sqlite3.connect(path) as db:
        got = dict(db.execute("SELECT classifier, min_confidence FROM pv_inspections ORDER BY id").fetchall())
    assert got == {"rules": None, "learned": 0.8}


@pytest.mark.parametrize(
    ("table", "before"),
    [
        ("pv_inspections", "c81e4f2a9d36"),  # the revision before ``pv_inspections.positioning``
        ("pv_plants", "47dc0e03ddeb"),  # the revision before ``pv_plants.positioning``
    ],
)
def test_rows_stored_before_their_positioning_get_auto_and_a_downgrade_drops_it(
    tmp_path: Path, table: str, before: str
) -> None:
    path = tmp_path / "before.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url, before)
    with sqlite3.connect(path) as db:
        columns = db.execute(f"PRAGMA table_info({table})").fetchall()
        assert "positioning" not in {c[1] for c in columns}
        needed = {c[1]: _DUMMY.get(c[2].split("(")[0].upper(), "x") for c in columns if c[3] and c[4] is None}
        row = {**needed, "id": 1}
        db.execute(
            f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )
    migrate.upgrade(url)
    with sqlite3.connect(path) as db:
        assert db.execute(f"SELECT positioning FROM {table}").fetchall() == [("auto",)]
        db.execute(f"DELETE FROM {table}")  # the dummy row's plant and region do not exist
    command.downgrade(migrate.config(url), before)
    with sqlite3.connect(path) as db:
        columns = db.execute(f"PRAGMA table_info({table})").fetchall()
        assert "positioning" not in {c[1] for c in columns}
    migrate.upgrade(url)
