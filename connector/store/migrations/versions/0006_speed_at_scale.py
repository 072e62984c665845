"""audit records written unsealed and chained by one sealer; letter tallies; indexes

Revision ID: 0006
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=True)
        batch_op.create_index('ix_audit_action', ['action'], unique=False)
        batch_op.create_index('ix_audit_unsealed', ['id'], unique=False,
                              postgresql_where=sa.text('seq IS NULL'),
                              sqlite_where=sa.text('seq IS NULL'))
    tallies = op.create_table(
        'letter_tallies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org', sa.String(length=40), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('delta', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'))
    # Start from today's letters: one row per organization and state.
    letters = sa.table('letters', sa.column('org'), sa.column('state'))
    op.execute(tallies.insert().from_select(
        ['org', 'state', 'delta'],
        sa.select(letters.c.org, letters.c.state, sa.func.count())
        .group_by(letters.c.org, letters.c.state)))
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.drop_index('ix_letters_org_state')
        batch_op.create_index('ix_letters_org_state_age', ['org', 'state', 'updated_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.drop_index('ix_letters_org_state_age')
        batch_op.create_index('ix_letters_org_state', ['org', 'state'], unique=False)
    op.drop_table('letter_tallies')
    # Seal everything first (`pishkhan audit verify`): unsealed records cannot go back.
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_unsealed')
        batch_op.drop_index('ix_audit_action')
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
