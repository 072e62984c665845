"""The sandbox's scripting API and cartable pages, over a real loopback server."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin

import pytest
import requests
from persiantools.digits import en_to_fa
from persiantools.jdatetime import JalaliDate

from sandbox.app import create_app
from tests.sandbox_server import soap_client, start_sandbox

PERSIAN_DATE = re.compile(r"[۰-۹]{4}/[۰-۹]{2}/[۰-۹]{2}")


@pytest.fixture
def sandbox(request, tmp_path):
    """The sandbox on SQLite, or on PostgreSQL where a test asks for it (``indirect``)."""
    config = {}
    if getattr(request, "param", "sqlite") == "postgresql":
        config["DATABASE_URL"] = request.getfixturevalue("pg_url")
    base_url, _app, stop = start_sandbox(tmp_path, **config)
    yield base_url
    stop()


# Registration runs as one statement after the feed lock on PostgreSQL and step by step
# elsewhere: the tests of numbering and of the feed run on both.
BOTH_DATABASES = pytest.mark.parametrize("sandbox", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def client(sandbox):
    return soap_client(sandbox)


@pytest.fixture
def new_letter(sandbox, client):
    """Deliver a letter over SOAP (the only way letters arrive) and return its id."""

    def make(reference: str = "PK-1", **extra) -> int:
        return client.service.DeliverLetter(
            reference=reference,
            subject=extra.pop("subject", "درخواست گواهی اشتغال به کار"),
            body="متن نامه",
            senderName="رضا کاظمی",
            senderNationalCode="0012345678",
            senderMobile="09121234567",
            unitCode=extra.pop("unitCode", "HR"),
            **extra,
        ).letterId

    return make


def post(base_url: str, path: str, body=None, **kwargs) -> requests.Response:
    return requests.post(f"{base_url}{path}", json=body, timeout=5, **kwargs)


def assert_error(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]


def test_health(sandbox):
    assert requests.get(f"{sandbox}/api/health", timeout=5).json() == {"ok": True}


def test_listing_letters_newest_first_and_by_reference(sandbox, new_letter):
    first = new_letter("PK-1", attachments=[
        {"name": "مدرک.pdf", "contentType": "application/pdf", "content": b"12345"}
    ])
    second = new_letter("PK-2")

    everything = requests.get(f"{sandbox}/api/letters", timeout=5).json()["letters"]
    assert [letter["id"] for letter in everything] == [second, first]
    only = requests.get(f"{sandbox}/api/letters", params={"reference": "PK-1"}, timeout=5).json()
    (letter,) = only["letters"]
    assert {k: letter[k] for k in ("id", "reference", "status", "number", "subject", "unit")} == {
        "id": first,
        "reference": "PK-1",
        "status": "pending",
        "number": None,
        "subject": "درخواست گواهی اشتغال به کار",
        "unit": "HR",
    }
    assert [(a["name"], a["size"]) for a in letter["attachments"]] == [("مدرک.pdf", 5)]


@BOTH_DATABASES
def test_unknown_letter_and_unknown_path_are_json_errors(sandbox):
    assert_error(requests.get(f"{sandbox}/api/letters/999", timeout=5), 404, "not_found")
    assert_error(post(sandbox, "/api/letters/999/close"), 404, "not_found")
    assert_error(post(sandbox, "/api/letters/999/register"), 404, "not_found")
    assert_error(requests.get(f"{sandbox}/api/nothing-here", timeout=5), 404, "not_found")
    assert_error(requests.delete(f"{sandbox}/api/health", timeout=5), 405, "method_not_allowed")


@BOTH_DATABASES
def test_register_numbers_per_jalali_year_or_takes_a_given_number(sandbox, new_letter):
    year = JalaliDate.today().year
    given = post(sandbox, f"/api/letters/{new_letter('PK-1')}/register", {"number": f"{year}/900"})
    assert given.json()["number"] == f"{year}/900"
    assert given.json()["status"] == "registered"
    assert given.json()["numberDate"]

    automatic = post(sandbox, f"/api/letters/{new_letter('PK-2')}/register").json()
    assert automatic["number"] == f"{year}/901"

    third = new_letter("PK-3")
    taken = post(sandbox, f"/api/letters/{third}/register", {"number": f"{year}/900"})
    assert_error(taken, 409, "action_not_allowed")
    letter = requests.get(f"{sandbox}/api/letters/{third}", timeout=5).json()
    assert (letter["status"], letter["number"]) == ("pending", None)  # nothing of it was kept

    other = post(sandbox, f"/api/letters/{new_letter('PK-4')}/register", {"number": "X-1"})
    assert other.json()["number"] == "X-1"  # not in the sandbox's form: no serial of its own
    assert post(sandbox, f"/api/letters/{new_letter('PK-5')}/register").json()["number"] == \
        f"{year}/902"


@BOTH_DATABASES
def test_concurrent_registrations_get_distinct_consecutive_serials(sandbox, new_letter, client):
    ids = [new_letter(f"PK-{n}") for n in range(16)]

    def deliver_registered(n: int) -> int:
        return client.service.DeliverLetter(
            reference=f"PR-{n}", subject="درخواست", body="متن", senderName="رضا کاظمی",
            senderNationalCode="0012345678", senderMobile="09121234567", unitCode="SEC",
            register=True).letterId

    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda i: post(sandbox, f"/api/letters/{i}/register"), ids))
        delivered = list(pool.map(deliver_registered, range(16)))
    assert all(answer.status_code == 200 for answer in answers)
    numbers = [answer.json()["number"] for answer in answers] + [
        requests.get(f"{sandbox}/api/letters/{i}", timeout=5).json()["number"] for i in delivered]
    assert sorted(int(number.split("/")[1]) for number in numbers) == list(range(1, 33))
    # Each registration put one row on the routing feed, in the order of their serials.
    feed = client.service.GetChanges(cursor=0, max=100).changes
    registered = [change.number for change in feed if change.kind == "registered"]
    assert sorted(registered) == sorted(numbers)
    assert registered == sorted(registered, key=lambda number: int(number.split("/")[1]))


@pytest.mark.parametrize("sandbox", ["postgresql"], indirect=True)
def test_a_letter_delivered_registered_and_linked_while_its_parent_is_registered(
        sandbox, new_letter, client, pg_url):
    """The link's foreign-key check share-locks the parent. A delivery that held that while it
    waited for the feed lock, behind a registration of the parent (which must lock the parent
    to number it), would deadlock with it. Made to happen in that order: the test holds the
    feed lock until both wait for it."""
    import psycopg
    parent = new_letter("PK-1")
    with psycopg.connect(pg_url.replace("+psycopg", "")) as holder:
        holder.execute("SELECT code FROM oa_units WHERE code = 'SEC' FOR NO KEY UPDATE")

        def waiting() -> int:
            with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as look:
                return look.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                    "current_database() AND wait_event_type = 'Lock'"
                                    ).fetchone()[0]

        def until(count: int) -> None:
            deadline = time.monotonic() + 10
            while waiting() < count:
                assert time.monotonic() < deadline, "nobody waits for the feed lock"
                time.sleep(0.02)

        with ThreadPoolExecutor(max_workers=2) as pool:
            registered = pool.submit(post, sandbox, f"/api/letters/{parent}/register")
            until(1)
            followed = pool.submit(
                lambda: client.service.DeliverLetter(
                    reference="PF-1", subject="پیگیری", body="متن", senderName="رضا کاظمی",
                    senderNationalCode="0012345678", senderMobile="09121234567",
                    unitCode="SEC", register=True, relatedLetterId=parent,
                    relation="follow_up"))
            until(2)
            holder.commit()
            assert registered.result().status_code == 200, registered.result().text
            assert followed.result().status == "registered"


@BOTH_DATABASES
def test_actions_forbidden_in_the_current_status_are_conflicts(sandbox, new_letter):
    letter_id = new_letter()
    for action, body in [("refer", {"unit": "IT"}), ("answer", {"text": "x"}), ("close", None)]:
        assert_error(post(sandbox, f"/api/letters/{letter_id}/{action}", body), 409,
                     "action_not_allowed")
    assert post(sandbox, f"/api/letters/{letter_id}/register").status_code == 200
    assert_error(post(sandbox, f"/api/letters/{letter_id}/register"), 409, "action_not_allowed")
    assert_error(post(sandbox, f"/api/letters/{letter_id}/reject", {"reason": "دیر"}), 409,
                 "action_not_allowed")


def test_reject_needs_a_reason(sandbox, new_letter):
    letter_id = new_letter()
    assert_error(post(sandbox, f"/api/letters/{letter_id}/reject", {}), 400, "invalid_request")
    assert_error(post(sandbox, f"/api/letters/{letter_id}/reject", {"reason": "  "}), 400,
                 "invalid_request")
    rejected = post(sandbox, f"/api/letters/{letter_id}/reject", {"reason": "فرم ناقص است"}).json()
    assert (rejected["status"], rejected["rejectReason"]) == ("rejected", "فرم ناقص است")
    assert rejected["allowedActions"] == []


def test_refer_answer_close(sandbox, new_letter):
    letter_id = new_letter()
    post(sandbox, f"/api/letters/{letter_id}/register")
    assert_error(post(sandbox, f"/api/letters/{letter_id}/refer", {"unit": "NOPE"}), 400,
                 "invalid_request")
    referred = post(sandbox, f"/api/letters/{letter_id}/refer", {"unit": "FIN"}).json()
    # Without a person the letter goes to the unit's head.
    assert (referred["status"], referred["unit"], referred["person"]) == (
        "referred", "FIN", "زهرا کریمی"
    )
    again = post(sandbox, f"/api/letters/{letter_id}/refer",
                 {"unit": "IT", "person": "علی رضایی", "instruction": "فوری"}).json()
    assert (again["unit"], again["person"]) == ("IT", "علی رضایی")

    assert_error(post(sandbox, f"/api/letters/{letter_id}/answer", {"text": ""}), 400,
                 "invalid_request")
    assert post(sandbox, f"/api/letters/{letter_id}/answer", {"text": "انجام شد"}).json()[
        "status"] == "answered"
    assert post(sandbox, f"/api/letters/{letter_id}/close").json()["status"] == "closed"


def test_malformed_bodies_are_refused(sandbox, new_letter):
    letter_id = new_letter()
    broken = requests.post(f"{sandbox}/api/letters/{letter_id}/reject", data="{not json",
                           headers={"Content-Type": "application/json"}, timeout=5)
    assert_error(broken, 400, "invalid_request")
    assert_error(post(sandbox, f"/api/letters/{letter_id}/reject", ["a list"]), 400,
                 "invalid_request")
    assert_error(post(sandbox, f"/api/letters/{letter_id}/reject", {"reason": 5}), 400,
                 "invalid_request")


def test_faults_are_read_replaced_and_cleared(sandbox):
    defaults = requests.get(f"{sandbox}/api/faults", timeout=5).json()
    assert defaults == {
        "latency_ms": 0, "error_rate": 0, "down": False, "commit_then_timeout": 0,
        "duplicate_events": 0, "reorder_events": False, "commit_then_fault": 0,
        "session_expiry": 0,
    }
    post(sandbox, "/api/faults", {"latency_ms": 50, "error_rate": 0.25})
    post(sandbox, "/api/faults", {"down": True})
    current = requests.get(f"{sandbox}/api/faults", timeout=5).json()
    assert (current["down"], current["latency_ms"], current["error_rate"]) == (True, 0, 0)
    # Faults are for the SOAP service only; the scripting API keeps working.
    assert requests.get(f"{sandbox}/api/health", timeout=5).status_code == 200
    assert post(sandbox, "/api/faults", {}).json() == defaults


@pytest.mark.parametrize(
    "body",
    [{"error_rate": 2}, {"latency_ms": -1}, {"latency_ms": True}, {"down": "yes"}, {"typo": 1},
     [1, 2]],
)
def test_invalid_faults_are_refused(sandbox, body):
    assert_error(post(sandbox, "/api/faults", body), 400, "invalid_request")


def test_faults_can_be_configured_at_start(tmp_path):
    base_url, _app, stop = start_sandbox(tmp_path, FAULTS='{"reorder_events": true}')
    try:
        assert requests.get(f"{base_url}/api/faults", timeout=5).json()["reorder_events"] is True
    finally:
        stop()


def test_create_app_refuses_unknown_config_keys(tmp_path):
    with pytest.raises(ValueError, match="TIMEOUT_SLEPE"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "TIMEOUT_SLEPE": 2})


def test_cartable_pages_are_persian_and_right_to_left(sandbox, new_letter):
    letter_id = new_letter(subject="درخواست پروانه کسب")
    index = requests.get(f"{sandbox}/", timeout=5)
    assert index.status_code == 200
    assert '<html lang="fa" dir="rtl">' in index.text
    assert "در انتظار ثبت" in index.text and "درخواست پروانه کسب" in index.text
    assert PERSIAN_DATE.search(index.text)
    # Nothing fetched from elsewhere: the sandbox must work offline.
    assert not re.search(r'(src|href)="(https?:)?//', index.text)

    page = requests.get(f"{sandbox}/letters/{letter_id}", timeout=5)
    assert "ثبت و شماره‌گذاری" in page.text and "رد نامه" in page.text
    css = requests.get(f"{sandbox}/static/cartable.css", timeout=5)
    assert css.status_code == 200


def test_cartable_forms_act_on_the_letter(sandbox, new_letter):
    letter_id = new_letter()
    url = f"{sandbox}/letters/{letter_id}"

    refused = requests.post(f"{url}/reject", data={"reason": ""}, timeout=5)
    assert refused.status_code == 400 and "دلیل" in refused.text

    registered = requests.post(f"{url}/register", timeout=5, allow_redirects=False)
    assert registered.status_code == 303
    page = requests.get(urljoin(url, registered.headers["Location"]), timeout=5)
    assert "نامه ثبت شد" in page.text
    number = requests.get(f"{sandbox}/api/letters/{letter_id}", timeout=5).json()["number"]
    assert en_to_fa(number) in page.text

    requests.post(f"{url}/refer", data={"unit": "IT", "instruction": "پیگیری شود"}, timeout=5)
    requests.post(f"{url}/answer", data={"text": "پاسخ داده شد"}, timeout=5)
    conflict = requests.post(f"{url}/reject", data={"reason": "دیر"}, timeout=5)
    assert conflict.status_code == 409
    closed = requests.post(f"{url}/close", timeout=5)
    assert closed.status_code == 200 and "بسته و بایگانی شد" in closed.text
    letter = requests.get(f"{sandbox}/api/letters/{letter_id}", timeout=5).json()
    assert letter["status"] == "closed"

    reply = requests.get(f"{url}/reply", timeout=5)
    assert "پاسخ داده شد" in reply.content.decode("utf-8")
    assert "attachment" in reply.headers["Content-Disposition"]
    assert requests.get(f"{sandbox}/letters/999", timeout=5).status_code == 404
