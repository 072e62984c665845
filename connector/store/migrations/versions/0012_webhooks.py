"""webhooks: subscriptions and their outbox

Revision ID: 0012
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'webhook_subscriptions',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('org', sa.String(length=40), nullable=False),
        sa.Column('url', sa.String(length=500), nullable=False),
        sa.Column('secret_env', sa.String(length=100), nullable=False),
        sa.Column('types', sa.JSON(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
    )
    op.create_index('ix_webhook_subscriptions_org', 'webhook_subscriptions', ['org'])
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('subscription_id', sa.Integer(),
                  sa.ForeignKey('webhook_subscriptions.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('org', sa.String(length=40), nullable=False),
        sa.Column('event_id', sa.String(length=40), nullable=False),
        sa.Column('type', sa.String(length=80), nullable=False),
        sa.Column('subject', sa.String(length=40), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('state', sa.String(length=12), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
        sa.Column('claimed_until', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('delivered_at', sa.DateTime(), nullable=True),
        sa.UniqueConstraint('subscription_id', 'event_id', name='uq_webhook_delivery_event'),
    )
    op.create_index('ix_webhook_deliveries_work', 'webhook_deliveries',
                    ['state', 'next_attempt_at'])
    op.create_index('ix_webhook_deliveries_org', 'webhook_deliveries', ['org', 'state'])


def downgrade() -> None:
    op.drop_index('ix_webhook_deliveries_org', table_name='webhook_deliveries')
    op.drop_index('ix_webhook_deliveries_work', table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    op.drop_index('ix_webhook_subscriptions_org', table_name='webhook_subscriptions')
    op.drop_table('webhook_subscriptions')
