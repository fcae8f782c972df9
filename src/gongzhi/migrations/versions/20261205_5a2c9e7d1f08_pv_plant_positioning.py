"""pv_plants.positioning: how the plant's flights are flown, the default of its inspections' positioning

Revision ID: 5a2c9e7d1f08
Revises: 47dc0e03ddeb
Create Date: 2026-12-05 18:00:00

A plant flown by a drone without RTK (a GNSS hover's position is metres off) may say so once: its uploads
and dock flights that do not say otherwise are then analysed with ``gnss``; a re-analysis keeps the first
inspection's. Plants stored before get auto, the inspections' default until now.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5a2c9e7d1f08"
down_revision: str | None = "47dc0e03ddeb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pv_plants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("positioning", sa.String(length=10), server_default="auto", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("pv_plants", schema=None) as batch_op:
        batch_op.drop_column("positioning")
