"""citizen channels and promises: due dates, inbound SMS, e-mail, documents, objections

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('notify_by', sa.String(length=10), server_default='sms',
                                      nullable=False))
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('link_kind', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('resume_state', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('paused_since', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('pending_files', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('files_retry_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('files_attempts', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.create_index('ix_letters_files_work', ['files_retry_at'], unique=False)
        batch_op.create_foreign_key('fk_letters_parent', 'letters', ['parent_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_index('ix_letters_parent', ['parent_id'], unique=False)
    op.create_index('uq_letters_objection', 'letters', ['parent_id'], unique=True,
                    sqlite_where=sa.text("link_kind = 'objection'"),
                    postgresql_where=sa.text("link_kind = 'objection'"))
    op.create_table(
        'emails',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org', sa.String(length=40), nullable=True),
        sa.Column('letter_id', sa.Integer(), nullable=True),
        sa.Column('to', sa.String(length=254), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('html', sa.Text(), nullable=False),
        sa.Column('message_id', sa.String(length=200), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['letter_id'], ['letters.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('message_id'),
    )
    op.create_index('ix_emails_work', 'emails', ['state', 'next_attempt_at'], unique=False)
    op.create_table(
        'inbound_sms',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org', sa.String(length=40), nullable=False),
        sa.Column('gateway', sa.String(length=40), nullable=False),
        sa.Column('provider_id', sa.String(length=100), nullable=False),
        sa.Column('sender', sa.String(length=20), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.Column('answer', sa.String(length=20), nullable=False),
        sa.Column('letter_id', sa.Integer(), nullable=True),
        sa.Column('notification_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['letter_id'], ['letters.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('org', 'gateway', 'provider_id', name='uq_inbound_sms'),
    )
    op.create_index('ix_inbound_sms_sender', 'inbound_sms', ['sender'], unique=False)
    op.create_table(
        'sms_inbox_cursors',
        sa.Column('org', sa.String(length=40), nullable=False),
        sa.Column('gateway', sa.String(length=40), nullable=False),
        sa.Column('cursor', sa.String(length=200), nullable=False),
        sa.Column('last_poll_at', sa.DateTime(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('org', 'gateway'),
    )
    op.create_table(
        'sms_reply_windows',
        sa.Column('mobile', sa.String(length=11), nullable=False),
        sa.Column('window', sa.DateTime(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('mobile', 'window'),
    )


def downgrade() -> None:
    op.drop_index('ix_emails_work', table_name='emails')
    op.drop_index('uq_letters_objection', table_name='letters')
    op.drop_table('emails')
    op.drop_table('sms_reply_windows')
    op.drop_table('sms_inbox_cursors')
    op.drop_index('ix_inbound_sms_sender', table_name='inbound_sms')
    op.drop_table('inbound_sms')
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.drop_index('ix_letters_files_work')
        batch_op.drop_column('files_attempts')
        batch_op.drop_column('files_retry_at')
        batch_op.drop_column('pending_files')
        batch_op.drop_index('ix_letters_parent')
        batch_op.drop_constraint('fk_letters_parent', type_='foreignkey')
        batch_op.drop_column('paused_since')
        batch_op.drop_column('resume_state')
        batch_op.drop_column('link_kind')
        batch_op.drop_column('parent_id')
        batch_op.drop_column('notify_by')
        batch_op.drop_column('email')
        batch_op.drop_column('due_date')
