"""Visits through the gates: the pass works once in and once out, in its window, never for a
blacklisted person; every scan is recorded; the host is told by SMS; simultaneous scans of one
pass let exactly one person in (PostgreSQL)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

import messages
from connector.bootstrap import bootstrap
from connector.domain.clock import ManualClock, now, use
from connector.domain.errors import ValidationError
from connector.outbox import sms as sms_outbox
from connector.people import staff
from connector.store import audit
from connector.store.db import upgrade
from connector.store.visits import GateScan, Visit, VisitAlert
from connector.visits import blacklist, gates, hosts, people
from connector.visits import usecases as visits
from tests.conftest import make_settings

CODE = "0076229645"


def said(message) -> str:
    """What the desk reads: the catalog's Persian sentence."""
    return messages.render(message)
HOST_MOBILE = "09351112233"


def ident(**kw: str) -> people.Identity:
    return people.Identity(**{"national_code": CODE, "first_name": "علی",
                              "last_name": "رضایی", "mobile": "09121234567", **kw})


def setup_host(px) -> None:
    staff.add_user(px, "host1", "long-enough-1", role="host", orgs=["demo"],
                   display_name="مهندس کریمی")
    hosts.set_profile(px, "host1", mobile=HOST_MOBILE, unit="")


def test_pass_in_then_out_and_the_host_hears_of_both(px):
    setup_host(px)
    reg = visits.register(px, "demo", ident(), host="host1", purpose="جلسه پروژه")
    assert reg.pass_code and len(reg.pass_code) == 12
    invite = sms_outbox.listing(px, to="09121234567")
    assert [n["kind"] for n in invite] == ["visit_invite"] and reg.pass_code in invite[0]["text"]
    with px.sessions() as s:  # only a keyed hash of the code is stored
        row = s.get(Visit, reg.visit.id)
        assert row.pass_hash and reg.pass_code not in row.pass_hash
    gate, token = gates.add(px, "demo", "main-gate")
    assert gates.by_token(px, "main-gate", token).id == gate.id
    with pytest.raises(gates.GateUnauthorized):
        gates.by_token(px, "other-gate", token)

    first = gates.scan(px, gate, reg.pass_code, "in")
    assert first.allowed and first.visitor_name == "علی رضایی"
    again = gates.scan(px, gate, reg.pass_code, "in")
    assert not again.allowed and "خارج نشده" in said(again.reason)  # anti-passback
    out = gates.scan(px, gate, "".join("۰۱۲۳۴۵۶۷۸۹"[int(c)] for c in reg.pass_code), "out")
    assert out.allowed  # Persian digits typed by a reader work too
    used = gates.scan(px, gate, reg.pass_code, "in")
    assert not used.allowed and "پیش‌تر استفاده" in said(used.reason)
    assert not gates.scan(px, gate, "123456789012", "in").allowed

    kinds = [n["kind"] for n in sms_outbox.listing(px, to=HOST_MOBILE)]
    assert sorted(kinds) == ["visit_entered", "visit_left"]
    with px.sessions() as s:
        scans = s.scalars(select(GateScan).order_by(GateScan.id)).all()
        assert [(x.direction, x.decision) for x in scans] == [
            ("in", "allow"), ("in", "deny"), ("out", "allow"), ("in", "deny"), ("in", "deny")]
        assert s.scalar(select(VisitAlert).where(VisitAlert.kind == "scan_denied")
                        .limit(1)) is not None
    actions = [r.action for r in audit.search(px, audit.Filters())]
    assert actions.count("gate.deny") == 3 and actions.count("gate.allow") == 2


def test_window_and_blacklist(px):
    setup_host(px)
    gate, _ = gates.add(px, "demo", "g1")
    start = now() + timedelta(hours=2)
    later = visits.register(px, "demo", ident(), host="host1", purpose="جلسه", start=start,
                            end=start + timedelta(hours=1))
    early = gates.scan(px, gate, later.pass_code, "in")
    assert not early.allowed and "نرسیده" in said(early.reason)
    with use(ManualClock(start + timedelta(hours=3))):
        late = gates.scan(px, gate, later.pass_code, "in")
    assert not late.allowed and "گذشته" in said(late.reason)
    assert visits.get(px, "demo", later.visit.id).state == "expired"

    unused = visits.register(px, "demo", ident(), host="host1", purpose="نیامد", start=start,
                             end=start + timedelta(hours=1))
    with use(ManualClock(start + timedelta(hours=3))):
        assert visits.expire_due(px) == 1  # the worker's sweep: nobody came
    assert visits.get(px, "demo", unused.visit.id).state == "expired"

    ok = visits.register(px, "demo", ident(), host="host1", purpose="جلسه دوم")
    blacklist.add(px, "demo", national_code_=CODE, reason="درگیری با نگهبان")
    denied = gates.scan(px, gate, ok.pass_code, "in")
    assert not denied.allowed and "درگیری با نگهبان" in said(denied.reason)
    with pytest.raises(visits.Blacklisted):
        visits.register(px, "demo", ident(), host="host1", purpose="باز هم")
    with pytest.raises(visits.Blacklisted):
        visits.admit(px, "demo", ok.visit.id)
    kinds = [a.kind for a in blacklist.open_alerts(px, "demo")]
    assert kinds.count("blacklisted") == 2 and "scan_denied" in kinds
    actions = [r.action for r in audit.search(px, audit.Filters())]
    assert actions.count("visit.blacklisted_attempt") == 2 and "blacklist.add" in actions


def test_identity_is_checked_and_a_returning_visitor_is_found(px):
    setup_host(px)
    with pytest.raises(ValidationError) as bad:
        visits.register(px, "demo", ident(national_code="0076229646"), host="host1",
                        purpose="x")
    assert "کد ملی" in said(bad.value.errors["national_code"])
    foreign = people.Identity(kind="foreign", passport="p 1234567", nationality="عراق",
                              first_name="Ahmed", last_name="Hassan")
    reg = visits.register(px, "demo", foreign, host="host1", purpose="بازدید")
    assert reg.visit.visitor.passport == "P1234567"
    visits.register(px, "demo", ident(), host="host1", purpose="یک")
    again = visits.register(px, "demo", ident(mobile=""), host="host1", purpose="دو")
    found = people.find(px, "demo", "۰۰۷۶۲۲۹۶۴۵")
    assert found is not None and found.id == again.visit.visitor_id
    assert found.mobile == "09121234567"  # a blank field keeps what we had
    assert people.find(px, "demo", "P1234567").id == reg.visit.visitor_id
    desk = visits.register(px, "demo", ident(), host="", purpose="", category=2, admit=True)
    assert desk.pass_code is None and desk.visit.state == "served"
    file = people.visitor_file(px, "demo", found.id)
    assert len(file.visits) == 3


def test_parallel_scans_of_one_pass_let_exactly_one_in(tmp_path, pg_url):
    upgrade(pg_url)
    px = bootstrap(make_settings(tmp_path, PISHKHAN_DATABASE_URL=pg_url))
    try:
        setup_host(px)
        reg = visits.register(px, "demo", ident(), host="host1", purpose="جلسه")
        gate, _ = gates.add(px, "demo", "main-gate")
        with ThreadPoolExecutor(max_workers=32) as pool:
            results = list(pool.map(lambda _: gates.scan(px, gate, reg.pass_code, "in"),
                                    range(48)))
        assert sum(r.allowed for r in results) == 1
        assert {r.reason.code for r in results if not r.allowed} == {"gate.passback"}
        with px.sessions() as s:
            assert len(s.scalars(select(GateScan)).all()) == 48
        assert [n["kind"] for n in sms_outbox.listing(px, to=HOST_MOBILE)] == ["visit_entered"]

        # 32 desks admitting the same new person at once: one visitor, 32 visits.
        newcomer = dict(national_code="0012345679", first_name="رضا", last_name="محمدی")
        with ThreadPoolExecutor(max_workers=32) as pool:
            made = list(pool.map(lambda _: visits.register(
                px, "demo", people.Identity(**newcomer), host="host1", purpose="جلسه"),
                range(32)))
        assert len({r.visit.visitor_id for r in made}) == 1
        assert len(people.visitor_file(px, "demo", made[0].visit.visitor_id).visits) == 32
        assert audit.verify(px).ok
    finally:
        px.close()


def test_the_hosts_sms_waits_for_the_end_of_quiet_hours(tmp_path):
    from connector.domain import clock
    from tests.fakes import ScriptedGateway
    from tests.integration.test_sms_outbox import make_px
    a = ScriptedGateway("a")
    px = make_px(tmp_path, a, ScriptedGateway("b"))
    late = clock.ManualClock(datetime(2026, 11, 22, 19, 30))  # 23:00 in Tehran
    try:
        with use(late):
            setup_host(px)
            reg = visits.register(px, "demo", ident(mobile=""), host="host1",
                                  purpose="جلسه شبانه")
            gate, _ = gates.add(px, "demo", "night-gate")
            assert gates.scan(px, gate, reg.pass_code, "in").allowed
            sms_outbox.dispatch_due(px)
            [note] = sms_outbox.listing(px, to=HOST_MOBILE)
            assert note["kind"] == "visit_entered" and a.sent == {}
            late.advance(hours=8)  # 07:00 in Tehran
            assert sms_outbox.dispatch_due(px) == 1
            assert [to for to, _ in a.sent.values()] == [HOST_MOBILE]
    finally:
        px.close()


def test_retention_destroys_old_visits_then_the_visitor_and_photo(px):
    from connector.operations import retention
    from connector.visits import images
    setup_host(px)
    photo = b"\xff\xd8\xff" + b"photo" * 50
    old = visits.register(px, "demo", ident(), host="host1", purpose="قدیمی", photo=photo)
    gate, _ = gates.add(px, "demo", "g")
    assert gates.scan(px, gate, old.pass_code, "in").allowed
    assert gates.scan(px, gate, old.pass_code, "out").allowed
    assert not gates.scan(px, gate, "123456789012", "in").allowed  # an unknown card
    digest = old.visit.visitor.photo_sha256
    blacklist.add(px, "demo", national_code_="0012345679", reason="x",
                  until=now() + timedelta(days=1))
    later = now() + timedelta(days=400)
    dry = retention.run(px, dry_run=True, at=later)
    assert [(d.kind, d.count) for d in dry if d.kind == "visits"] == [("visits", 1)]
    assert images.get(px, digest) == photo  # a dry run destroys nothing
    done = retention.run(px, at=later)
    assert [(d.kind, d.count) for d in done if d.kind == "visits"] == [("visits", 1)]
    with px.sessions() as s:
        assert s.scalars(select(Visit)).all() == []
        assert s.scalars(select(GateScan)).all() == []
        assert s.scalars(select(VisitAlert)).all() == []
    assert people.find(px, "demo", CODE) is None
    with pytest.raises(Exception):
        images.get(px, digest)
    assert blacklist.listing(px, "demo") == []  # ended long ago by then
    [record] = [r for r in audit.search(px, audit.Filters())
                if r.action == "retention.visits_destroyed"]
    assert record.detail["visits"] == 1 and record.detail["visitors"] == 1
    assert record.detail["scans"] == 3 and record.detail["ended_blacklist_entries"] == 1
