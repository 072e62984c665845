"""A submission sent again — a retry, a double click, a resend after «not stored» — gives the
letter it made the first time, however many copies arrive at once."""
from __future__ import annotations

import io
import re

from sqlalchemy import func, select

from connector.letters import usecases as letters
from connector.people import staff
from connector.store.models import Attachment, Letter
from tests.conftest import csrf_of, staff_login
from tests.integration.test_portal_api import MOBILE, OTHER, PDF, auth, submit, token_for
from tests.integration.test_portal_letter_form import post
from tests.integration.test_portal_pages import csrf, letter_data, page, web_login
from tests.races import PARALLEL, at_once, client_from


def letters_in(px) -> int:
    with px.sessions() as s:
        return s.scalar(select(func.count()).select_from(Letter))


def send(client, token: str, key: str | None = None, **fields):
    headers = auth(token) | ({"Idempotency-Key": key} if key else {})
    data = {"applicant_type": "natural", "national_code": "0076229645", "first_name": "مریم",
            "last_name": "احمدی", "subject": "درخواست", "body": "متن", "service": "street-repair",
            "attachments": [(io.BytesIO(PDF), "a.pdf")], **fields}
    return client.post("/api/v1/orgs/demo/letters", data=data, headers=headers,
                       content_type="multipart/form-data")


def test_the_api_answers_a_repeated_idempotency_key_with_the_first_letter(client, px):
    token = token_for(client, px)
    first = send(client, token, "order-2024-0001")
    again = send(client, token, "order-2024-0001")
    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert letters_in(px) == 1
    # Another letter under the same key is a letter of its own.
    changed = send(client, token, "order-2024-0001", subject="درخواست دیگر")
    assert changed.status_code == 201
    assert changed.json["tracking_code"] != first.json["tracking_code"]
    assert letters.get(px, first.json["tracking_code"]).subject == "درخواست"

    other_key = send(client, token, "order-2024-0002")
    assert other_key.json["tracking_code"] != first.json["tracking_code"]
    no_key = [submit(client, token).json["tracking_code"] for _ in range(2)]
    assert len(set(no_key)) == 2
    # The key is the sender's own: another citizen using the same one gets a letter of hers.
    theirs = send(client, token_for(client, px, OTHER), "order-2024-0001")
    assert theirs.status_code == 201
    assert theirs.json["tracking_code"] != first.json["tracking_code"]
    assert letters_in(px) == 6


def test_copies_sent_at_once_make_one_letter(store_app):
    app, px = store_app
    token = token_for(app.test_client(), px)
    answers = at_once(PARALLEL, lambda i: send(client_from(app, i), token, "one-key-for-all"))
    assert [a.status_code for a in answers] == [201] * PARALLEL
    assert len({a.json["tracking_code"] for a in answers}) == 1
    assert letters_in(px) == 1
    with px.sessions() as s:  # and no copy left a file behind on the letter
        assert s.scalar(select(func.count()).select_from(Attachment)) == 1


def test_the_preview_sent_twice_makes_one_letter_and_an_edit_makes_a_new_one(client, px):
    web_login(client, px)
    token = csrf(client, "/o/demo/letter")
    preview = page(post(client, letter_data(token, action="preview")))
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', preview))
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,64}", fields["resend_key"])
    sending = {**fields, "csrf_token": token, "action": "send"}
    first, second = post(client, sending), post(client, sending)  # a double click
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert len(letters.for_mobile(px, MOBILE)) == 1

    # «Edit» goes back to the form; the next preview is a new submission with its own key
    # (even from a page that posts the old key along).
    edited = page(post(client, {**fields, "csrf_token": token, "action": "edit"}))
    assert "resend_key" not in edited
    again = page(post(client, {**fields, "csrf_token": token, "action": "preview",
                               "subject": "درخواست دوم"}))
    new_key = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', again))
    assert new_key["resend_key"] != fields["resend_key"]
    third = post(client, {**new_key, "csrf_token": token, "action": "send"})
    assert third.headers["Location"] != first.headers["Location"]
    assert len(letters.for_mobile(px, MOBILE)) == 2


def test_the_desk_form_keeps_its_key_through_a_mistake_and_sends_once(px, client):
    staff.add_user(px, "desk1", "long-enough-1", role="desk")
    staff_login(client, "desk1")
    blank = client.get("/desk/demo/new").get_data(as_text=True)
    key = re.search(r'name="resend_key" value="([^"]+)"', blank).group(1)
    form = {"applicant_type": "natural", "national_code": "0076229645", "first_name": "رضا",
            "last_name": "احمدی", "subject": "درخواست", "body": "متن", "service": "street-repair",
            "mobile": "09121234567", "csrf_token": csrf_of(blank), "resend_key": key}
    mistake = client.post("/desk/demo/new", data={**form, "subject": ""})
    assert mistake.status_code == 400
    assert f'name="resend_key" value="{key}"' in mistake.get_data(as_text=True)
    sent = [client.post("/desk/demo/new", data=form) for _ in range(2)]
    assert [r.status_code for r in sent] == [302, 302]
    assert sent[0].headers["Location"] == sent[1].headers["Location"]
    assert len(letters.for_mobile(px, "09121234567")) == 1
    # The back button to the sent form, a new letter typed for the same citizen: a new one.
    other = client.post("/desk/demo/new", data={**form, "subject": "درخواست دوم"})
    assert other.status_code == 302 and other.headers["Location"] != sent[0].headers["Location"]
    assert len(letters.for_mobile(px, "09121234567")) == 2
