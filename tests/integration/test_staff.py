import pytest

from connector.domain.errors import ValidationError
from connector.people import staff


def test_passwords_are_hashed_and_checked(px):
    staff.add_user(px, "ali", "long-enough-1", orgs=["demo-portal"])
    user = staff.login(px, "ali", "long-enough-1").user
    assert user is not None and user.password_hash.startswith("$argon2id$")
    assert "long-enough-1" not in user.password_hash
    assert staff.login(px, "ali", "wrong-password").user is None
    assert staff.login(px, "nobody", "long-enough-1").user is None


def test_short_passwords_and_duplicates_are_refused(px):
    with pytest.raises(ValidationError):
        staff.add_user(px, "a", "short")
    staff.add_user(px, "b", "long-enough-1")
    with pytest.raises(ValidationError):
        staff.add_user(px, "b", "long-enough-2")


def test_only_controllers_of_the_organization_decide(px):
    controller = staff.add_user(px, "c", "long-enough-1", orgs=["demo-portal"])
    desk = staff.add_user(px, "d", "long-enough-1", role="desk")
    assert staff.may_decide(controller, "demo-portal")
    assert not staff.may_decide(controller, "demo")
    assert not staff.may_decide(desk, "demo-portal")


def test_desk_staff_cannot_open_the_approval_queue(px, client):
    import re
    staff.add_user(px, "desk1", "long-enough-1", role="desk")
    page = client.get("/console/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/console/login", data={"csrf_token": csrf, "username": "desk1",
                                        "password": "long-enough-1"})
    assert client.get("/console/demo-portal").status_code == 404


def test_front_desk_staff_read_desk_letters_only(px, client):
    from connector.letters import usecases as letters
    from connector.letters.files import Upload
    from tests.conftest import staff_login
    from tests.integration.test_portal_api import PDF

    form = letters.LetterForm(national_code="0076229645", first_name="علی", last_name="رضایی",
                              subject="درخواست", body="متن", service="general")
    portal_letter = letters.submit(px, "demo", form, [Upload("a.pdf", PDF)], "09121234567")
    desk_letter = letters.submit(px, "demo", form, [Upload("a.pdf", PDF)], "09121234567",
                                 channel="desk")
    staff.add_user(px, "desk2", "long-enough-1", role="desk", orgs=["demo"])
    staff_login(client, "desk2")
    base = "/api/v1/letters/{}/attachments/0"
    assert client.get(base.format(portal_letter.tracking_code)).status_code == 404
    assert client.get(base.format(desk_letter.tracking_code)).status_code == 200
    staff.add_user(px, "ctl", "long-enough-1", orgs=["demo"])
    client2 = client.application.test_client()
    staff_login(client2, "ctl")
    assert client2.get(base.format(portal_letter.tracking_code)).status_code == 200
