"""pv_plants: the plant's own cleaning economics (cost of a cleaning, tariff, daily energy, soiling rate)

Revision ID: c81e4f2a9d36
Revises: b3f9d2a7c415
Create Date: 2026-12-03 13:20:00

Each is empty until the operator gives it; an empty one takes the platform's default
(:func:`gongzhi.modules.pv.loop.plant_economics`), as every plant did before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c81e4f2a9d36"
down_revision: str | None = "b3f9d2a7c415"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("cleaning_cost_yuan", "tariff_yuan_kwh", "energy_kwh_per_day", "soiling_rate_per_day")


def upgrade() -> None:
    with op.batch_alter_table("pv_plants", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pv_plants", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
