"""rate counters of public write endpoints; a village project's 四议两公开 decision

Revision ID: 3f8a6c1d2b90
Revises: e669f5b8ccfa
Create Date: 2026-11-28 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3f8a6c1d2b90"
down_revision: str | None = "e669f5b8ccfa"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_counters",
        sa.Column("bucket", sa.String(length=120), nullable=False),
        sa.Column("window_no", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "window_no"),
    )
    with op.batch_alter_table("rate_counters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rate_counters_expires_at"), ["expires_at"], unique=False)
    with op.batch_alter_table("village_projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decision_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_village_projects_decision_id", "village_decisions", ["decision_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("village_projects", schema=None) as batch_op:
        batch_op.drop_constraint("fk_village_projects_decision_id", type_="foreignkey")
        batch_op.drop_column("decision_id")
    with op.batch_alter_table("rate_counters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_counters_expires_at"))
    op.drop_table("rate_counters")
