"""The staging store: engine and sessions, tables (SQLAlchemy 2), Alembic migrations, claims
of work rows across workers, and the hash-chained audit trail. May import domain only."""
