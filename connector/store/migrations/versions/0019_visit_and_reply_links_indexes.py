"""A host's visits, a visit's alerts, a gate's scans and an SMS reply's message found by index

visits.host_user_id, visit_alerts.visit_id, gate_scans.gate_id and inbound_sms.notification_id
are foreign keys no index served:
- a host's home page lists their latest visits (host and window): it read every visit of the
  organization;
- a visitor's file reads the alerts of their visits: it read every alert;
- retention deletes notifications letter by letter, and each delete sets its replies'
  notification_id to NULL: each read the whole inbound_sms table;
- removing a gate deletes its scans: it read every scan.

Revision ID: 0019
Revises: 0018
"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def _not_null(column: str) -> dict[str, sa.TextClause]:
    where = sa.text(f"{column} IS NOT NULL")
    return {"sqlite_where": where, "postgresql_where": where}


def upgrade() -> None:
    op.create_index('ix_visits_host', 'visits', ['host_user_id', 'window_start'],
                    **_not_null('host_user_id'))
    op.create_index('ix_visit_alerts_visit', 'visit_alerts', ['visit_id'],
                    **_not_null('visit_id'))
    op.create_index('ix_gate_scans_gate', 'gate_scans', ['gate_id'])
    op.create_index('ix_inbound_sms_notification', 'inbound_sms', ['notification_id'],
                    **_not_null('notification_id'))


def downgrade() -> None:
    op.drop_index('ix_inbound_sms_notification', table_name='inbound_sms')
    op.drop_index('ix_gate_scans_gate', table_name='gate_scans')
    op.drop_index('ix_visit_alerts_visit', table_name='visit_alerts')
    op.drop_index('ix_visits_host', table_name='visits')
