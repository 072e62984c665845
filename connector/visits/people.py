"""Visitors: who they are (Iranian by national code, foreign by passport and nationality), how a
returning one is found, and their file — past visits, letters handed in under the same national
code, incidents."""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Mapping

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.domain.errors import NotFound, ValidationError, msg
from connector.domain.normalize import digits_only, national_code, text
from connector.domain.normalize import mobile as clean_mobile
from connector.store.models import Letter
from connector.store.visits import BlacklistEntry, GateScan, Visit, VisitAlert, Visitor

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

MSG = {key: msg(f"visit.{key}") for key in (
    "national_code", "passport", "nationality", "first_name", "last_name", "mobile")}
_PASSPORT = re.compile(r"^[A-Z0-9]{5,20}$")


@dataclass
class Identity:
    """What the desk types about a person; ``clean`` checks and normalizes it in place."""

    kind: str = "iranian"
    national_code: str = ""
    passport: str = ""
    nationality: str = ""
    first_name: str = ""
    last_name: str = ""
    father_name: str = ""
    mobile: str = ""
    errors: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Identity:
        names = {f.name for f in fields(cls)} - {"errors"}
        return cls(**{k: str(data.get(k, "") or "") for k in names})

    def clean(self, *, names_required: bool = True) -> Identity:
        """Raises ValidationError with a Persian message per field."""
        errors: dict[str, str] = {}
        self.kind = "foreign" if self.kind == "foreign" else "iranian"
        if self.kind == "iranian":
            code = national_code(self.national_code)
            if code is None:
                errors["national_code"] = MSG["national_code"]
            else:
                self.national_code = code
            self.passport = self.nationality = ""
        else:
            self.passport = digits_only(self.passport).upper()
            self.nationality = text(self.nationality)
            if not _PASSPORT.match(self.passport):
                errors["passport"] = MSG["passport"]
            if not self.nationality:
                errors["nationality"] = MSG["nationality"]
            self.national_code = ""
        self.first_name, self.last_name = text(self.first_name), text(self.last_name)
        self.father_name = text(self.father_name)
        if names_required:
            for key in ("first_name", "last_name"):
                if not getattr(self, key):
                    errors[key] = MSG[key]
        if self.mobile.strip():
            m = clean_mobile(self.mobile)
            if m is None:
                errors["mobile"] = MSG["mobile"]
            else:
                self.mobile = m
        if errors:
            raise ValidationError(errors)
        return self

    def key(self) -> dict[str, str]:
        return {"kind": self.kind, "national_code": self.national_code,
                "passport": self.passport, "nationality": self.nationality}


def _where_identity(org: str, ident: Identity) -> Any:
    return select(Visitor).where(Visitor.org == org, *(getattr(Visitor, k) == v
                                                       for k, v in ident.key().items()))


def find_in(session: Session, org: str, ident: Identity) -> Visitor | None:
    return session.scalars(_where_identity(org, ident)).first()


def find(px: Pishkhan, org: str, national_code_or_passport: str) -> Visitor | None:
    """A returning visitor by national code (any digits) or passport number."""
    typed = digits_only(national_code_or_passport).upper()
    code = national_code(typed)
    with px.sessions() as s:
        cond = Visitor.national_code == code if code else Visitor.passport == typed
        return s.scalars(select(Visitor).where(Visitor.org == org, cond)).first()


def upsert(session: Session, org: str, ident: Identity) -> Visitor:
    """The visitor with this identity, created or brought up to date with what was typed now
    (a blank field keeps what we had). Two desks admitting the same new person at once end up
    with one row: the unique constraint decides, the loser reads the winner's row."""
    visitor = find_in(session, org, ident)
    if visitor is None:
        try:
            with session.begin_nested():
                visitor = Visitor(org=org, **ident.key(), first_name=ident.first_name,
                                  last_name=ident.last_name, father_name=ident.father_name,
                                  mobile=ident.mobile)
                session.add(visitor)
                session.flush()
            return visitor
        except IntegrityError:
            visitor = find_in(session, org, ident)
            assert visitor is not None
    for key in ("first_name", "last_name", "father_name", "mobile"):
        value = getattr(ident, key)
        if value:
            setattr(visitor, key, value)
    return visitor


@dataclass
class VisitorFile:
    visitor: Visitor
    visits: list[Visit]
    letters: list[Letter]
    scans: list[GateScan]
    alerts: list[VisitAlert]
    blacklist: list[BlacklistEntry]


def visitor_file(px: Pishkhan, org: str, visitor_id: int) -> VisitorFile:
    with px.sessions() as s:
        visitor = s.get(Visitor, visitor_id)
        if visitor is None or visitor.org != org:
            raise NotFound(f"visitor {visitor_id}")
        visits = list(s.scalars(select(Visit).where(Visit.visitor_id == visitor.id)
                                .order_by(Visit.window_start.desc())))
        ids = [v.id for v in visits] or [-1]
        letters = list(s.scalars(select(Letter).where(
            Letter.org == org, Letter.national_code == visitor.national_code,
            Letter.national_code != "").order_by(Letter.created_at.desc()).limit(50)))
        scans = list(s.scalars(select(GateScan).where(GateScan.visit_id.in_(ids))
                               .order_by(GateScan.at.desc()).limit(100)))
        alerts = list(s.scalars(select(VisitAlert).where(VisitAlert.visit_id.in_(ids))
                                .order_by(VisitAlert.at.desc()).limit(50)))
        conds = [BlacklistEntry.national_code == visitor.national_code] \
            if visitor.national_code else \
            [BlacklistEntry.passport == visitor.passport,
             BlacklistEntry.nationality == visitor.nationality]
        entries = list(s.scalars(select(BlacklistEntry).where(BlacklistEntry.org == org, *conds)
                                 .order_by(BlacklistEntry.created_at.desc())))
        return VisitorFile(visitor, visits, letters, scans, alerts, entries)


def search(px: Pishkhan, org: str, query: str, limit: int = 20) -> list[Visitor]:
    """By national code, passport, mobile or a part of the name."""
    q = text(query)
    if not q:
        return []
    digits = digits_only(q).upper()
    with px.sessions() as s:
        return list(s.scalars(select(Visitor).where(Visitor.org == org, or_(
            Visitor.national_code == digits, Visitor.passport == digits,
            Visitor.mobile == (clean_mobile(q) or "-"),
            Visitor.last_name.contains(q), Visitor.first_name.contains(q)))
            .order_by(Visitor.updated_at.desc()).limit(limit)))
