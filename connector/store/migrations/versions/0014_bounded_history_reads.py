"""a partial index of the letters that still owe an answer, by promised date

Revision ID: 0014
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0006'
branch_labels = None
depends_on = None

# As connector/store/models.py spells it (a migration keeps its own copy: the model may change).
OWED = "state NOT IN ('answered', 'awaiting_documents', 'closed', 'rejected', 'withdrawn')"


def upgrade() -> None:
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.create_index('ix_letters_owed_due', ['org', 'due_date', 'id'], unique=False,
                              sqlite_where=sa.text(OWED), postgresql_where=sa.text(OWED))


def downgrade() -> None:
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.drop_index('ix_letters_owed_due')
