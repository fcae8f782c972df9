"""Alembic, driven from code: ``gongzhi db upgrade`` and the test suite use the same entry points."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from gongzhi.db import make_engine, normalise_url

HERE = Path(__file__).parent / "migrations"


def config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).render_as_string(hide_password=False))
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(config(url), revision)


def diff(engine: Engine) -> list[object]:
    """Differences between the models and the migrated database; empty when migrations are in sync."""
    from gongzhi.models import Base

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, Base.metadata))


def revision(url: str, message: str) -> None:
    command.revision(config(url), message=message, autogenerate=True)


def check_in_sync(url: str) -> list[object]:
    upgrade(url)
    engine = make_engine(url)
    try:
        return diff(engine)
    finally:
        engine.dispose()  # its connections and SQLite checkpointer end before the caller removes the file
