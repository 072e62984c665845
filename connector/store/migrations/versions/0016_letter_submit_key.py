"""letters remember the key of the submission that made them

A letter sent again with the same key (the preview page's, an API client's Idempotency-Key)
finds the letter it made instead of making a second one: a double click, a retry after a
timeout, or a resend after the database did not answer while the first one was committing.
The unique index holds only the rows that have a key.

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('letters') as batch:
        batch.add_column(sa.Column('submit_key', sa.String(length=64), nullable=True))
    where = sa.text('submit_key IS NOT NULL')
    op.create_index('uq_letters_submit_key', 'letters', ['mobile', 'submit_key'], unique=True,
                    sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    op.drop_index('uq_letters_submit_key', table_name='letters')
    with op.batch_alter_table('letters') as batch:
        batch.drop_column('submit_key')
