"""The letter form's steps without JavaScript: errors keep what was typed and uploaded, the
preview shows the letter before it is sent, and a company writes through its representative."""
from __future__ import annotations

import io
import re

from connector.letters import usecases as letters
from tests.integration.test_portal_pages import MOBILE, PDF, csrf, letter_data, page, web_login

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def post(client, data, files=()):
    body = dict(data)
    if files:
        body["attachments"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post("/o/demo/letter", data=body, content_type="multipart/form-data")


def keeps(html: str) -> list[str]:
    return re.findall(r'name="keep" value="([0-9a-f]{64})"', html)


def test_uploads_survive_an_error_and_reach_the_letter(client, px):
    web_login(client, px)
    token = csrf(client, "/o/demo/letter")
    r = post(client, letter_data(token, action="preview", national_code="12"),
             [("نقشه.pdf", PDF), ("عکس.png", PNG), ("برنامه.exe", b"MZ\x90")])
    assert r.status_code == 400
    body = page(r)
    assert "«برنامه.exe» پذیرفته نیست" in body  # refused, said next to the field
    held = keeps(body)
    assert len(held) == 2 and "نقشه.pdf" in body and "عکس.png" in body

    # Fixed national code; the photo is unticked, the PDF kept: the preview lists only it.
    data = letter_data(token, action="preview", national_code="۰۰۷۶۲۲۹۶۴۵")
    data["keep"] = [held[0]]
    r = post(client, data)
    assert r.status_code == 200
    preview = page(r)
    assert "پیش‌نمایش نامه" in preview and "نقشه.pdf" in preview and "عکس.png" not in preview
    assert "۰۰۷۶۲۲۹۶۴۵" in preview and "کوچه ما\nآسفالت ندارد." in preview
    assert letters.for_mobile(px, MOBILE) == []  # nothing is sent by the preview

    # "Edit" goes back to the form with everything.
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', preview))
    edit = post(client, {**fields, "csrf_token": token, "action": "edit", "keep": keeps(preview)})
    assert edit.status_code == 200
    edited = page(edit)
    assert 'value="خرابی کوچه ۱۲"' in edited and keeps(edited) == keeps(preview)

    r = post(client, {**fields, "csrf_token": token, "action": "send", "keep": keeps(preview)})
    assert r.status_code == 302
    code = r.headers["Location"].rsplit("/", 1)[-1]
    letter = letters.get(px, code)
    assert [a.name for a in letter.attachments] == ["نقشه.pdf"]
    assert letter.national_code == "0076229645"
    assert client.get(f"/t/{code}/attachments/0").data == PDF


def test_a_company_letter_with_forgiving_input(client, px):
    web_login(client, px)
    token = csrf(client, "/o/demo/letter")
    data = letter_data(token, action="send", applicant_type="legal", national_code="",
                       national_id="۵۲۳-۴۸۱۴۷۹۰۱", company_name="شركت نمونه سازان",
                       first_name="علي", subject="درخواست  شماره ۱۲")
    r = post(client, {**data, "national_id": "52348147902"})
    assert r.status_code == 400 and "شناسه ملی شرکت درست نیست" in page(r)
    assert 'value="شركت نمونه سازان"' in page(r)  # kept as typed
    r = post(client, data)
    assert r.status_code == 302, page(r)
    letter = letters.get(px, r.headers["Location"].rsplit("/", 1)[-1])
    assert letter.applicant_type == "legal" and letter.national_id == "52348147901"
    assert letter.company_name == "شرکت نمونه سازان" and letter.first_name == "علی"


def test_the_preview_of_another_organization_does_not_leak_held_files(client, px):
    web_login(client, px)
    token = csrf(client, "/o/demo/letter")
    r = post(client, letter_data(token, action="preview", national_code="12"),
             [("نقشه.pdf", PDF)])
    held = keeps(page(r))
    r = client.post("/o/demo-portal/letter", data=letter_data(token, action="preview",
                                                              service="general", keep=held),
                    content_type="multipart/form-data")
    # Not leaked, and not silently dropped either: the citizen is told to choose it again.
    assert r.status_code == 400 and "نقشه.pdf" not in page(r)
    assert "دوباره انتخابشان کنید" in page(r)


def test_attachment_count_follows_the_organization(client, px):
    web_login(client, px)
    form = page(client.get("/o/demo/letter"))
    assert form.count('type="file" name="attachments"') == px.org("demo").attachments.max_files
    assert "حداکثر ۱۰ مگابایت" in form
