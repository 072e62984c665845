"""The event types of their own — documents requested and added, objections, the in-person
desk's visits and gates — against the real loopback receiver: each arrives once, signed, with
the data the OpenAPI document describes (validated against it); a subscription gets only the
types it names; and a change that rolls back (a real database failure, raised by a trigger
later in the same transaction) queues nothing."""
from __future__ import annotations

import hashlib
import json

import jsonschema
import pytest
from sqlalchemy import text

from connector.delivery import polling
from connector.delivery import push as delivery
from connector.domain.errors import ValidationError
from connector.domain.letter import ChangeKind
from connector.letters import followups
from connector.letters import usecases as letters
from connector.letters.files import Upload
from connector.outbox import webhook_types, webhooks
from connector.people import staff
from connector.visits import gates, hosts, people
from connector.visits import usecases as visits
from portal.openapi import document
from tests.integration.test_webhooks import SECRET, Receiver, _px, _rows

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
MOBILE, CODE = "09121234567", "0076229645"
P = webhook_types.PREFIX
DOC = document("http://127.0.0.1", 10 * 1024 * 1024)


def conforms(event: dict) -> None:
    """The event is what the OpenAPI document's ``webhooks`` entry for its type says."""
    body = DOC["webhooks"][event["type"]]["post"]["requestBody"]["content"]
    schema = {**body["application/cloudevents+json"]["schema"],
              "components": DOC["components"]}
    jsonschema.Draft202012Validator(schema).validate(event)


def delivered(px, receiver: Receiver) -> list[dict]:
    """Send what is due; every request must be signed with the subscription's secret."""
    while webhooks.dispatch_due(px, concurrency=1):
        pass
    for headers, body in receiver.requests:
        assert webhooks.verify(SECRET, body, headers["x-pishkhan-signature"])
    events = receiver.events()
    assert len({e["id"] for e in events}) == len(events)  # each once
    for event in events:
        conforms(event)
    return events


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def wpx(tmp_path, store_url):
    px = _px(tmp_path, store_url)
    yield px
    px.close()


def _submit(px, org="demo-portal"):
    form = letters.LetterForm(applicant_type="natural", national_code=CODE, first_name="علی",
                              last_name="کریمی", subject="پروانه ساخت", body="متن",
                              service="general")
    return letters.submit(px, org, form, [Upload("a.pdf", PDF)], MOBILE)


def test_documents_asked_for_in_the_console_and_added_are_events_of_the_letter(wpx, receiver):
    webhooks.subscribe(wpx, "demo-portal", receiver.url, "WEBHOOK_SECRET",
                       [f"{P}letter.documents_requested", f"{P}letter.documents_added"])
    code = _submit(wpx).tracking_code
    followups.request_documents(wpx, code, "op", "تصویر سند ملک را بفرستید.")
    followups.add_documents(wpx, code, MOBILE, [Upload("sanad.pdf", PDF)])
    asked, added = delivered(wpx, receiver)
    assert asked["type"] == f"{P}letter.documents_requested" and asked["subject"] == code
    assert asked["data"] == {"tracking_code": code, "letter_number": None,
                             "note": "تصویر سند ملک را بفرستید.", "requested_in": "console",
                             "resume_status": "awaiting_approval"}
    assert added["type"] == f"{P}letter.documents_added" and added["subject"] == code
    assert added["data"]["files"] == [{"name": "sanad.pdf", "content_type": "application/pdf",
                                       "size": len(PDF),
                                       "sha256": hashlib.sha256(PDF).hexdigest()}]
    assert added["data"]["added_to"] == "letter" and added["data"]["status"] == \
        "awaiting_approval" and added["data"]["follow_up_tracking_code"] is None
    assert b"%PDF" not in receiver.requests[1][1]  # names and digests, never the contents
    assert webhooks.dispatch_due(wpx) == 0


def test_a_request_from_the_system_and_files_sent_as_a_follow_up(wpx, receiver):
    system = wpx.adapter("demo")
    webhooks.subscribe(wpx, "demo", receiver.url, "WEBHOOK_SECRET",
                       [f"{P}letter.documents_requested", f"{P}letter.documents_added"])
    code = _submit(wpx, "demo").tracking_code
    delivery.run_once(wpx)
    system.emit(code, ChangeKind.REGISTERED, number="1405/88")
    system.emit(code, ChangeKind.DOCUMENTS_REQUESTED, instruction="فیش واریزی")
    polling.poll_org(wpx, "demo")
    follow_up = followups.add_documents(wpx, code, MOBILE, [Upload("fish.pdf", PDF)])
    asked, added = delivered(wpx, receiver)
    assert asked["data"]["requested_in"] == "system" and asked["data"]["note"] == "فیش واریزی"
    assert asked["data"]["letter_number"] == "1405/88" and \
        asked["data"]["resume_status"] == "registered"
    assert added["data"]["added_to"] == "follow_up" and \
        added["data"]["follow_up_tracking_code"] == follow_up
    assert added["data"]["status"] == "registered"


def test_an_objection_is_an_event_of_the_rejected_letter_linking_both_codes(wpx, receiver):
    webhooks.subscribe(wpx, "demo-portal", receiver.url, "WEBHOOK_SECRET",
                       [f"{P}letter.objection_filed"])
    code = _submit(wpx).tracking_code
    letters.reject(wpx, code, "op", "مدارک ناقص است")
    child = followups.object_to(wpx, code, MOBILE, "مدارک کامل بود", [Upload("x.pdf", PDF)])
    (event,) = delivered(wpx, receiver)  # not the rejection, not the objection's own letter
    assert event["type"] == f"{P}letter.objection_filed" and event["subject"] == code
    data = event["data"]
    assert data["tracking_code"] == code and data["objection_tracking_code"] == \
        child.tracking_code
    assert data["unit_code"] == "sec" and data["objection_status"] == "awaiting_approval"
    assert [f["name"] for f in data["files"]] == ["x.pdf"]


def _host(px) -> None:
    staff.add_user(px, "host1", "long-enough-1", role="host", orgs=["demo"],
                   display_name="مهندس کریمی")
    hosts.set_profile(px, "host1", mobile="09351112233", unit="")


def _ident() -> people.Identity:
    return people.Identity(national_code=CODE, first_name="علی", last_name="رضایی",
                           mobile=MOBILE)


def test_visits_and_denied_scans_are_events_without_pass_codes(wpx, receiver):
    _host(wpx)
    webhooks.subscribe(wpx, "demo", receiver.url, "WEBHOOK_SECRET",
                       [f"{P}visit.{w}" for w in ("planned", "admitted", "entered", "left",
                                                  "refused")] + [f"{P}gate.denied"])
    planned = visits.register(wpx, "demo", _ident(), host="host1", purpose="جلسه")
    visits.admit(wpx, "demo", planned.visit.id)
    gate, _token = gates.add(wpx, "demo", "main-gate")
    assert gates.scan(wpx, gate, planned.pass_code, "in").allowed
    assert not gates.scan(wpx, gate, planned.pass_code, "in").allowed  # passback
    assert gates.scan(wpx, gate, planned.pass_code, "out").allowed
    assert not gates.scan(wpx, gate, "123456789012", "in").allowed  # no pass of ours
    other = visits.register(wpx, "demo", _ident(), host="host1", purpose="دوباره")
    visits.refuse(wpx, "demo", other.visit.id, "میزبان در سفر است")
    events = delivered(wpx, receiver)
    vid, oid = str(planned.visit.id), str(other.visit.id)
    assert [(e["type"], e.get("subject")) for e in events] == [
        (f"{P}visit.planned", vid), (f"{P}visit.admitted", vid), (f"{P}visit.entered", vid),
        (f"{P}gate.denied", vid), (f"{P}visit.left", vid), (f"{P}gate.denied", None),
        (f"{P}visit.planned", oid), (f"{P}visit.refused", oid)]
    entered, passback, left, unknown = events[2]["data"], events[3]["data"], \
        events[4]["data"], events[5]["data"]
    assert entered["state"] == "inside" and entered["gate"] == "main-gate" and \
        entered["entered_at"] and entered["admitted_at"]
    assert left["state"] == "left" and left["left_at"]
    assert passback["reason"] == "passback" and passback["visit_id"] == planned.visit.id
    assert unknown == {"gate": "main-gate", "direction": "in", "reason": "unknown",
                       "visit_id": None, "visitor": None}
    assert events[7]["data"]["refusal_reason"] == "میزبان در سفر است"
    assert entered["visitor"]["national_code"] == "******9645"
    assert entered["host"] == "مهندس کریمی" and entered["category"] == 3
    raw = b"".join(body for _, body in receiver.requests).decode()
    for secret in (planned.pass_code, other.pass_code, CODE, MOBILE, "09351112233"):
        assert secret not in raw


def test_a_walk_in_admitted_at_the_desk_is_one_admitted_event(wpx, receiver):
    webhooks.subscribe(wpx, "demo", receiver.url, "WEBHOOK_SECRET")
    served = visits.register(wpx, "demo", _ident(), host="", purpose="پرسش", category=1,
                             admit=True)
    (event,) = delivered(wpx, receiver)
    assert event["type"] == f"{P}visit.admitted" and event["data"]["state"] == "served"
    assert event["subject"] == str(served.visit.id) and served.pass_code is None


def _fail(px, name: str, table: str, condition: str) -> None:
    """A real failure of the database later in the same transaction: a SQLite trigger whose
    arithmetic overflows (an OperationalError, which no code of ours takes for a conflict)."""
    with px.engine.begin() as conn:
        conn.execute(text(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} WHEN {condition} "
                          "BEGIN SELECT abs(-9223372036854775807 - 1); END"))


def _heal(px, name: str) -> None:
    with px.engine.begin() as conn:
        conn.execute(text(f"DROP TRIGGER {name}"))


def test_a_change_that_rolls_back_queues_none_of_its_events(tmp_path, receiver):
    px = _px(tmp_path, f"sqlite:///{tmp_path / 'store.db'}")
    try:
        _host(px)
        webhooks.subscribe(px, "demo-portal", receiver.url, "WEBHOOK_SECRET")
        webhooks.subscribe(px, "demo", receiver.url, "WEBHOOK_SECRET")
        code = _submit(px).tracking_code
        gate, _token = gates.add(px, "demo", "main-gate")

        def attempt(trigger: str, table: str, condition: str, change) -> list[str]:
            """The change fails once (nothing new is queued), then succeeds: what it queued."""
            before = len(_rows(px))
            _fail(px, trigger, table, condition)
            with pytest.raises(Exception, match="integer overflow"):
                change()
            assert len(_rows(px)) == before, trigger
            _heal(px, trigger)
            change()
            return [r.type for r in _rows(px)[before:]]

        assert f"{P}letter.documents_requested" in attempt(
            "t1", "events", "NEW.kind = 'documents_requested'",
            lambda: followups.request_documents(px, code, "op", "سند"))
        assert f"{P}letter.documents_added" in attempt(
            "t2", "events", "NEW.kind = 'documents_added'",
            lambda: followups.add_documents(px, code, MOBILE, [Upload("b.pdf", PDF)]))
        letters.reject(px, code, "op", "ناقص")
        assert f"{P}letter.objection_filed" in attempt(
            "t3", "events", "NEW.kind = 'objected'",
            lambda: followups.object_to(px, code, MOBILE, "اعتراض دارم", []))
        made = []
        assert attempt("t4", "audit_records", "NEW.action = 'visit.register'",
                       lambda: made.append(visits.register(px, "demo", _ident(), host="host1",
                                                           purpose="جلسه"))) == \
            [f"{P}visit.planned"]
        reg = made[-1]
        assert attempt("t5", "audit_records", "NEW.action = 'visit.admit'",
                       lambda: visits.admit(px, "demo", reg.visit.id)) == [f"{P}visit.admitted"]
        assert attempt("t6", "audit_records", "NEW.action = 'gate.deny'",
                       lambda: gates.scan(px, gate, "123456789012", "in")) == \
            [f"{P}gate.denied"]
        assert attempt("t7", "audit_records", "NEW.action = 'gate.allow'",
                       lambda: gates.scan(px, gate, reg.pass_code, "in")) == \
            [f"{P}visit.entered"]
        other = visits.register(px, "demo", _ident(), host="host1", purpose="دوباره")
        assert attempt("t8", "audit_records", "NEW.action = 'visit.refuse'",
                       lambda: visits.refuse(px, "demo", other.visit.id, "نه")) == \
            [f"{P}visit.refused"]
        for event in delivered(px, receiver):
            assert event["type"] in webhook_types.TYPES
    finally:
        px.close()


def test_unknown_types_are_refused_in_persian_with_the_nearest_name(wpx):
    with pytest.raises(ValidationError) as caught:
        webhooks.subscribe(wpx, "demo", "https://hooks.example.ir/in", "WEBHOOK_SECRET",
                           [f"{P}visit.enterd", f"{P}gate.denied"])
    import messages
    said = messages.render(caught.value.errors["types"], "fa")
    assert "نمی‌شناسیم" in said and f"شاید منظورتان {P}visit.entered" in said
    assert f"{P}letter.objection_filed" in said  # the known ones are listed
    sub = webhooks.subscribe(wpx, "demo", "https://hooks.example.ir/in", "WEBHOOK_SECRET",
                             ["*", f"{P}gate.denied"])
    assert sub.types == ["*"]


def test_the_command_line_and_the_admin_page_offer_every_type(tmp_path):
    from click.testing import CliRunner

    from connector.cli import main
    from portal import create_app
    from tests.conftest import csrf_of, staff_login
    px = _px(tmp_path, f"sqlite:///{tmp_path / 'store.db'}")
    try:
        env = {k: v for k, v in px.settings.env.items() if k.startswith("PISHKHAN_")}
        run = CliRunner().invoke
        listed = json.loads(run(main, ["webhooks", "types", "--json"], env=env).output)
        assert [t["type"] for t in listed] == list(webhook_types.TYPES)
        added = run(main, ["webhooks", "add", "demo", "https://x.ir/h", "--secret-env", "S",
                           "--types", f"{P}visit.left,{P}gate.denied"], env=env)
        assert added.exit_code == 0, added.output
        refused = run(main, ["webhooks", "add", "demo", "https://x.ir/h", "--secret-env", "S",
                             "--types", "visit.exited"], env=env)
        assert refused.exit_code == 2 and "نمی‌شناسیم" in refused.output
        client = create_app(px, {"TESTING": True}).test_client()
        staff.add_user(px, "adm", "long-enough-1", role="org_admin", orgs=["demo"])
        staff_login(client, "adm")
        page = client.get("/admin/demo/webhooks").get_data(as_text=True)
        for t in webhook_types.TYPES:
            assert f'value="{t}"' in page
        assert "متقاضی به ردّ نامه اعتراض کرد" in page and "گیت راه نداد" in page
        bad = client.post("/admin/demo/webhooks", data={
            "csrf_token": csrf_of(page), "url": "https://x.ir/h", "secret_env": "S",
            "types": [f"{P}visit.left", f"{P}visit.gone"]})
        text_ = bad.get_data(as_text=True)
        assert bad.status_code == 400 and "نمی‌شناسیم" in text_
        assert f'value="{P}visit.left" checked' in text_  # the choice is kept
    finally:
        px.close()


def test_the_dashboard_counts_events_that_failed_and_will_be_tried_again(tmp_path, receiver):
    import re

    from portal import create_app
    from tests.conftest import staff_login
    px = _px(tmp_path, f"sqlite:///{tmp_path / 'store.db'}")
    try:
        client = create_app(px, {"TESTING": True}).test_client()
        staff.add_user(px, "adm", "long-enough-1", role="org_admin", orgs=["demo"])
        staff_login(client, "adm")
        webhooks.subscribe(px, "demo", receiver.url, "WEBHOOK_SECRET", [f"{P}gate.denied"])
        gate, _token = gates.add(px, "demo", "main-gate")
        gates.scan(px, gate, "123456789012", "in")
        receiver.plan = [503]
        webhooks.dispatch_due(px)
        assert webhooks.retrying(px, "demo") == 1
        page = client.get("/admin/demo").get_data(as_text=True)
        assert "۱ رویداد با خطا روبه‌رو شد و دوباره فرستاده می‌شود" in page
        assert "<h2>" not in re.search(r"<title>(.*?)</title>", page, re.S).group(1)
        events = client.get("/admin/demo/webhooks").get_data(as_text=True)
        assert f"{P}gate.denied" in events and "HTTP 503" in events
    finally:
        px.close()
