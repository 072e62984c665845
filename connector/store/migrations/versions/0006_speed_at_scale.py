"""audit records written unsealed and chained by one sealer; letter tallies; indexes

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# SMS counts per (org, state, provider), kept by the database itself: the outbox changes
# states with guarded UPDATE statements, and a trigger sees every one of them.
SQLITE_TRIGGERS = [
    """CREATE TRIGGER sms_tally_insert AFTER INSERT ON notifications BEGIN
         INSERT INTO sms_tallies (org, state, gateway, delta)
         VALUES (COALESCE(NEW.org, ''), NEW.state, COALESCE(NEW.gateway, ''), 1);
       END""",
    """CREATE TRIGGER sms_tally_update AFTER UPDATE OF state, gateway ON notifications
       WHEN OLD.state IS NOT NEW.state OR OLD.gateway IS NOT NEW.gateway BEGIN
         INSERT INTO sms_tallies (org, state, gateway, delta)
         VALUES (COALESCE(OLD.org, ''), OLD.state, COALESCE(OLD.gateway, ''), -1),
                (COALESCE(NEW.org, ''), NEW.state, COALESCE(NEW.gateway, ''), 1);
       END""",
    """CREATE TRIGGER sms_tally_delete AFTER DELETE ON notifications BEGIN
         INSERT INTO sms_tallies (org, state, gateway, delta)
         VALUES (COALESCE(OLD.org, ''), OLD.state, COALESCE(OLD.gateway, ''), -1);
       END""",
]
POSTGRES_TRIGGERS = [
    """CREATE FUNCTION sms_tally() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP IN ('UPDATE', 'DELETE') THEN
           INSERT INTO sms_tallies (org, state, gateway, delta)
           VALUES (COALESCE(OLD.org, ''), OLD.state, COALESCE(OLD.gateway, ''), -1);
         END IF;
         IF TG_OP IN ('INSERT', 'UPDATE') THEN
           INSERT INTO sms_tallies (org, state, gateway, delta)
           VALUES (COALESCE(NEW.org, ''), NEW.state, COALESCE(NEW.gateway, ''), 1);
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER sms_tally_insert_delete AFTER INSERT OR DELETE ON notifications
       FOR EACH ROW EXECUTE FUNCTION sms_tally()""",
    """CREATE TRIGGER sms_tally_update AFTER UPDATE OF state, gateway ON notifications
       FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state
                          OR OLD.gateway IS DISTINCT FROM NEW.gateway)
       EXECUTE FUNCTION sms_tally()""",
]


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
    op.create_index('ix_events_kind_at', 'events', ['kind', 'at'], unique=False)
    op.create_index('ix_notifications_org_state', 'notifications', ['org', 'state'],
                    unique=False)
    op.create_table(
        'sms_tallies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org', sa.String(length=40), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('gateway', sa.String(length=40), nullable=False),
        sa.Column('delta', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'))
    op.execute("INSERT INTO sms_tallies (org, state, gateway, delta) "
               "SELECT COALESCE(org, ''), state, COALESCE(gateway, ''), COUNT(*) "
               "FROM notifications GROUP BY COALESCE(org, ''), state, COALESCE(gateway, '')")
    dialect = op.get_bind().dialect.name
    for ddl in {"sqlite": SQLITE_TRIGGERS, "postgresql": POSTGRES_TRIGGERS}.get(dialect, []):
        op.execute(ddl)
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.drop_index('ix_letters_org_state')
        batch_op.create_index('ix_letters_org_state_age', ['org', 'state', 'updated_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.drop_index('ix_letters_org_state_age')
        batch_op.create_index('ix_letters_org_state', ['org', 'state'], unique=False)
    op.drop_table('letter_tallies')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER sms_tally_update ON notifications")
        op.execute("DROP TRIGGER sms_tally_insert_delete ON notifications")
        op.execute("DROP FUNCTION sms_tally()")
    else:
        for name in ("sms_tally_insert", "sms_tally_update", "sms_tally_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table('sms_tallies')
    op.drop_index('ix_notifications_org_state', table_name='notifications')
    op.drop_index('ix_events_kind_at', table_name='events')
    # Seal everything first (`pishkhan audit verify`): unsealed records cannot go back.
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_unsealed')
        batch_op.drop_index('ix_audit_action')
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
