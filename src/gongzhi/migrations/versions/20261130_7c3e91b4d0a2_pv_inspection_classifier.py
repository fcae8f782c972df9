"""pv_inspections.classifier: the rules alone, or the rules overruled by the shipped crop network

Revision ID: 7c3e91b4d0a2
Revises: a5d2bc8d12ca
Create Date: 2026-11-30 16:30:00

An upload may ask for the learned crop classifier ("learned") behind the rules; inspections stored before
were analysed by the rules, which the server default says.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c3e91b4d0a2"
down_revision: str | None = "a5d2bc8d12ca"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pv_inspections", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("classifier", sa.String(length=20), server_default="rules", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("pv_inspections", schema=None) as batch_op:
        batch_op.drop_column("classifier")
