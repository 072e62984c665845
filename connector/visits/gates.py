"""Gates: turnstile controllers and barcode readers, each with its own bearer token (only its
SHA-256 is stored). A scan is decided with one conditional UPDATE of the visit's state, so of
any number of simultaneous scans of one pass exactly one gets in (anti-passback), and each scan
is recorded with its gate, direction, time and decision."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.domain import tracking
from connector.domain.clock import local, now
from connector.domain.errors import Message, NotFound, PishkhanError, ValidationError, msg
from connector.domain.normalize import to_persian_digits
from connector.outbox import sms as outbox
from connector.outbox import webhook_events
from connector.store import audit
from connector.store.visits import Gate, GateScan, Visit
from connector.visits import blacklist, hosts
from connector.visits.usecases import pass_hash

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

DIRECTIONS = ("in", "out")
# Why a scan is denied: the catalog's code of each reason is ``gate.<why>``.
REASONS = ("unknown", "early", "expired", "used", "refused", "passback", "not_inside",
           "no_pass", "blacklisted")


class GateUnauthorized(PishkhanError):
    """No such gate, a revoked one, or a token that is not this gate's."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add(px: Pishkhan, org: str, name: str, direction: str = "both") -> tuple[Gate, str]:
    """A new gate and its token, shown this once."""
    px.org(org)
    if direction not in ("in", "out", "both"):
        raise ValidationError({"direction": "in, out or both"})
    token = "gt_" + secrets.token_urlsafe(32)
    try:
        with px.sessions() as s, s.begin():
            gate = Gate(org=org, name=name, token_hash=_hash(token), direction=direction)
            s.add(gate)
            s.flush()
            audit.record(s, "gate.add", org=org, gate=name)
    except IntegrityError:
        raise ValidationError({"name": f"gate {name!r} already exists in {org}"}) from None
    return gate, token


def rotate(px: Pishkhan, org: str, name: str) -> str:
    """A new token for an existing gate (the old one stops working); used by the demo."""
    token = "gt_" + secrets.token_urlsafe(32)
    with px.sessions() as s, s.begin():
        gate = s.scalars(select(Gate).where(Gate.org == org, Gate.name == name)).first()
        if gate is None:
            raise NotFound(f"gate {name!r}")
        gate.token_hash, gate.active = _hash(token), True
        audit.record(s, "gate.rotate", org=org, gate=name)
    return token


def revoke(px: Pishkhan, org: str, name: str) -> None:
    with px.sessions() as s, s.begin():
        gate = s.scalars(select(Gate).where(Gate.org == org, Gate.name == name)).first()
        if gate is None:
            raise NotFound(f"gate {name!r}")
        gate.active = False
        audit.record(s, "gate.revoke", org=org, gate=name)


def listing(px: Pishkhan, org: str | None = None) -> list[Gate]:
    with px.sessions() as s:
        stmt = select(Gate).order_by(Gate.org, Gate.name)
        return list(s.scalars(stmt.where(Gate.org == org) if org else stmt))


def by_token(px: Pishkhan, name: str, token: str) -> Gate:
    with px.sessions() as s:
        gate = s.scalars(select(Gate).where(Gate.token_hash == _hash(token or ""),
                                            Gate.active.is_(True))).first()
    if gate is None or gate.name != name:
        raise GateUnauthorized(name)
    return gate


def by_name(px: Pishkhan, org: str, name: str) -> Gate:
    with px.sessions() as s:
        gate = s.scalars(select(Gate).where(Gate.org == org, Gate.name == name,
                                            Gate.active.is_(True))).first()
    if gate is None:
        raise NotFound(f"gate {name!r}")
    return gate


@dataclass
class Decision:
    decision: str  # allow | deny
    direction: str
    reason: Message | None = None  # the catalog's gate.<why>, when denied
    visitor_name: str = ""
    visitor_id: int | None = None
    has_photo: bool = False
    visit_id: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"


def _why_not(visit: Visit, direction: str) -> str:
    """Why the conditional update did not match, from the row as it is now."""
    if direction == "out":
        return "not_inside"
    if visit.state == "inside":
        return "passback"
    if visit.state in ("left",):
        return "used"
    if visit.state == "refused":
        return "refused"
    if visit.state == "served" or visit.pass_hash is None:
        return "no_pass"
    if visit.window_start > now():
        return "early"
    return "expired"


def scan(px: Pishkhan, gate: Gate, code: str, direction: str | None = None) -> Decision:
    """Decide, record the scan, tell the host by SMS; all in one transaction."""
    at = now()
    with px.sessions() as s, s.begin():
        visit = s.scalars(select(Visit).where(
            Visit.org == gate.org, Visit.pass_hash == pass_hash(px, code))).first() \
            if tracking.clean(code) else None
        if direction not in DIRECTIONS:
            direction = gate.direction if gate.direction in DIRECTIONS else \
                "out" if visit is not None and visit.state == "inside" else "in"
        result = Decision("deny", direction)
        why, detail = "unknown", ""
        if visit is not None:
            result.visitor_name, result.visitor_id = visit.visitor.name, visit.visitor_id
            result.has_photo, result.visit_id = bool(visit.visitor.photo_sha256), visit.id
            entry = blacklist.active_for(s, gate.org, visit.visitor) if direction == "in" \
                else None
            if entry is not None:
                why, detail = "blacklisted", entry.reason
            elif direction == "in":
                moved = s.execute(update(Visit).where(
                    Visit.id == visit.id, Visit.state == "planned",
                    Visit.pass_hash.is_not(None), Visit.window_start <= at,
                    Visit.window_end >= at).values(state="inside", entered_at=at,
                                                   updated_at=at)).rowcount
                why = ""
                if not moved:
                    s.refresh(visit)
                    why = _why_not(visit, direction)
                    if why == "expired":  # keep lists honest: its window is over
                        s.execute(update(Visit).where(Visit.id == visit.id,
                                                      Visit.state == "planned")
                                  .values(state="expired", updated_at=at))
            else:  # leaving is never refused for the window: nobody is kept inside
                moved = s.execute(update(Visit).where(Visit.id == visit.id,
                                                      Visit.state == "inside")
                                  .values(state="left", left_at=at, updated_at=at)).rowcount
                why = "" if moved else "not_inside"
        if why == "":
            result.decision = "allow"
        else:
            result.reason = msg(f"gate.{why}", reason=detail)
        s.add(GateScan(org=gate.org, gate_id=gate.id, visit_id=visit.id if visit else None,
                       direction=direction, decision=result.decision,
                       reason=f"gate.{why}" if why else "", at=at))
        s.execute(update(Gate).where(Gate.id == gate.id).values(last_seen_at=at))
        _tell_integrators(s, gate, visit, direction, why)
        audit.record(s, f"gate.{result.decision}", org=gate.org, gate=gate.name,
                     direction=direction, visit=visit.id if visit else None,
                     why=why or None)
        if not result.allowed:
            blacklist.alert(s, gate.org, "scan_denied", msg(
                "alert.scan_denied", gate=gate.name, who=result.visitor_name,
                reason=f"gate.{why}", detail=detail), visit.id if visit else None)
        elif visit is not None:
            _tell_host(px, s, visit, direction, at)
        return result


def _tell_integrators(s: Session, gate: Gate, visit: Visit | None, direction: str,
                      why: str) -> None:
    """The scan's webhook event, in its transaction: the visit entered or left, or the gate
    denied it (without the code that was scanned)."""
    if why:
        webhook_events.gate_denied(s, gate.org, gate.name, direction, why, visit)
    elif visit is not None:
        s.refresh(visit)  # the conditional UPDATE changed the row, not the object
        webhook_events.visit_changed(s, visit, "entered" if direction == "in" else "left",
                                     gate.name)


def _tell_host(px: Pishkhan, s: Session, visit: Visit, direction: str, at: datetime) -> None:
    """The seed asks for it: the host learns by SMS when their visitor enters and leaves (the
    outbox holds it through quiet hours like any progress text)."""
    profile = hosts.profile_of(s, visit.host_user_id)
    if profile is None or not profile.mobile:
        return
    outbox.queue(s, px, "visit_entered" if direction == "in" else "visit_left", profile.mobile,
                 {"visitor": visit.visitor.name, "host": visit.host_name,
                  "time": to_persian_digits(local(at).strftime("%H:%M"))}, org=visit.org)
