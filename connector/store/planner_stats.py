"""The planner's statistics: refreshed after the migrations and by the worker (hourly on
SQLite; every minute on PostgreSQL, where it costs one query unless a table changed).

SQLite never gathers them on its own: without them it reads every letter of an organization
to find one by external id. PostgreSQL's autovacuum may be off, so the worker applies
autovacuum's own rule itself. Statistics taken of an empty table say "read it whole", and the
plans made from them outlive its growth until the next analysis: psycopg prepares a statement
from its fifth run, and each connection keeps the plans of its foreign-key checks. When the migrations analysed the empty store, every letter
handed in read all the letters before it, three times, and so did every delivery claim."""
from __future__ import annotations

import logging

from sqlalchemy import Connection, Engine, exc, text

log = logging.getLogger(__name__)

# autovacuum_analyze_threshold and autovacuum_analyze_scale_factor, PostgreSQL's defaults.
CHANGED_ROWS, CHANGED_SHARE = 50, 0.1


def refresh(engine: Engine, after_migrations: bool = False) -> list[str]:
    """Analyse what needs it; returns the tables sent to ANALYZE (on PostgreSQL). After the
    migrations a failure is logged, not raised: the schema is in place, and the worker
    tries again within the minute."""
    try:
        if engine.dialect.name == "sqlite":
            _sqlite(engine)
            return []
        if engine.dialect.name == "postgresql":
            return _postgresql(engine)
        return []
    except Exception:
        if not after_migrations:
            raise
        log.warning("the planner's statistics were not refreshed", exc_info=True)
        return []


def _sqlite(engine: Engine) -> None:
    # analysis_limit bounds the work to a sample per index: milliseconds at any size.
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        conn.exec_driver_sql("ANALYZE")
        conn.exec_driver_sql("PRAGMA optimize")
        conn.commit()


def _postgresql(engine: Engine) -> list[str]:
    # Autocommit, one table per statement: each lock (SHARE UPDATE EXCLUSIVE) is held for its
    # own table's sampling only.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        return analyse(conn, changed_tables(conn))


def analyse(conn: Connection, tables: list[str]) -> list[str]:
    """ANALYZE each of ``tables`` on its own; returns those not refused. A table another
    worker, autovacuum or a migration holds is skipped (SKIP_LOCKED), to be taken next time;
    one that cannot be analysed (dropped since it was chosen, say) is logged, and the rest go
    on."""
    done = []
    for table in tables:
        try:
            conn.exec_driver_sql(f"ANALYZE (SKIP_LOCKED) {table}")
        except exc.DBAPIError:
            log.warning("could not analyse %s", table, exc_info=True)
            continue
        done.append(table)
    return done


def changed_tables(conn: Connection) -> list[str]:
    """The schema's tables (quoted, with their schema) that changed by more than
    ``CHANGED_ROWS`` rows and ``CHANGED_SHARE`` of their size since last analysed, among those
    this role may analyse (it owns them, or is a member of their owner): autovacuum's rule.
    A table is not analysed before that many rows changed, so never as freshly created."""
    return list(conn.execute(text(
        "SELECT format('%I.%I', s.schemaname, s.relname) FROM pg_stat_user_tables AS s "
        "JOIN pg_class AS c ON c.oid = s.relid WHERE s.schemaname = current_schema() "
        "AND pg_has_role(c.relowner, 'USAGE') "
        "AND s.n_mod_since_analyze > :rows + :share * greatest(c.reltuples, 0) "
        "ORDER BY s.relname"), {"rows": CHANGED_ROWS, "share": CHANGED_SHARE}).scalars())
