"""pv_inspections.min_confidence: the crop network's least confidence to rename an anomaly

Revision ID: b3f9d2a7c415
Revises: 7c3e91b4d0a2
Create Date: 2026-12-01 01:20:00

An inspection classified by the rules and the shipped crop network ("learned") keeps the least confidence
at which the network renamed an anomaly the rules found; inspections stored before used 0.8, which the
upgrade writes into them. Inspections by the rules alone have none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b3f9d2a7c415"
down_revision: str | None = "7c3e91b4d0a2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pv_inspections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("min_confidence", sa.Double(), nullable=True))
    op.execute("UPDATE pv_inspections SET min_confidence = 0.8 WHERE classifier = 'learned'")


def downgrade() -> None:
    with op.batch_alter_table("pv_inspections", schema=None) as batch_op:
        batch_op.drop_column("min_confidence")
