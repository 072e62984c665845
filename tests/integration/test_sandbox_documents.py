"""Documents added to a letter already in the sandbox, where they could be lost or mistaken:
a second request before the first files went, same-named files (a phone sends every photo as
``image.jpg``; a document asked for is often named like the first), and files that could not
be added going as a follow-up letter without the ones already there. Against the real
sandbox over loopback, in each of its dialects."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import update

from connector.delivery import documents
from connector.domain.errors import AmbiguousError
from connector.letters import followups
from connector.letters import usecases as letters
from connector.letters.files import Upload
from connector.store.models import Letter
from sandbox import letters as oa
from tests.acceptance import MOBILE, PDF, deliver_until_done
from tests.integration.test_portal_pages import csrf, web_login
from tests.integration.test_sandbox_followups import DIALECTS, SCAN, desk


def _pdf(note: bytes, size: int) -> bytes:
    """A PDF of exactly ``size`` bytes, told apart by ``note``."""
    head, tail = b"%PDF-1.4\n% " + note, b"\n%%EOF"
    return head + b"." * (size - len(head) - len(tail)) + tail


def _add(d, code: str, files: list[tuple[bytes, str]]) -> None:
    if not d.citizen.get_cookie("session"):
        web_login(d.citizen, d.px)
    r = d.citizen.post(f"/t/{code}/documents", data={
        "csrf_token": csrf(d.citizen, f"/t/{code}"),
        "attachments": [(io.BytesIO(content), name) for content, name in files]},
        content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)


def _held(d, letter_id: int) -> list[tuple[str, bytes]]:
    held = oa.get_letter(d.engine, letter_id)
    return [(a.name, oa.get_attachment(d.engine, letter_id, a.id)[1]) for a in held.attachments]


def _kinds(d, code: str) -> list[str]:
    return [e.kind for e in sorted(letters.get(d.px, code).events, key=lambda e: e.id)]


@pytest.mark.parametrize("slug", DIALECTS)
def test_a_second_request_keeps_the_files_of_the_first(tmp_path, slug) -> None:
    with desk(tmp_path, slug) as d:
        code, letter_id = d.letter_in_sandbox()
        before = _held(d, letter_id)
        followups.request_documents(d.px, code, "ctl", "سند")
        _add(d, code, [(SCAN, "a.pdf")])  # not sent yet when the controller asks again
        followups.request_documents(d.px, code, "ctl", "فیش")
        other = _pdf(b"fish", 90)
        _add(d, code, [(other, "b.pdf")])
        while documents.push_pending(d.px):
            pass
        assert _held(d, letter_id) == before + [("a.pdf", SCAN), ("b.pdf", other)]
        assert _kinds(d, code).count("documents_delivered") == 1


@pytest.mark.parametrize("slug", DIALECTS)
def test_files_added_while_the_worker_sends_earlier_ones_are_sent_too(tmp_path, slug) -> None:
    with desk(tmp_path, slug) as d:
        code, letter_id = d.letter_in_sandbox()
        before = _held(d, letter_id)
        followups.request_documents(d.px, code, "ctl", "سند")
        _add(d, code, [(SCAN, "a.pdf")])
        [job] = documents._claim(d.px, 10)  # the worker takes a.pdf under its lease …
        followups.request_documents(d.px, code, "ctl", "فیش")
        other = _pdf(b"fish", 90)
        _add(d, code, [(other, "b.pdf")])  # … the citizen adds b.pdf meanwhile …
        d.px.adapter(slug).add_attachments(job.external_id, job.code, job.files)
        assert documents._settle(d.px, job, None) == "sent"  # … and a.pdf is settled
        assert letters.get(d.px, code).pending_files == [len(before) + 1]
        assert documents.push_pending(d.px) == 1
        assert documents.push_pending(d.px) == 0
        assert _held(d, letter_id) == before + [("a.pdf", SCAN), ("b.pdf", other)]
        assert _kinds(d, code).count("documents_delivered") == 2


@pytest.mark.parametrize("slug", DIALECTS)
def test_same_named_files_each_reach_the_letter(tmp_path, slug) -> None:
    """The letter holds نامه.pdf; the citizen sends another نامه.pdf (longer), one of the same
    size but other content, and two photos both named image.pdf."""
    with desk(tmp_path, slug) as d:
        code, letter_id = d.letter_in_sandbox()
        before = _held(d, letter_id)
        assert before[0][0] == "نامه.pdf"
        longer, same_size = _pdf(b"longer", len(PDF) + 32), _pdf(b"other", len(PDF))
        photo1, photo2 = _pdf(b"photo one", 70), _pdf(b"photo two", 70)
        followups.request_documents(d.px, code, "ctl", "نامه امضاشده")
        _add(d, code, [(longer, "نامه.pdf"), (same_size, "نامه.pdf"), (photo1, "image.pdf"),
                       (photo2, "image.pdf")])
        assert documents.push_pending(d.px) == 1
        assert _held(d, letter_id) == before + [
            ("نامه-2.pdf", longer), ("نامه-3.pdf", same_size), ("image.pdf", photo1),
            ("image-2.pdf", photo2)]
        assert _kinds(d, code)[-1] == "documents_delivered"
        # A retry sends the same names, so the look-up finds them and nothing goes twice.
        with d.px.sessions.begin() as s:
            s.execute(update(Letter).where(Letter.tracking_code == code)
                      .values(pending_files=[1, 2, 3, 4], files_retry_at=Letter.created_at))
        assert documents.push_pending(d.px) == 1
        assert len(_held(d, letter_id)) == len(before) + 4


@pytest.mark.parametrize("slug", DIALECTS)
def test_a_letter_with_two_files_of_one_name_delivers_both(tmp_path, slug) -> None:
    with desk(tmp_path, slug) as d:
        form = letters.LetterForm(applicant_type="natural", national_code="0076229645",
                                  first_name="مریم", last_name="احمدی", subject="درخواست",
                                  body="متن نامه", service="general")
        photo1, photo2 = _pdf(b"photo one", 70), _pdf(b"photo two", 70)
        code = letters.submit(d.px, d.slug, form, [Upload("image.pdf", photo1),
                                                   Upload("image.pdf", photo2)],
                              MOBILE).tracking_code
        if d.px.org(d.slug).approval == "portal":
            letters.approve(d.px, code, "operator")
        assert deliver_until_done(d.px, [code])[code] in ("registered", "delivered")
        letter_id = int(letters.get(d.px, code).external_id)
        assert _held(d, letter_id) == [("image.pdf", photo1), ("image-2.pdf", photo2)]


def test_session_dialect_does_not_take_another_file_of_that_name_for_ours(tmp_path) -> None:
    """"A file of that name is already there" (code 6) is success only if the look-up finds
    ours: a different file the organization put there under the name is an error, and the
    citizen's file goes as a follow-up letter instead of being dropped."""
    with desk(tmp_path, "demo-session") as d:
        code, letter_id = d.letter_in_sandbox()
        # Someone in the organization attached a different sanad.pdf already.
        oa.add_attachment(d.engine, letter_id, oa.NewAttachment(
            "sanad.pdf", "application/pdf", _pdf(b"theirs", 60)))
        followups.request_documents(d.px, code, "ctl", "سند")
        _add(d, code, [(SCAN, "sanad.pdf")])
        documents.push_pending(d.px)
        assert [n for n, _ in _held(d, letter_id)].count("sanad.pdf") == 1
        kinds = _kinds(d, code)
        assert "documents_delivered" not in kinds and kinds[-1] == "documents_follow_up"
        [linked] = letters.view(d.px, letters.get(d.px, code, MOBILE))["linked"]
        child = linked["tracking_code"]
        assert deliver_until_done(d.px, [child])[child] in ("registered", "delivered")
        held = _held(d, int(letters.get(d.px, child).external_id))
        assert held == [("sanad.pdf", SCAN)]


@pytest.mark.parametrize("slug", DIALECTS)
def test_a_follow_up_after_the_last_try_leaves_out_files_already_there(tmp_path, slug) -> None:
    """Tries run out with a.pdf added to the letter but its answer lost, b.pdf not added: the
    follow-up letter carries b.pdf only (the letter's files are looked up first)."""
    with desk(tmp_path, slug) as d:
        code, letter_id = d.letter_in_sandbox()
        before = _held(d, letter_id)
        followups.request_documents(d.px, code, "ctl", "سند")
        other = _pdf(b"fish", 90)
        _add(d, code, [(SCAN, "a.pdf"), (other, "b.pdf")])
        with d.px.sessions.begin() as s:  # the last try
            s.execute(update(Letter).where(Letter.tracking_code == code)
                      .values(files_attempts=documents.MAX_ATTEMPTS - 1))
        if slug == "demo-odbc":  # one transaction: the worker's steps by hand
            [job] = documents._claim(d.px, 10)
            assert [f.name for f in job.files] == ["a.pdf", "b.pdf"]
            d.px.adapter(slug).add_attachments(job.external_id, job.code, job.files[:1])
            assert documents._settle(d.px, job, AmbiguousError("timeout"),
                                     documents._already_there(d.px, job)) == "follow_up"
        else:  # the sandbox saves a.pdf, then answers with a fault: b.pdf is never tried
            d.api("/faults", commit_then_fault=1)
            assert documents.push_pending(d.px) == 1
            d.api("/faults")
        assert _held(d, letter_id) == before + [("a.pdf", SCAN)]
        [linked] = letters.view(d.px, letters.get(d.px, code, MOBILE))["linked"]
        child = linked["tracking_code"]
        assert deliver_until_done(d.px, [child])[child] in ("registered", "delivered")
        assert _held(d, int(letters.get(d.px, child).external_id)) == [("b.pdf", other)]
        kinds = _kinds(d, code)
        assert kinds[-2:] == ["documents_delivered", "documents_follow_up"]
