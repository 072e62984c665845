"""hardening: named locks, staff session generation, SMS request moment, API token revocation

Revision ID: 0005
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'named_locks',
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), server_default='0',
                                      nullable=False))
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_sent_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revoked_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('revoked_at')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('request_sent_at')
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
    op.drop_table('named_locks')
