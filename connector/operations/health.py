"""Readiness: can this process do its work? The database answers and carries the newest
schema, the attachment store is writable, every organization file loaded, and the platform's
gateway for one-time codes can be built."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from connector.store.db import MIGRATIONS

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


def _schema_heads() -> set[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return set(ScriptDirectory.from_config(cfg).get_heads())


def readiness(px: Pishkhan) -> list[Check]:
    checks: list[Check] = []
    try:
        with px.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = {row[0] for row in conn.execute(
                text("SELECT version_num FROM alembic_version"))}
        checks.append(Check("database", True))
        heads = _schema_heads()
        checks.append(Check("schema", current == heads,
                            "" if current == heads else
                            f"at {sorted(current)}, code expects {sorted(heads)}: "
                            "run pishkhan db upgrade"))
    except SQLAlchemyError as exc:
        checks.append(Check("database", False, type(exc).__name__))
    blobs = px.blobs.root
    try:
        blobs.mkdir(parents=True, exist_ok=True)
        probe = blobs / ".ready"
        probe.write_bytes(b"")
        probe.unlink()
        checks.append(Check("attachments", True))
    except OSError as exc:
        checks.append(Check("attachments", False, exc.strerror or type(exc).__name__))
    from connector.bootstrap import platform_sms_problems, startup_problems
    bad_files = startup_problems(px)
    checks.append(Check("organizations", not bad_files,
                        "; ".join(str(p) for p in bad_files)))
    sms = platform_sms_problems(px)
    checks.append(Check("otp_sms", not sms, "; ".join(str(p) for p in sms)))
    return checks
