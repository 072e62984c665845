"""Missing documents and objections end to end against the real sandbox over loopback, in each
of its four dialects (reference, legacy, session SOAP and ODBC on its SQLite file): a request
from the console or from the sandbox's own controller reaches the citizen by SMS; the file the
citizen adds on the tracking page reaches the sandbox as an attachment of the same letter; a
rejection made in the sandbox can be objected to, and the objection arrives there linked to the
original and in the objections unit."""
from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from connector.bootstrap import bootstrap
from connector.delivery import documents, polling
from connector.letters import followups
from connector.letters import usecases as letters
from connector.outbox import sms as sms_outbox
from connector.people import staff
from connector.store.db import upgrade
from portal import create_app
from sandbox import letters as oa
from sandbox.state import get_sandbox
from tests.acceptance import MOBILE, PDF, deliver_until_done, set_option, submit_and_approve
from tests.conftest import csrf_of, make_settings, staff_login
from tests.integration.test_portal_pages import csrf, web_login
from tests.sandbox_server import start_sandbox

DIALECTS = ["demo", "demo-legacy", "demo-session", "demo-odbc"]
SCAN = b"%PDF-1.4\n% the citizen's scan\n%%EOF"


class Desk:
    """Pishkhan for one demo organization, the sandbox it delivers to, and two browsers."""

    def __init__(self, px, slug: str, base: str, app) -> None:
        self.px, self.slug, self.base = px, slug, base
        self.engine = get_sandbox(app).engine
        portal = create_app(px, {"TESTING": True})
        self.citizen, self.console = portal.test_client(), portal.test_client()

    def letter_in_sandbox(self) -> tuple[str, int]:
        """A letter submitted, approved where the console approves, and delivered."""
        (code,) = submit_and_approve(self.px, self.slug, 1)
        assert deliver_until_done(self.px, [code])[code] in ("registered", "delivered")
        return code, int(letters.get(self.px, code).external_id)

    def sms(self, kind: str) -> list[dict]:
        return [m for m in sms_outbox.listing(self.px, to=MOBILE) if m["kind"] == kind]

    def add_file_on_tracking_page(self, code: str, name: str) -> None:
        if not self.citizen.get_cookie("session"):
            web_login(self.citizen, self.px)
        page = self.citizen.get(f"/t/{code}").get_data(as_text=True)
        assert 'id="documents"' in page
        r = self.citizen.post(f"/t/{code}/documents", data={
            "csrf_token": csrf(self.citizen, f"/t/{code}"),
            "attachments": [(io.BytesIO(SCAN), name)]}, content_type="multipart/form-data")
        assert r.status_code == 302, r.get_data(as_text=True)

    def api(self, path: str, **body) -> dict:
        r = requests.post(f"{self.base}/api{path}", json=body, timeout=10)
        r.raise_for_status()
        return r.json()

    def links(self, letter_id: int) -> list[dict]:
        r = requests.get(f"{self.base}/api/letters/{letter_id}", timeout=10)
        return r.json()["links"]


@contextmanager
def desk(tmp_path: Path, slug: str, **options: str) -> Iterator[Desk]:
    # The ODBC organization reads the sandbox's SQLite file in Pishkhan's var folder.
    base, app, stop = start_sandbox(tmp_path,
                                    DATABASE_URL=f"sqlite:///{tmp_path / 'var' / 'sandbox.db'}")
    settings = make_settings(tmp_path, PISHKHAN_SANDBOX_URL=base)
    for key, value in options.items():
        set_option(settings.orgs_dir, slug, key, value)
    with (settings.orgs_dir / f"{slug}.toml").open("a", encoding="utf-8") as org:
        org.write('\n[objections]\nunit = "finance"\n')  # not the service's unit (sec)
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        yield Desk(px, slug, base, app)
    finally:
        px.close()
        stop()


@pytest.mark.parametrize("slug", DIALECTS)
def test_documents_asked_for_reach_the_same_letter_in_the_sandbox(tmp_path, slug) -> None:
    with desk(tmp_path, slug) as d:
        code, letter_id = d.letter_in_sandbox()
        before = [a.name for a in oa.get_letter(d.engine, letter_id).attachments]

        # 1. A controller asks in the console (which serves organizations that approve there;
        #    for the others, the use case it calls); the citizen is told by SMS.
        if d.px.org(slug).approval == "portal":
            staff.add_user(d.px, "ctl", "long-enough-1", role="controller", orgs=[slug])
            staff_login(d.console, "ctl")
            token = csrf_of(d.console.get("/console/").get_data(as_text=True))
            r = d.console.post(f"/console/{slug}/letters/{code}/request-documents",
                               data={"csrf_token": token, "note": "تصویر سند ملک"})
            assert r.status_code == 302
        else:
            followups.request_documents(d.px, code, "ctl", "تصویر سند ملک")
        assert letters.get(d.px, code).state == "awaiting_documents"
        [asked] = d.sms("documents_requested")
        assert "تصویر سند ملک" in asked["text"]
        d.add_file_on_tracking_page(code, "sanad.pdf")
        assert documents.push_pending(d.px) == 1
        held = oa.get_letter(d.engine, letter_id)
        assert [a.name for a in held.attachments] == before + ["sanad.pdf"]
        _, content = oa.get_attachment(d.engine, letter_id, held.attachments[-1].id)
        assert content == SCAN

        # 2. The sandbox's controller asks; the poller brings the request to the citizen.
        d.api(f"/letters/{letter_id}/request-documents", note="فیش واریزی عوارض")
        polling.poll_org(d.px, slug)
        assert letters.get(d.px, code).state == "awaiting_documents"
        assert any("فیش واریزی عوارض" in m["text"] for m in d.sms("documents_requested"))
        d.add_file_on_tracking_page(code, "fish.pdf")
        assert documents.push_pending(d.px) == 1
        held = oa.get_letter(d.engine, letter_id)
        assert [a.name for a in held.attachments] == before + ["sanad.pdf", "fish.pdf"]
        # Into the same letter: the sandbox holds no other letter, and nothing twice.
        assert [x.id for x in oa.list_letters(d.engine)] == [letter_id]
        assert documents.push_pending(d.px) == 0
        mine = letters.get(d.px, code)
        kinds = [e.kind for e in sorted(mine.events, key=lambda e: e.id)]
        assert kinds.count("documents_delivered") == 2
        assert mine.state in ("registered", "delivered")


@pytest.mark.parametrize("slug", DIALECTS)
def test_objection_to_a_sandbox_rejection_arrives_linked_to_the_original(tmp_path, slug) -> None:
    # Where the console approves, the letter is left pending in the sandbox (not numbered on
    # delivery) so the sandbox's controller can reject it.
    options = {"register_on_delivery": "false"} if slug in ("demo-legacy", "demo-session") \
        else {}
    with desk(tmp_path, slug, **options) as d:
        code, letter_id = d.letter_in_sandbox()
        d.api(f"/letters/{letter_id}/reject", reason="مدارک ناقص است")
        polling.poll_org(d.px, slug)
        assert letters.get(d.px, code).state == "rejected"

        web_login(d.citizen, d.px)
        r = d.citizen.post(f"/t/{code}/objection", data={
            "csrf_token": csrf(d.citizen, f"/t/{code}"), "objection": "مدارک کامل بود",
            "attachments": [(io.BytesIO(SCAN), "madarek.pdf")]},
            content_type="multipart/form-data")
        assert r.status_code == 302
        child = r.headers["Location"].rsplit("/", 1)[-1]
        if d.px.org(slug).approval == "portal":
            letters.approve(d.px, child, "operator")
        assert deliver_until_done(d.px, [child])[child] in ("registered", "delivered")

        objection_id = int(letters.get(d.px, child).external_id)
        held = oa.get_letter(d.engine, objection_id)
        assert held.reference == child and held.unit_code == "FIN"  # the objections unit
        assert code in held.body and "مدارک ناقص است" in held.body
        assert [a.name for a in held.attachments] == ["madarek.pdf"]
        link = {"letterId": objection_id, "relatedLetterId": letter_id, "relatedNumber": None,
                "relatedReference": code, "kind": "objection"}
        assert d.links(objection_id) == [link]
        assert d.links(letter_id) == [link]  # the original shows it too
        page = requests.get(f"{d.base}/letters/{objection_id}", timeout=10).text
        assert "اعتراض به" in page and code in page


def test_a_dialect_that_cannot_add_files_sends_a_linked_follow_up(tmp_path) -> None:
    """A reference profile without [add_attachments] (as some systems have no such call): the
    files go as a follow-up letter linked to the first, carrying its number."""
    from adapters.soap.profile import PROFILE_DIR
    text = (PROFILE_DIR / "reference.toml").read_text("utf-8")
    profile = tmp_path / "no-files.toml"
    profile.write_text(text[:text.index("# Files for a letter already")], "utf-8")
    with desk(tmp_path, "demo", profile=f'"{profile}"') as d:
        assert not d.px.adapter("demo").capabilities.add_attachments
        code, letter_id = d.letter_in_sandbox()
        number = oa.register(d.engine, letter_id).number
        polling.poll_org(d.px, "demo")
        d.api(f"/letters/{letter_id}/request-documents", note="نقشه تفکیکی")
        polling.poll_org(d.px, "demo")
        d.add_file_on_tracking_page(code, "naghsheh.pdf")
        [follow_up] = [x["tracking_code"] for x in letters.view(
            d.px, letters.get(d.px, code, MOBILE))["linked"]]
        assert deliver_until_done(d.px, [follow_up])[follow_up] == "delivered"
        held = oa.get_letter(d.engine, int(letters.get(d.px, follow_up).external_id))
        assert [a.name for a in held.attachments] == ["naghsheh.pdf"]
        assert code in held.body and "نقشه تفکیکی" in held.body
        assert d.links(held.id) == [{"letterId": held.id, "relatedLetterId": letter_id,
                                     "relatedNumber": number, "relatedReference": code,
                                     "kind": "documents"}]
        assert [a.name for a in oa.get_letter(d.engine, letter_id).attachments] == ["نامه.pdf"]


def test_cartable_button_asks_for_documents(tmp_path) -> None:
    with desk(tmp_path, "demo") as d:
        code, letter_id = d.letter_in_sandbox()
        page = requests.get(f"{d.base}/letters/{letter_id}", timeout=10).text
        assert "request_documents" in page and "چه مدرکی لازم است" in page
        r = requests.post(f"{d.base}/letters/{letter_id}/request_documents", data={"note": " "},
                          timeout=10)
        assert r.status_code == 400 and "بنویسید چه مدرکی لازم است" in r.text
        r = requests.post(f"{d.base}/letters/{letter_id}/request_documents",
                          data={"note": "کپی شناسنامه"}, timeout=10)
        assert r.status_code == 200 and "درخواست مدرک از فرستنده" in r.text
        assert oa.get_letter(d.engine, letter_id).status == "pending"  # it waits where it was
        polling.poll_org(d.px, "demo")
        assert letters.get(d.px, code).state == "awaiting_documents"
        assert "کپی شناسنامه" in d.sms("documents_requested")[0]["text"]
        # A closed letter cannot be asked about.
        d.api(f"/letters/{letter_id}/register")
        d.api(f"/letters/{letter_id}/answer", text="پاسخ")
        d.api(f"/letters/{letter_id}/close")
        r = requests.post(f"{d.base}/api/letters/{letter_id}/request-documents",
                          json={"note": "x"}, timeout=10)
        assert r.status_code == 409
        assert "request_documents" not in requests.get(f"{d.base}/letters/{letter_id}",
                                                       timeout=10).text
