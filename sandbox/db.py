"""The sandbox's own database: tables, engine and demo data.

Table and column names are part of the contract: ODBC adapters will read these tables directly,
the way they would read a vendor's correspondence database.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.mysql import LONGBLOB
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

metadata = MetaData()

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
_Id = BigInteger().with_variant(Integer(), "sqlite")
# MySQL/MariaDB BLOB stops at 64 KB, too small for scanned attachments.
_Blob = LargeBinary().with_variant(LONGBLOB(), "mysql", "mariadb")

oa_units = Table(
    "oa_units",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("person_name", String(200), nullable=False),
)

oa_letters = Table(
    "oa_letters",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("reference", String(100), nullable=False, index=True),
    Column("subject", String(500), nullable=False),
    Column("body", Text, nullable=False),
    Column("sender_name", String(200), nullable=False),
    Column("sender_national_code", String(20), nullable=False),
    Column("sender_mobile", String(20), nullable=False),
    Column("unit_code", String(16), ForeignKey("oa_units.code"), nullable=False),
    Column("person_name", String(200)),
    Column("status", String(16), nullable=False, index=True),
    Column("number", String(64), unique=True),
    # The number split in two so a per-year serial can be allocated and kept unique.
    Column("number_year", Integer),
    Column("number_serial", Integer),
    Column("number_date", DateTime),
    Column("reject_reason", Text),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("number_year", "number_serial", name="uq_oa_letters_year_serial"),
)

oa_attachments = Table(
    "oa_attachments",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("letter_id", _Id, ForeignKey("oa_letters.id"), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content", _Blob, nullable=False),
)

# The routing feed: one row per action on a letter, read by GetChanges in id order.
oa_changes = Table(
    "oa_changes",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("letter_id", _Id, ForeignKey("oa_letters.id"), nullable=False, index=True),
    Column("reference", String(100), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("number", String(64)),
    Column("reason", Text),
    Column("unit", String(16)),
    Column("person", String(200)),
    Column("instruction", Text),
    Column("text", Text),
)

# Where a letter was sent inside the system (the legacy dialect's InsertAssignment), apart from
# the routing feed: the first assignment of a pending letter is not a routing change.
oa_assignments = Table(
    "oa_assignments",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("letter_id", _Id, ForeignKey("oa_letters.id"), nullable=False, index=True),
    Column("unit_code", String(16), ForeignKey("oa_units.code"), nullable=False),
    Column("person_name", String(200), nullable=False),
    Column("instruction", Text),
    Column("created_at", DateTime, nullable=False),
)

oa_replies = Table(
    "oa_replies",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("letter_id", _Id, ForeignKey("oa_letters.id"), nullable=False, index=True),
    Column("text", Text, nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("content", _Blob, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

# Login tickets of the session dialect, kept where every worker process of the system sees them
# (as such systems keep them in their database), by their SHA-256: the ticket itself is a
# password for as long as it lives.
oa_sessions = Table(
    "oa_sessions",
    metadata,
    Column("ticket_hash", String(64), primary_key=True),
    Column("expires_at", DateTime, nullable=False),
)

# Links between letters (a follow-up, an objection to a rejection), as real systems keep them in
# a history/related-letters table (the WCF family's InsertHistoryLetter). A table of its own, not
# columns on oa_letters, so an existing sandbox database gains it with create_all.
oa_links = Table(
    "oa_links",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("letter_id", _Id, ForeignKey("oa_letters.id"), nullable=False, index=True),
    Column("related_letter_id", _Id, ForeignKey("oa_letters.id"), nullable=False, index=True),
    # The related letter's number and reference when the link was made, as a clerk reads them.
    Column("related_number", String(64)),
    Column("related_reference", String(100), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("letter_id", "related_letter_id", "kind", name="uq_oa_links"),
)

SECRETARIAT = "SEC"

DEMO_UNITS: tuple[tuple[str, str, str], ...] = (
    (SECRETARIAT, "دبیرخانه مرکزی", "مریم احمدی"),
    ("IT", "واحد فناوری اطلاعات", "علی رضایی"),
    ("FIN", "امور مالی", "زهرا کریمی"),
    ("HR", "امور اداری", "حسین محمدی"),
    ("CIV", "واحد خدمات شهری", "فاطمه حسینی"),
)

# Several gunicorn workers open the database at once: unlocked, two create the same table
# together and one fails (on PostgreSQL a pg_type unique violation). A lock of the session,
# taken and given back around the schema's creation; SQLite's write lock needs none.
_SCHEMA_LOCK = {
    "postgresql": ("SELECT pg_advisory_lock(5914286092)", "SELECT pg_advisory_unlock(5914286092)"),
    "mysql": ("SELECT GET_LOCK('sandbox-schema', 60)", "SELECT RELEASE_LOCK('sandbox-schema')"),
}


def open_database(url: str) -> Engine:
    """An engine for `url` with the schema created and the demo units present."""
    engine = _create_engine(url)
    lock = _SCHEMA_LOCK.get("mysql" if engine.dialect.name == "mariadb" else engine.dialect.name)
    with engine.connect() as conn:
        if lock:
            conn.execute(text(lock[0]))
        try:
            metadata.create_all(conn)
            conn.commit()
        finally:
            if lock:
                conn.execute(text(lock[1]))
                conn.commit()
    _seed_units(engine)
    return engine


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)

    database = parsed.database or ""
    if database in ("", ":memory:"):
        # One shared connection, otherwise every thread would see its own empty database.
        engine = create_engine(
            url, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
    _serialize_sqlite_transactions(engine)
    return engine


def _serialize_sqlite_transactions(engine: Engine) -> None:
    """Make every SQLite transaction take the write lock up front (BEGIN IMMEDIATE).

    pysqlite otherwise begins transactions lazily at the first write, so a read-then-write (the
    next serial number, the status check before an action) could interleave with another
    thread's. SQLAlchemy documents this recipe; the sandbox's load makes the lost concurrency
    irrelevant.
    """

    @event.listens_for(engine, "connect")
    def _take_over_transactions(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection) -> None:  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _seed_units(engine: Engine) -> None:
    with engine.begin() as conn:
        present = set(conn.scalars(select(oa_units.c.code)))
    for code, name, person in DEMO_UNITS:
        if code in present:
            continue
        try:
            with engine.begin() as conn:
                conn.execute(insert(oa_units).values(code=code, name=name, person_name=person))
        except IntegrityError:
            pass  # another worker process seeded it first
