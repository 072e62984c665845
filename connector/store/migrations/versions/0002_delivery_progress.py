"""letters.delivery_progress (finished steps of a multi-step delivery), letters.checked_at

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('letters') as batch:
        batch.add_column(sa.Column('delivery_progress', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('checked_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('letters') as batch:
        batch.drop_column('checked_at')
        batch.drop_column('delivery_progress')
