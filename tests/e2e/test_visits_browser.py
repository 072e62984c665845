"""The in-person desk in a real browser at a desk's screen size: a host pre-registers a visitor,
the security desk admits them with a photo file, the gate page lets the pass in once and refuses
the second entry, the desk sees the alert, the live board shows who is inside, the report counts
it; the camera takes the photo. Every page is scanned with axe-core (no serious or critical
violation) and photographed."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from connector.bootstrap import Pishkhan, bootstrap
from connector.outbox.sms import listing
from connector.people import staff
from connector.store.db import upgrade
from connector.visits import gates, hosts
from tests.conftest import make_settings
from tests.e2e.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Visit
from tests.e2e.conftest import _serve

# The visits here run from 00:00 to 23:59 of today: the clock is moved to Tehran's midday.
pytestmark = pytest.mark.usefixtures("midday")

DESK = {"viewport": {"width": 1280, "height": 800}, "locale": "fa-IR",
        "timezone_id": "Asia/Tehran"}


class DeskVisit(Visit):
    """A staff member at a desk computer; the same checks as the citizen's phone."""

    def __init__(self, browser: Any, name: str) -> None:  # noqa: F811
        self.javascript = True
        self.context = browser.new_context(**DESK, bypass_csp=True, accept_downloads=True)
        self.context.set_default_timeout(10_000)
        self.page = self.context.new_page()
        self.folder = ARTIFACTS / name
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.count, self.scanned, self.weights = 0, [], {}


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[tuple[Pishkhan, str]]:
    from portal import create_app
    settings = make_settings(tmp_path)
    upgrade(settings.database_url)
    px = bootstrap(settings)
    staff.add_user(px, "host", "pishkhan-host", role="host", orgs=["demo"],
                   display_name="مهندس کریمی")
    hosts.set_profile(px, "host", mobile="09350000001")
    staff.add_user(px, "security", "pishkhan-security", role="security", orgs=["demo"])
    gates.add(px, "demo", "main-gate")
    url, stop = _serve(create_app(px, {"TESTING": True}))
    try:
        yield px, url
    finally:
        stop()
        px.close()


def sign_in(v: Visit, url: str, username: str, password: str) -> None:
    page = v.page
    page.goto(f"{url}/console/login")
    page.get_by_label("نام کاربری").fill(username)
    page.get_by_label("رمز").fill(password)
    page.get_by_role("button", name="ورود").click()
    page.wait_for_load_state()


def sign_out(v: Visit) -> None:
    v.page.get_by_role("button", name="خروج").click()
    v.page.wait_for_load_state()


def test_host_desk_gate_and_board(browser, desk, tmp_path):  # noqa: F811
    px, url = desk
    v = DeskVisit(browser, "visits")
    page = v.page
    try:
        sign_in(v, url, "host", "pishkhan-host")
        expect(page.get_by_role("heading", level=1)).to_contain_text("مهمان‌های من")
        v.check("host-home")
        page.get_by_role("link", name="ثبت ملاقات تازه").click()
        page.get_by_label("کد ملی").fill("۰۰۷۶۲۲۹۶۴۴")  # one digit wrong
        page.get_by_label("نام", exact=True).fill("مریم")
        page.get_by_label("نام خانوادگی").fill("احمدی")
        page.get_by_label("شماره همراه").fill("09121234567")
        page.get_by_label("موضوع ملاقات").fill("جلسه پروژه")
        page.get_by_label("از ساعت").fill("00:00")
        page.get_by_label("تا ساعت").fill("23:59")
        page.get_by_role("button", name="ثبت ملاقات").click()
        expect(page.locator("#national_code-error")).to_contain_text("کد ملی درست نیست")
        expect(page.get_by_label("نام خانوادگی")).to_have_value("احمدی")  # nothing lost
        v.check("host-form-error")
        page.get_by_label("کد ملی").fill("۰۰۷۶۲۲۹۶۴۵")
        page.get_by_role("button", name="ثبت ملاقات").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("ملاقات ثبت شد")
        v.check("host-registered")
        sign_out(v)

        sign_in(v, url, "security", "pishkhan-security")
        expect(page.get_by_role("heading", level=1)).to_contain_text("میز نگهبانی")
        expect(page.get_by_role("table").first).to_contain_text("مریم احمدی")
        v.check("desk")
        page.get_by_role("link", name=re.compile("باز کردن")).first.click()
        photo = tmp_path / "face.jpg"
        Image.new("RGB", (120, 160), (200, 160, 120)).save(photo, "JPEG")
        page.get_by_label("فایل عکس").set_input_files(str(photo))
        v.check("visit-admit")
        page.get_by_role("button", name="پذیرش").click()
        expect(page.get_by_role("img", name="عکس مریم احمدی")).to_be_visible()
        v.check("visit-admitted")

        code = re.search(r"\d{12}", listing(px, to="09121234567")[0]["text"]).group(0)
        page.get_by_role("link", name="دروازه‌ها").click()
        page.get_by_role("link", name="main-gate").click()
        v.check("gate")
        page.get_by_label("کد کارت").fill(code)
        page.get_by_label("کد کارت").press("Enter")  # what a USB reader does
        expect(page.get_by_role("alert")).to_contain_text("ورود آزاد")
        expect(page.get_by_role("alert")).to_contain_text("مریم احمدی")
        v.check("gate-allowed")
        page.get_by_label("کد کارت").fill(code)
        page.get_by_label("کد کارت").press("Enter")
        expect(page.get_by_role("alert")).to_contain_text("اجازه نیست")
        expect(page.get_by_role("alert")).to_contain_text("خارج نشده")
        v.check("gate-denied")

        page.get_by_role("link", name="چه کسی داخل است").click()
        expect(page.locator("ul.board")).to_contain_text("مریم احمدی")
        v.check("board")
        page.get_by_role("link", name="میز نگهبانی").click()
        expect(page.locator("#alerts")).to_contain_text("خارج نشده")
        v.check("desk-alert")
        page.get_by_role("link", name="فهرست ممنوع‌الورود").click()
        page.get_by_label("کد ملی").fill("0076229645")
        page.get_by_label("دلیل").fill("درگیری با نگهبان")
        page.get_by_role("button", name="افزودن").click()
        expect(page.get_by_role("table")).to_contain_text("درگیری با نگهبان")
        v.check("blacklist")
        page.get_by_role("link", name="گزارش", exact=True).click()
        expect(page.locator("#hosts")).to_contain_text("مهندس کریمی")
        v.check("report")
        assert sorted(n["kind"] for n in listing(px, to="09350000001")) == ["visit_entered"]
    finally:
        v.close()


def test_the_admit_form_takes_the_photo_with_the_camera(browser, desk):
    """Chromium's fake camera stands in for the desk's webcam: the picture taken in the page is
    posted in the photo field, through the page's own Permissions-Policy and CSP. (A second
    Chromium from the same Playwright: one process may run only one.)"""
    from connector.visits import usecases as visits
    from connector.visits.people import Identity
    px, url = desk
    reg = visits.register(px, "demo", Identity(national_code="0076229645", first_name="مریم",
                                               last_name="احمدی"), host="host", purpose="جلسه")
    chromium = browser.browser_type.launch(executable_path=CHROMIUM, timeout=30_000, args=[
        *CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    try:
        context = chromium.new_context(**DESK)
        context.grant_permissions(["camera"], origin=url)
        page = context.new_page()
        page.set_default_timeout(10_000)
        v = DeskVisit.__new__(DeskVisit)
        v.page = page
        sign_in(v, url, "security", "pishkhan-security")
        page.goto(f"{url}/visits/demo/v/{reg.visit.id}")
        page.get_by_role("button", name="روشن کردن دوربین").click()
        # On a loaded machine the stream and the JPEG take a while: wait for each step.
        expect(page.locator("[data-camera-status]")).to_contain_text("دوربین روشن است",
                                                                      timeout=20_000)
        page.get_by_role("button", name="گرفتن عکس").click()
        expect(page.locator("[data-camera-status]")).to_contain_text("عکس گرفته شد",
                                                                      timeout=20_000)
        page.get_by_role("button", name="پذیرش").click()
        expect(page.get_by_role("img", name="عکس مریم احمدی")).to_be_visible()
    finally:
        chromium.close()
    with px.sessions() as s:
        from connector.store.visits import Visit
        from connector.visits import images
        photo = s.get(Visit, reg.visit.id).visitor.photo_sha256
    assert images.get(px, photo)[:3] == b"\xff\xd8\xff"  # a JPEG from the camera
