"""visits: visitors, visits, hosts, gates, scans, blacklist, alerts

Revision ID: 0007
Revises: 0011
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('gates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('direction', sa.String(length=5), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('org', 'name', name='uq_gates_org_name'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('visit_blacklist',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org', sa.String(length=40), nullable=False),
    sa.Column('national_code', sa.String(length=10), nullable=False),
    sa.Column('passport', sa.String(length=20), nullable=False),
    sa.Column('nationality', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('added_by', sa.String(length=120), nullable=False),
    sa.Column('until', sa.DateTime(), nullable=True),
    sa.Column('removed_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('visit_blacklist', schema=None) as batch_op:
        batch_op.create_index('ix_blacklist_org_code', ['org', 'national_code'], unique=False)
        batch_op.create_index('ix_blacklist_org_passport', ['org', 'passport'], unique=False)

    op.create_table('visitors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('national_code', sa.String(length=10), nullable=False),
    sa.Column('passport', sa.String(length=20), nullable=False),
    sa.Column('nationality', sa.String(length=60), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('father_name', sa.String(length=100), nullable=False),
    sa.Column('mobile', sa.String(length=11), nullable=False),
    sa.Column('photo_sha256', sa.String(length=64), nullable=True),
    sa.Column('id_scan_sha256', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('org', 'kind', 'national_code', 'passport', 'nationality', name='uq_visitors_identity')
    )
    with op.batch_alter_table('visitors', schema=None) as batch_op:
        batch_op.create_index('ix_visitors_org_name', ['org', 'last_name'], unique=False)

    op.create_table('visit_hosts',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('mobile', sa.String(length=11), nullable=False),
    sa.Column('unit_code', sa.String(length=60), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('visits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org', sa.String(length=40), nullable=False),
    sa.Column('visitor_id', sa.Integer(), nullable=False),
    sa.Column('host_user_id', sa.Integer(), nullable=True),
    sa.Column('host_name', sa.String(length=120), nullable=False),
    sa.Column('unit_code', sa.String(length=60), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('category', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('window_start', sa.DateTime(), nullable=False),
    sa.Column('window_end', sa.DateTime(), nullable=False),
    sa.Column('pass_hash', sa.String(length=64), nullable=True),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('admitted_at', sa.DateTime(), nullable=True),
    sa.Column('entered_at', sa.DateTime(), nullable=True),
    sa.Column('left_at', sa.DateTime(), nullable=True),
    sa.Column('refusal_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['host_user_id'], ['staff_users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['visitor_id'], ['visitors.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pass_hash')
    )
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.create_index('ix_visits_org_state', ['org', 'state'], unique=False)
        batch_op.create_index('ix_visits_org_window', ['org', 'window_start'], unique=False)
        batch_op.create_index('ix_visits_visitor', ['visitor_id'], unique=False)

    op.create_table('gate_scans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org', sa.String(length=40), nullable=False),
    sa.Column('gate_id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('decision', sa.String(length=5), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['gate_id'], ['gates.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('gate_scans', schema=None) as batch_op:
        batch_op.create_index('ix_gate_scans_org_at', ['org', 'at'], unique=False)
        batch_op.create_index('ix_gate_scans_visit', ['visit_id'], unique=False)

    op.create_table('visit_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('seen_at', sa.DateTime(), nullable=True),
    sa.Column('seen_by', sa.String(length=120), nullable=True),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('visit_alerts', schema=None) as batch_op:
        batch_op.create_index('ix_visit_alerts_org_at', ['org', 'at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('visit_alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_visit_alerts_org_at')

    op.drop_table('visit_alerts')
    with op.batch_alter_table('gate_scans', schema=None) as batch_op:
        batch_op.drop_index('ix_gate_scans_visit')
        batch_op.drop_index('ix_gate_scans_org_at')

    op.drop_table('gate_scans')
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index('ix_visits_visitor')
        batch_op.drop_index('ix_visits_org_window')
        batch_op.drop_index('ix_visits_org_state')

    op.drop_table('visits')
    op.drop_table('visit_hosts')
    with op.batch_alter_table('visitors', schema=None) as batch_op:
        batch_op.drop_index('ix_visitors_org_name')

    op.drop_table('visitors')
    with op.batch_alter_table('visit_blacklist', schema=None) as batch_op:
        batch_op.drop_index('ix_blacklist_org_passport')
        batch_op.drop_index('ix_blacklist_org_code')

    op.drop_table('visit_blacklist')
    op.drop_table('gates')
