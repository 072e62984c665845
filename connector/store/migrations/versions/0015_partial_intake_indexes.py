"""indexes of columns empty when a letter is handed in hold only the rows that have a value

A letter handed in has no external id, no parent, no files waiting, and its SMS has not been
sent; every index on such a column still took an entry (and a page in the commit) per letter.
Every reader of these indexes asks for a value (=, <=, IN), which implies IS NOT NULL, so both
databases still use them.

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

# (table, index, columns, the column that must have a value)
PARTIAL = (
    ('letters', 'ix_letters_org_external', ['org', 'external_id'], 'external_id'),
    ('letters', 'ix_letters_parent', ['parent_id'], 'parent_id'),
    ('letters', 'ix_letters_files_work', ['files_retry_at'], 'files_retry_at'),
    ('notifications', 'ix_notifications_sent_at', ['sent_at'], 'sent_at'),
)


def upgrade() -> None:
    for table, name, columns, column in PARTIAL:
        where = sa.text(f'{column} IS NOT NULL')
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, unique=False, sqlite_where=where,
                        postgresql_where=where)


def downgrade() -> None:
    for table, name, columns, _column in PARTIAL:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, unique=False)
