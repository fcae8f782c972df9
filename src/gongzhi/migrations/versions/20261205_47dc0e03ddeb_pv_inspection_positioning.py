"""pv_inspections.positioning: how the modules a frame sees are named (auto, rtk or gnss)

Revision ID: 47dc0e03ddeb
Revises: c81e4f2a9d36
Create Date: 2026-12-05 10:00:00

An upload may say how the analysis names the modules a frame sees: from the frames' positions (rtk), by
matching frames with each other and with the ends of the rows (gnss, a drone without RTK), or from the
positions until a frame says it is not an RTK fix (auto). Inspections stored before get auto, the default,
which a re-analysis of them then follows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "47dc0e03ddeb"
down_revision: str | None = "c81e4f2a9d36"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pv_inspections", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("positioning", sa.String(length=10), server_default="auto", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("pv_inspections", schema=None) as batch_op:
        batch_op.drop_column("positioning")
