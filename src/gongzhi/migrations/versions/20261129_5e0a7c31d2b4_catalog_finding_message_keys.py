"""catalog_findings.message_key and message_params: findings are shown in the reader's language

Revision ID: 5e0a7c31d2b4
Revises: 2cb4edeaf657
Create Date: 2026-11-29 04:40:00

Findings stored before keep an empty key and show their stored text as written.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5e0a7c31d2b4"
down_revision: str | None = "2cb4edeaf657"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_findings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_key", sa.String(length=60), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column(
                "message_params",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default="{}",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("catalog_findings", schema=None) as batch_op:
        batch_op.drop_column("message_params")
        batch_op.drop_column("message_key")
