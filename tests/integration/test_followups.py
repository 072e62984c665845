"""Missing documents and objections against a real store (SQLite and PostgreSQL) and the fake
correspondence system: requests from the console and from the system, the files added on the
tracking page, the paused promise, objections once within the window, and the links."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from connector.delivery import polling
from connector.delivery import push as delivery
from connector.domain import clock
from connector.domain.errors import Forbidden, ValidationError
from connector.domain.letter import ChangeKind, State
from connector.letters import followups
from connector.letters import usecases as letters
from connector.letters.files import Upload
from connector.outbox import sms as sms_outbox
from connector.store.models import Letter

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
MOBILE, OTHER = "09121234567", "09351112233"


def _submit(px, org="demo-portal"):
    form = letters.LetterForm(applicant_type="natural", national_code="0076229645",
                              first_name="علی", last_name="کریمی", subject="پروانه ساخت",
                              body="متن", service="general")
    return letters.submit(px, org, form, [Upload("a.pdf", PDF)], MOBILE)


def _letter(px, code):
    with px.sessions() as s:
        return s.scalars(select(Letter).where(Letter.tracking_code == code)).one()


def _texts(px, kind):
    return [m for m in sms_outbox.listing(px, to=MOBILE) if m["kind"] == kind]


def test_console_request_before_delivery_files_join_the_letter_and_the_promise_waits(fake_px):
    px, system = fake_px
    letter = _submit(px)
    code, due = letter.tracking_code, letter.due_date
    with pytest.raises(ValidationError):
        followups.request_documents(px, code, "op", "  ")
    followups.request_documents(px, code, "op", "تصویر سند ملک را بفرستید.")
    waiting = _letter(px, code)
    assert waiting.state == "awaiting_documents" and waiting.resume_state == "awaiting_approval"
    [sms] = _texts(px, "documents_requested")
    assert "تصویر سند ملک" in sms["text"] and f"/t/{code}" in sms["text"]
    view = letters.view(px, letters.get(px, code, MOBILE))
    assert view["documents_note"] == "تصویر سند ملک را بفرستید."
    # Waited for five days: Sat..Wed of some week hold at least 3 working days.
    with px.sessions() as s, s.begin():
        s.execute(update(Letter).where(Letter.tracking_code == code)
                  .values(paused_since=waiting.paused_since - timedelta(days=5)))
    with pytest.raises(ValidationError):
        followups.add_documents(px, code, MOBILE, [])
    with pytest.raises(Exception):
        followups.add_documents(px, code, OTHER, [Upload("b.pdf", PDF)])
    assert followups.add_documents(px, code, MOBILE, [Upload("sanad.pdf", PDF)]) is None
    back = _letter(px, code)
    assert back.state == "awaiting_approval" and back.paused_since is None
    assert len(letters.get(px, code, MOBILE).attachments) == 2
    gained = px.calendar("demo-portal").between(due, back.due_date)
    assert 3 <= gained <= 5  # the promise moved by the working days waited
    kinds = [e["kind"] for e in letters.view(px, letters.get(px, code, MOBILE))["timeline"]]
    assert kinds[-2:] == ["documents_requested", "documents_added"]
    with pytest.raises(Forbidden):
        followups.add_documents(px, code, MOBILE, [Upload("c.pdf", PDF)])  # not waiting now


def test_system_request_after_delivery_files_go_as_a_linked_follow_up(fake_px):
    px, system = fake_px
    code = _submit(px, "demo").tracking_code
    delivery.run_once(px)
    system.emit(code, ChangeKind.REGISTERED, number="1405/88")
    system.emit(code, ChangeKind.DOCUMENTS_REQUESTED, instruction="فیش واریزی")
    polling.poll_org(px, "demo")
    letter = _letter(px, code)
    assert letter.state == "awaiting_documents" and letter.resume_state == "registered"
    assert "فیش واریزی" in _texts(px, "documents_requested")[0]["text"]
    follow_up = followups.add_documents(px, code, MOBILE, [Upload("fish.pdf", PDF)])
    assert follow_up and _letter(px, code).state == "registered"
    delivery.run_once(px)
    sent = system.letters[system.by_reference[follow_up]]
    assert code in sent.body and "1405/88" in sent.body and "فیش واریزی" in sent.body
    assert [a.name for a in sent.attachments] == ["fish.pdf"]
    parent = letters.view(px, letters.get(px, code, MOBILE))
    child = letters.view(px, letters.get(px, follow_up, MOBILE))
    assert parent["linked"] == [{"tracking_code": follow_up, "kind": "documents"}]
    assert child["parent"] == code and child["link_kind"] == "documents"


def test_objection_once_within_the_window_as_a_linked_letter(fake_px):
    px, _ = fake_px
    code = _submit(px).tracking_code
    letters.reject(px, code, "op", "مدارک ناقص است")
    until = letters.view(px, letters.get(px, code, MOBILE))["objection_until"]
    assert until is not None
    with pytest.raises(ValidationError):
        followups.object_to(px, code, MOBILE, "", [])
    child = followups.object_to(px, code, MOBILE, "مدارک کامل بود", [Upload("x.pdf", PDF)])
    assert child.parent_id is not None and child.link_kind == "objection"
    assert child.state == "awaiting_approval" and child.unit_code == "sec"
    assert code in child.body and "مدارک ناقص است" in child.body
    assert [m["letter"] for m in _texts(px, "receipt")][0] == child.tracking_code
    with pytest.raises(Forbidden) as once:
        followups.object_to(px, code, MOBILE, "باز هم", [])
    assert once.value.args[0] == followups.MSG["once"]
    parent = letters.view(px, letters.get(px, code, MOBILE))
    assert parent["objection_until"] is None
    assert parent["timeline"][-1]["kind"] == "objected"
    import messages
    assert child.tracking_code in messages.render(parent["timeline"][-1]["text"])


def test_no_objection_after_the_window_or_to_a_letter_not_rejected(fake_px):
    px, _ = fake_px
    open_letter = _submit(px).tracking_code
    with pytest.raises(Forbidden):
        followups.object_to(px, open_letter, MOBILE, "اعتراض", [])
    code = _submit(px).tracking_code
    letters.reject(px, code, "op", "نامربوط")
    later = clock.ManualClock(clock.now() + timedelta(days=30))  # > 10 working days
    with clock.use(later):
        assert letters.view(px, letters.get(px, code, MOBILE))["objection_until"] is None
        with pytest.raises(Forbidden) as late:
            followups.object_to(px, code, MOBILE, "اعتراض", [])
        assert late.value.args[0] == followups.MSG["window"]


def test_parallel_objections_keep_one(tmp_path, pg_url):
    from connector.bootstrap import bootstrap
    from connector.store.db import upgrade
    from tests.conftest import make_settings
    from tests.fakes import FakeSystem, RecordingGateway
    settings = make_settings(tmp_path, PISHKHAN_DATABASE_URL=pg_url)
    upgrade(pg_url)
    system, gateway = FakeSystem(), RecordingGateway()
    px = bootstrap(settings, adapters={"demo-portal": system},
                   gateways={"": gateway, "demo-portal": gateway})
    try:
        code = _submit(px).tracking_code
        letters.reject(px, code, "op", "نامربوط")
        start = threading.Barrier(32)

        def objection(i):
            start.wait()
            try:
                return followups.object_to(px, code, MOBILE, f"اعتراض {i}", []).tracking_code
            except Forbidden:
                return None

        with ThreadPoolExecutor(32) as pool:
            made = [c for c in pool.map(objection, range(32)) if c]
        assert len(made) == 1
        with px.sessions() as s:
            assert len(s.scalars(select(Letter).where(Letter.link_kind == "objection")).all()) == 1
    finally:
        px.close()


def test_tracking_page_takes_the_files_and_the_objection(client, px):
    import io

    from tests.integration.test_portal_pages import csrf, page, web_login
    web_login(client, px)
    code = _submit(px).tracking_code
    followups.request_documents(px, code, "op", "کپی شناسنامه")
    html = page(client.get(f"/t/{code}"))
    assert 'id="documents"' in html and "کپی شناسنامه" in html
    token = csrf(client, f"/t/{code}")
    r = client.post(f"/t/{code}/documents", data={"csrf_token": token},
                    content_type="multipart/form-data")
    assert r.status_code == 400 and "دست‌کم یک فایل" in page(r)
    r = client.post(f"/t/{code}/documents", data={
        "csrf_token": token, "attachments": [(io.BytesIO(PDF), "shenasnameh.pdf")]},
        content_type="multipart/form-data")
    assert r.status_code == 302
    assert _letter(px, code).state == State.AWAITING_APPROVAL.value
    letters.reject(px, code, "op", "نامربوط")
    html = page(client.get(f"/t/{code}"))
    assert 'id="objection"' in html
    r = client.post(f"/t/{code}/objection", data={"csrf_token": csrf(client, f"/t/{code}"),
                                                  "objection": "به واحد درست فرستادم"},
                    content_type="multipart/form-data")
    assert r.status_code == 302
    child = r.headers["Location"].rsplit("/", 1)[-1]
    assert code in page(client.get(f"/t/{child}"))


def test_console_asks_for_a_document(client, px):
    from connector.people import staff
    from tests.conftest import csrf_of, staff_login
    staff.add_user(px, "ctl", "long-enough-1", role="controller", orgs=["demo-portal"])
    staff_login(client, "ctl")
    code = _submit(px).tracking_code
    queue = client.get("/console/demo-portal").get_data(as_text=True)
    assert f"/console/demo-portal/letters/{code}/request-documents" in queue
    url = f"/console/demo-portal/letters/{code}/request-documents"
    r = client.post(url, data={"csrf_token": csrf_of(queue), "note": ""})
    assert r.status_code == 400 and "چه مدرکی لازم است" in r.get_data(as_text=True)
    r = client.post(url, data={"csrf_token": csrf_of(queue), "note": "نقشه ملک"})
    assert r.status_code == 302 and _letter(px, code).state == "awaiting_documents"
    assert code not in client.get("/console/demo-portal").get_data(as_text=True)


class FilesSystem(__import__("tests.fakes", fromlist=["FakeSystem"]).FakeSystem):
    """The fake system, able to add files to a letter it holds (as the ODBC profile can)."""

    from connector.domain.letter import Capabilities as _C
    capabilities = _C(reply_download=True, add_attachments=True)

    def __init__(self) -> None:
        super().__init__()
        self.added: dict[str, list[str]] = {}
        self.fail_add: list[Exception] = []

    def add_attachments(self, external_id, tracking_code, attachments):
        if self.fail_add:
            raise self.fail_add.pop(0)
        names = self.added.setdefault(external_id, [])
        names += [a.name for a in attachments if a.name not in names]


@pytest.fixture
def files_px(tmp_path, store_url):
    from connector.bootstrap import bootstrap
    from connector.store.db import upgrade
    from tests.conftest import make_settings
    from tests.fakes import RecordingGateway
    settings = make_settings(tmp_path, PISHKHAN_DATABASE_URL=store_url)
    upgrade(store_url)
    system, gateway = FilesSystem(), RecordingGateway()
    px = bootstrap(settings, adapters={"demo": system}, gateways={"": gateway, "demo": gateway})
    yield px, system
    px.close()


def _waiting_in_system(px, system):
    code = _submit(px, "demo").tracking_code
    delivery.run_once(px)
    system.emit(code, ChangeKind.DOCUMENTS_REQUESTED, instruction="سند")
    polling.poll_org(px, "demo")
    return code


def test_files_reach_the_same_letter_where_the_system_can_add_them(files_px):
    from connector.delivery import documents
    from connector.domain.errors import AmbiguousError
    px, system = files_px
    code = _waiting_in_system(px, system)
    assert followups.add_documents(px, code, MOBILE, [Upload("sanad.pdf", PDF)]) is None
    letter = _letter(px, code)
    assert letter.pending_files == [1] and letter.state == "delivered"
    system.fail_add.append(AmbiguousError("timeout after sending"))
    assert documents.push_pending(px) == 1
    assert _letter(px, code).files_retry_at > clock.now()  # backs off
    with clock.use(clock.ManualClock(clock.now() + timedelta(minutes=5))):
        assert documents.push_pending(px) == 1
    external = system.by_reference[code]
    assert system.added[external] == ["sanad.pdf"]
    done = _letter(px, code)
    assert done.pending_files is None and done.files_retry_at is None
    kinds = [e["kind"] for e in letters.view(px, letters.get(px, code, MOBILE))["timeline"]]
    assert kinds[-1] == "documents_delivered"
    assert documents.push_pending(px) == 0


def test_files_the_system_refuses_go_as_a_follow_up_letter(files_px):
    from connector.delivery import documents
    from connector.domain.errors import PermanentError
    px, system = files_px
    code = _waiting_in_system(px, system)
    followups.add_documents(px, code, MOBILE, [Upload("sanad.pdf", PDF)])
    system.fail_add.append(PermanentError("letter is archived"))
    documents.push_pending(px)
    view = letters.view(px, letters.get(px, code, MOBILE))
    [linked] = view["linked"]
    assert view["timeline"][-1]["kind"] == "documents_follow_up"
    delivery.run_once(px)
    sent = system.letters[system.by_reference[linked["tracking_code"]]]
    assert [a.name for a in sent.attachments] == ["sanad.pdf"] and code in sent.body


def test_a_second_batch_keeps_the_first_and_each_file_goes_once(files_px):
    """Files of an earlier request still pending, or taken by the worker while the citizen adds
    more, are neither dropped nor sent twice."""
    from connector.delivery import documents
    px, system = files_px
    code = _waiting_in_system(px, system)
    followups.add_documents(px, code, MOBILE, [Upload("x.pdf", PDF)])
    followups.request_documents(px, code, "ctl", "فیش")
    followups.add_documents(px, code, MOBILE, [Upload("y.pdf", PDF)])
    assert _letter(px, code).pending_files == [1, 2]
    [job] = documents._claim(px, 10)  # the worker takes both …
    followups.request_documents(px, code, "ctl", "نقشه")
    followups.add_documents(px, code, MOBILE, [Upload("z.pdf", PDF)])  # … z.pdf comes meanwhile
    px.adapter("demo").add_attachments(job.external_id, job.code, job.files)
    assert documents._settle(px, job, None) == "sent"
    assert _letter(px, code).pending_files == [3]
    assert documents.push_pending(px) == 1 and documents.push_pending(px) == 0
    assert system.added[system.by_reference[code]] == ["x.pdf", "y.pdf", "z.pdf"]


class CountingSystem(FilesSystem):
    """Records every file it is sent, so a file sent twice shows."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def add_attachments(self, external_id, tracking_code, attachments):
        self.sent += [a.name for a in attachments]


def test_parallel_batches_of_documents_are_all_kept_and_sent_once(tmp_path, pg_url):
    """32 citizens' requests (each asked for, then added) race each other and 4 workers sending
    files on PostgreSQL: every file is kept and reaches the system exactly once."""
    from connector.bootstrap import bootstrap
    from connector.delivery import documents
    from connector.domain.errors import InvalidTransition
    from connector.store.db import upgrade
    from tests.conftest import make_settings
    from tests.fakes import RecordingGateway
    settings = make_settings(tmp_path, PISHKHAN_DATABASE_URL=pg_url)
    upgrade(pg_url)
    system, gateway = CountingSystem(), RecordingGateway()
    px = bootstrap(settings, adapters={"demo": system}, gateways={"": gateway, "demo": gateway})
    try:
        code = _waiting_in_system(px, system)
        start, adding = threading.Barrier(36), threading.Event()

        def add(i):
            start.wait()
            for _ in range(500):
                try:
                    followups.request_documents(px, code, "ctl", f"سند {i}")
                except InvalidTransition:
                    pass  # already waiting: another request was first
                try:
                    followups.add_documents(px, code, MOBILE, [Upload(f"s{i}.pdf", PDF)])
                    return True
                except Forbidden:
                    continue  # another citizen's files came first: ask again
            return False

        def work(_):
            start.wait()
            while not adding.is_set():
                documents.push_pending(px)

        with ThreadPoolExecutor(36) as pool:
            workers = [pool.submit(work, w) for w in range(4)]
            assert all(pool.map(add, range(32)))
            adding.set()
            for w in workers:
                w.result()
        while documents.push_pending(px):
            pass
        assert sorted(system.sent) == sorted(f"s{i}.pdf" for i in range(32))
        assert _letter(px, code).pending_files is None
        assert len(letters.get(px, code).attachments) == 33
    finally:
        px.close()
