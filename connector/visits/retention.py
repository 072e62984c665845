"""How long the in-person desk keeps what it learns about people: visits (with their scans and
alerts) ``visitors_days`` after their window ended, then the visitor — name, codes, mobile,
photo, ID scan — once no visit of theirs is left (the blacklist keeps its own entries, by
national code or passport); ended blacklist entries, and scans and alerts of unknown cards,
after the same period. Called by the retention run (connector/operations/retention.py),
one audit record per organization and run saying what went and why."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, exists, func, or_, select

from connector.config.retention import RetentionPolicy
from connector.store import audit
from connector.store.db import transaction
from connector.store.visits import BlacklistEntry, GateScan, Visit, VisitAlert, Visitor
from connector.visits import images

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

OPEN = ("planned", "inside")  # never destroyed while someone may still be at the door or in


def run(px: Pishkhan, slug: str, policy: RetentionPolicy, at: datetime, dry_run: bool
        ) -> tuple[int, str]:
    """Destroys (or counts) what is due; returns the number of visits and the reason."""
    cutoff = at - policy.period("visitors_days")
    reason = f"visitors_days = {policy.visitors_days:g}: visits that ended before " \
             f"{cutoff:%Y-%m-%d}"
    due_visits = (Visit.org == slug, Visit.window_end < cutoff, Visit.state.not_in(OPEN))
    with transaction(px.sessions) as s:
        if dry_run:
            return s.scalar(select(func.count()).select_from(Visit).where(*due_visits)) or 0, \
                reason
        audit.hold_chain(s)  # first, as every writer of the retention run does
        ids = list(s.scalars(select(Visit.id).where(*due_visits)))
        counts: dict[str, Any] = {"visits": len(ids)}
        counts["scans"] = _delete(s, GateScan, or_(GateScan.visit_id.in_(ids), (
            GateScan.org == slug) & (GateScan.at < cutoff)))
        counts["alerts"] = _delete(s, VisitAlert, or_(VisitAlert.visit_id.in_(ids), (
            VisitAlert.org == slug) & (VisitAlert.at < cutoff)))
        if ids:
            _delete(s, Visit, Visit.id.in_(ids))
        counts["ended_blacklist_entries"] = _delete(
            s, BlacklistEntry, BlacklistEntry.org == slug,
            or_(BlacklistEntry.removed_at < cutoff, BlacklistEntry.until < cutoff))
        orphans = list(s.execute(select(Visitor.id, Visitor.photo_sha256,
                                        Visitor.id_scan_sha256).where(
            Visitor.org == slug, Visitor.updated_at < cutoff,
            ~exists().where(Visit.visitor_id == Visitor.id))))
        counts["visitors"] = len(orphans)
        if orphans:
            _delete(s, Visitor, Visitor.id.in_([o.id for o in orphans]))
        digests = {d for o in orphans for d in (o.photo_sha256, o.id_scan_sha256) if d}
        if any(counts.values()):
            audit.record(s, "retention.visits_destroyed", org=slug, reason=reason, **counts)
    _delete_images(px, digests)
    return len(ids), reason


def _delete(s: Any, model: Any, *where: Any) -> int:
    return s.execute(delete(model).where(*where)
                     .execution_options(synchronize_session=False)).rowcount or 0


def _delete_images(px: Pishkhan, digests: set[str]) -> None:
    """After the commit; an image another visitor row still uses stays."""
    if not digests:
        return
    with px.sessions() as s:
        kept = set(s.scalars(select(Visitor.photo_sha256).where(
            Visitor.photo_sha256.in_(digests)))) | set(s.scalars(select(
                Visitor.id_scan_sha256).where(Visitor.id_scan_sha256.in_(digests))))
    store = images.store(px)
    for digest in sorted(digests - kept):
        if store.claim(digest):
            store.purge(digest)
