"""village money in fen as BIGINT: INTEGER held at most 21,474,836.47 yuan on PostgreSQL

Revision ID: a5d2bc8d12ca
Revises: 5e0a7c31d2b4
Create Date: 2026-11-30 01:00:00

A village asset, project budget, yearly rent or payment above that amount failed to be stored on
PostgreSQL (SQLite's INTEGER holds 64 bits). Amounts are now bounded at the edge (``kit.validation.Yuan``,
at most a hundred billion yuan), which BIGINT holds.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a5d2bc8d12ca"
down_revision: str | None = "5e0a7c31d2b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("village_projects", "budget_fen"),
    ("village_milestones", "amount_fen"),
    ("village_assets", "value_fen"),
    ("village_contracts", "annual_rent_fen"),
    ("village_payments", "amount_fen"),
)


def upgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                column, existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False
            )


def downgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                column, existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False
            )
