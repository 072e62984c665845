"""A letter's files, SMS, e-mails and SMS replies found by index, not by reading the whole table

Nothing indexed attachments.letter_id: every letter page, API read and delivery claim read the
whole attachments table for one letter's files (13 ms at 300 000 files on PostgreSQL, growing
with history). notifications.letter_id, emails.letter_id and inbound_sms.letter_id had no index
either: retention redacts and deletes them letter by letter, so each letter destroyed read
those tables whole.

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

_HAS_LETTER = sa.text("letter_id IS NOT NULL")


def upgrade() -> None:
    op.create_index('ix_attachments_letter', 'attachments', ['letter_id', 'position'])
    op.create_index('ix_notifications_letter', 'notifications', ['letter_id'],
                    sqlite_where=_HAS_LETTER, postgresql_where=_HAS_LETTER)
    op.create_index('ix_emails_letter', 'emails', ['letter_id'],
                    sqlite_where=_HAS_LETTER, postgresql_where=_HAS_LETTER)
    op.create_index('ix_inbound_sms_letter', 'inbound_sms', ['letter_id'],
                    sqlite_where=_HAS_LETTER, postgresql_where=_HAS_LETTER)


def downgrade() -> None:
    op.drop_index('ix_inbound_sms_letter', table_name='inbound_sms')
    op.drop_index('ix_emails_letter', table_name='emails')
    op.drop_index('ix_notifications_letter', table_name='notifications')
    op.drop_index('ix_attachments_letter', table_name='attachments')
