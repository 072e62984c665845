"""retention: anonymous statistics of destroyed letters, so reports still add up; the scanner
that passed each attachment

Revision ID: 0011
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'letter_statistics',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org', sa.String(length=40), nullable=False),
        sa.Column('unit_code', sa.String(length=60), nullable=False),
        sa.Column('service_code', sa.String(length=60), nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('approved', sa.Boolean(), nullable=False),
        sa.Column('rejected', sa.Boolean(), nullable=False),
        sa.Column('registered_at', sa.DateTime(), nullable=True),
        sa.Column('answered_at', sa.DateTime(), nullable=True),
        sa.Column('score', sa.Integer(), nullable=True),
        sa.Column('attachments', sa.Integer(), nullable=False),
        sa.Column('destroyed_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_letter_statistics_org_created', 'letter_statistics',
                    ['org', 'created_at'], unique=False)
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scanned_by', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_column('scanned_by')
    op.drop_index('ix_letter_statistics_org_created', table_name='letter_statistics')
    op.drop_table('letter_statistics')
