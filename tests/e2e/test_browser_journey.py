"""A citizen on a phone, in a real browser: from choosing the organization to the PDF receipt,
the tracking page and the survey — once as a person, once for a company. Every page is scanned
with axe-core (no serious or critical violation) and photographed under tests/artifacts/."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from playwright.sync_api import expect

from connector.letters import followups
from connector.letters import usecases as letters
from tests.e2e.browser import Visit
from tests.e2e.conftest import POLL_SECONDS, Stack, wait_for
from tests.e2e.test_letter_journey import in_sandbox

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
FA = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def otp(stack: Stack, mobile: str) -> str:
    from tests.phone import otp_code
    return otp_code(stack.px, mobile)


def sign_in(v: Visit, stack: Stack, typed_mobile: str, mobile: str) -> None:
    page = v.page
    assert "/login" in page.url
    v.check("login-mobile")
    page.get_by_label("شماره همراه").fill(typed_mobile)
    go(page, page.get_by_role("button", name="فرستادن کد"))
    page.get_by_label("کد پیامک‌شده").wait_for()
    # The countdown script holds the resend button for a minute; without scripts the button
    # works and the server answers with the seconds left.
    if v.javascript:
        expect(page.locator("#resend")).to_be_disabled()
        expect(page.locator("#resend-note")).to_contain_text("ثانیه دیگر")
    else:
        assert page.locator("#resend").is_enabled()
    v.check("login-code")
    page.get_by_label("کد پیامک‌شده").fill("00000")
    go(page, page.get_by_role("button", name="ورود"))
    assert page.locator("#code-error").is_visible()  # wrong code: message next to the field
    # The code as the SMS shows it, in Persian digits.
    page.get_by_label("کد پیامک‌شده").fill(otp(stack, mobile).translate(FA))
    go(page, page.get_by_role("button", name="ورود"))


def download_receipt(v: Visit, tmp: Path, stack: Stack, code: str) -> None:
    with v.page.expect_download() as info:
        v.page.get_by_role("link", name=re.compile("دریافت رسید")).first.click()
    pdf = tmp / f"receipt-{code}.pdf"
    info.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF-")
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(pdf), str(tmp / code)],
                   check=True, timeout=60)
    out = subprocess.run(["zbarimg", "--quiet", "--raw", str(tmp / f"{code}.png")],
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().endswith(f"/t/{code}"), out


def go(page, target) -> None:
    """Click something that loads a new page, and wait until that page has loaded: asserting
    right after a bare click may still look at the old page."""
    with page.expect_navigation():
        target.click()


def fill_letter(page, name: tuple[str, str], subject: str, body: str,
                attachment: str | None = None) -> None:
    page.get_by_label("نام", exact=True).fill(name[0])
    page.get_by_label("نام خانوادگی").fill(name[1])
    page.get_by_label("موضوع").fill(subject)
    page.get_by_label("متن نامه").fill(body)
    if attachment:
        page.get_by_label("پیوست ۱").set_input_files(
            files=[{"name": attachment, "mimeType": "application/pdf", "buffer": PDF}])


def wait_for_text(v: Visit, text: str, what: str) -> None:
    def shown() -> bool:
        v.page.reload()
        return text in v.page.inner_text("main")
    wait_for(shown, POLL_SECONDS + 8, what)


def test_a_person_on_a_phone_hands_in_a_letter_and_follows_it(browser, stack: Stack,  # noqa: F811
                                                             tmp_path: Path):
    v = Visit(browser, "person")
    page = v.page
    page.goto(stack.portal + "/")
    v.check("home")
    go(page, page.get_by_role("link", name="شهرداری نمونه"))
    v.check("catalog")
    page.get_by_text("درخواست تعمیر معبر و آسفالت", exact=True).click()  # opens the details
    assert page.locator("#service-street-repair").get_by_text("مسئول پاسخگویی").is_visible()
    go(page, page.get_by_role("link", name=re.compile("نوشتن نامه برای «درخواست تعمیر")))

    sign_in(v, stack, "۰۹۱۲-۱۲۳ ۴۵۶۷", "09121234567")
    assert "/o/demo/letter" in page.url
    v.check("letter-form")
    assert page.get_by_label("خدمت").input_value() == "street-repair"

    # A wrong national code: the form comes back with the message next to the field and
    # everything typed still there.
    fill_letter(page, ("زهرا", "محمدی"), "چاله بزرگ در کوچه ۳",
                "کوچه شماره ۳ خیابان بهار چاله‌های بزرگ دارد.", "عکس-کوچه.pdf")
    page.get_by_label("کد ملی").fill("۰۰۷۶۲۲۹۶۴۶")
    go(page, page.get_by_role("button", name="دیدن پیش‌نمایش نامه"))
    assert page.locator("#national_code-error").is_visible()
    v.check("letter-form-errors")
    assert page.get_by_label("موضوع").input_value() == "چاله بزرگ در کوچه ۳"
    # The uploaded file was kept by the server; it needs no second upload.
    assert page.get_by_role("checkbox", name=re.compile("عکس-کوچه.pdf")).is_checked()
    page.get_by_label("کد ملی").fill("۰۰۷-۶۲۲۹۶۴-۵")
    go(page, page.get_by_role("button", name="دیدن پیش‌نمایش نامه"))
    assert page.get_by_role("heading", name="پیش‌نمایش نامه").is_visible()
    v.check("preview")
    assert "عکس-کوچه.pdf" in page.inner_text("main")
    go(page, page.get_by_role("button", name="فرستادن نامه"))

    assert "/r/" in page.url, page.inner_text("main")
    code = page.url.rsplit("/", 1)[-1]
    v.check("receipt")
    assert code.translate(FA)[:4] in page.inner_text("main")
    download_receipt(v, tmp_path, stack, code)

    go(page, page.get_by_role("link", name="پیگیری این نامه"))
    v.check("tracking")
    assert page.get_by_role("link", name=re.compile("عکس-کوچه")).count() == 1

    # The organization registers, refers, answers and closes it in its own system.
    oa_id = in_sandbox(stack, code)["id"]
    number = stack.oa("POST", f"/letters/{oa_id}/register", json={}).json()["number"]
    wait_for_text(v, number.translate(FA), "the letter number on the tracking page")
    stack.oa("POST", f"/letters/{oa_id}/refer",
             json={"unit": "CIV", "person": "مهندس کریمی", "instruction": "جهت اقدام"})
    wait_for_text(v, "مهندس کریمی", "the handler on the tracking page")
    stack.oa("POST", f"/letters/{oa_id}/answer", json={"text": "تعمیر هفته بعد انجام می‌شود."})
    stack.oa("POST", f"/letters/{oa_id}/close", json={})
    wait_for_text(v, "از کار ما راضی بودید؟", "the survey")
    v.check("tracking-closed")
    with page.expect_download() as info:
        page.get_by_role("link", name="دریافت پاسخ").click()
    reply = tmp_path / "reply"
    info.value.save_as(reply)
    assert "تعمیر هفته بعد انجام می‌شود." in reply.read_text(encoding="utf-8")
    assert "۱۴" in page.inner_text(".timeline")  # Jalali years (۱۴۰x) on the timeline

    go(page, page.get_by_role("button", name="ثبت نظر"))  # no score chosen
    assert page.locator("#score-error").is_visible()
    v.check("survey-error")
    page.get_by_label("۴").check()
    page.get_by_label(re.compile("نظر شما")).fill("ممنون از پیگیری")
    go(page, page.get_by_role("button", name="ثبت نظر"))
    assert page.get_by_text("از نظر شما سپاسگزاریم").is_visible()

    go(page, page.get_by_role("link", name="نامه‌های من"))
    v.check("my-letters")
    assert page.get_by_role("link", name="چاله بزرگ در کوچه ۳").is_visible()

    go(page, page.get_by_role("link", name="پیگیری نامه").first)
    v.check("track-form")
    page.get_by_label("کد رهگیری").fill("۱۲۳")
    go(page, page.get_by_role("button", name="دیدن نامه"))
    assert page.locator("#code-error").is_visible()
    v.check("track-form-error")
    page.get_by_label("کد رهگیری").fill(" ".join([code[:4], code[4:8], code[8:]]).translate(FA))
    go(page, page.get_by_role("button", name="دیدن نامه"))
    assert f"/t/{code}" in page.url

    go(page, page.get_by_role("button", name=re.compile("خروج")))
    page.goto(f"{stack.portal}/t/{code}")
    v.check("track-login")
    assert "مهندس کریمی" not in page.inner_text("main")  # the code alone reveals nothing
    page.goto(f"{stack.portal}/o/nowhere")
    v.check("not-found")
    v.close()


def test_a_company_hands_in_a_letter_and_takes_it_back(browser, stack: Stack,  # noqa: F811
                                                       tmp_path: Path):
    v = Visit(browser, "company")
    page = v.page
    page.goto(stack.portal + "/")
    go(page, page.get_by_role("link", name=re.compile("اداره کل نمونه")))
    v.check("catalog")
    go(page, page.get_by_role("link", name=re.compile("نوشتن نامه برای «نامه به دبیرخانه")))
    sign_in(v, stack, "+98 935 111 2233", "09351112233")
    page.get_by_label(re.compile("شرکت یا سازمان")).check()
    page.get_by_label("نام شرکت").fill("شركت نمونه سازان")  # Arabic kaf, normalized
    page.get_by_label("شناسه ملی شرکت").fill("۵۲۳۴۸۱۴۷۹۰۱")
    fill_letter(page, ("علی", "رضایی"), "درخواست صورت‌حساب قرارداد ۱۴۰۵",
                "لطفا صورت‌حساب قرارداد شماره ۱۲ را بفرستید.", "قرارداد.pdf")
    go(page, page.get_by_role("button", name="دیدن پیش‌نمایش نامه"))
    v.check("preview")
    assert "شرکت نمونه سازان" in page.inner_text("main")  # ك became ک
    go(page, page.get_by_role("button", name="فرستادن نامه"))
    assert "/r/" in page.url, page.inner_text("main")
    code = page.url.rsplit("/", 1)[-1]
    v.check("receipt")
    download_receipt(v, tmp_path, stack, code)

    go(page, page.get_by_role("link", name="پیگیری این نامه"))
    assert "در صف بررسی دبیرخانه" in page.inner_text("main")
    v.check("tracking")
    go(page, page.get_by_role("link", name="پس گرفتن نامه"))
    v.check("withdraw")
    go(page, page.get_by_role("button", name=re.compile("بله")))
    assert "پس گرفته شد" in page.inner_text("main")
    v.check("withdrawn")
    v.close()


def test_the_journey_works_without_javascript(browser, stack: Stack):  # noqa: F811
    v = Visit(browser, "no-javascript", javascript=False)
    page = v.page
    page.goto(stack.portal + "/o/demo/letter?service=general")
    sign_in(v, stack, "09127654321", "09127654321")
    assert "/o/demo/letter" in page.url
    fill_letter(page, ("رضا", "کریمی"), "پرسش درباره پروانه",
                "پروانه ساخت من کی آماده می‌شود؟")
    page.get_by_label("کد ملی").fill("0076229645")
    go(page, page.get_by_role("button", name="دیدن پیش‌نمایش نامه"))
    v.check("preview")
    go(page, page.get_by_role("button", name="ویرایش"))
    assert page.get_by_label("موضوع").input_value() == "پرسش درباره پروانه"
    go(page, page.get_by_role("button", name="دیدن پیش‌نمایش نامه"))
    go(page, page.get_by_role("button", name="فرستادن نامه"))
    assert "/r/" in page.url
    v.check("receipt")
    v.close()


def test_english_is_a_second_language_that_is_remembered(browser, stack: Stack):  # noqa: F811
    v = Visit(browser, "english")
    page = v.page
    page.goto(stack.portal + "/")
    go(page, page.get_by_role("link", name="English"))
    assert page.evaluate("document.documentElement.lang") == "en"
    v.check("home")
    go(page, page.get_by_role("link", name="Demo Municipality"))  # remembered without ?lang
    assert page.get_by_role("heading", name="Demo Municipality").is_visible()
    v.check("catalog")
    go(page, page.get_by_role("link", name="Track a letter"))
    page.get_by_label("Tracking code").fill("123")
    go(page, page.get_by_role("button", name="Show the letter"))
    assert "The tracking code is not right" in page.inner_text("main")
    v.check("track-form-error")
    go(page, page.get_by_role("link", name="Sign in"))
    page.get_by_label("Mobile number").fill("09121112233")
    go(page, page.get_by_role("button", name="Send the code"))
    expect(page.locator("#resend-note")).to_contain_text("seconds")
    v.check("login-code")
    go(page, page.get_by_role("link", name="فارسی"))
    assert page.evaluate("document.documentElement.dir") == "rtl"
    v.close()


# --- asked for a document, then refused and objecting (issue 14) ----------------------------
# In this module, which holds the one session-wide browser: a second module importing the
# fixture would start a second Playwright inside the first one's loop.

FOLLOWUP_MOBILE = "09127654321"


def test_a_citizen_adds_the_document_asked_for_then_objects(browser, stack: Stack):  # noqa: F811
    token = stack.login(FOLLOWUP_MOBILE)
    made = stack.api("POST", "/orgs/demo-portal/letters", token, data={
        "applicant_type": "natural", "national_code": "0076229645", "first_name": "سارا",
        "last_name": "محمدی", "subject": "پروانه کسب", "body": "درخواست پروانه کسب.",
        "service": "general"})
    assert made.status_code == 201, made.text
    code = made.json()["tracking_code"]
    followups.request_documents(stack.px, code, "op", "تصویر اجاره‌نامه مغازه را بفرستید.")

    v = Visit(browser, "followups")
    page = v.page
    page.goto(f"{stack.portal}/login?next=/t/{code}")
    sign_in(v, stack, FOLLOWUP_MOBILE, FOLLOWUP_MOBILE)
    assert "اجاره‌نامه" in page.inner_text("#documents")
    v.check("documents-asked")
    page.locator("#documents input[type=file]").first.set_input_files(
        files=[{"name": "ejare.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    go(page, page.get_by_role("button", name="فرستادن مدارک"))
    assert "در صف بررسی دبیرخانه" in page.inner_text("main")
    assert "ejare.pdf" in page.inner_text("main")
    v.check("documents-sent")

    letters.reject(stack.px, code, "op", "این کار در حوزه این اداره نیست.")
    page.reload()
    v.check("objection-open")
    page.get_by_label("دلیل اعتراض").fill("این کار در حوزه همین اداره است؛ بند ۲ آیین‌نامه.")
    go(page, page.get_by_role("button", name="فرستادن اعتراض"))
    # The objection's own page (the browser keeps the form's #objection on the redirect).
    child = re.search(r"/t/(\d{12})(#\w+)?$", page.url)
    assert child and child.group(1) != code
    assert "اعتراض به نامه" in page.inner_text("#linked")
    v.check("objection-sent")
    v.close()
