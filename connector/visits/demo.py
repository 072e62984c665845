"""The demo's visits (only when PISHKHAN_DEMO is on): a host with a mobile, a security account,
a gate whose token is new at every start (only its hash is kept, so it cannot be shown again),
and two visitors expected today."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from connector.domain.clock import TEHRAN, now, to_naive_utc
from connector.domain.errors import NotFound
from connector.people import staff
from connector.store.models import StaffUser
from connector.store.visits import Visit
from connector.visits import gates, hosts
from connector.visits import usecases as visits
from connector.visits.people import Identity

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

ORG = "demo"
HOST = ("host", "pishkhan-host")
SECURITY = ("security", "pishkhan-security")
HOST_MOBILE = "09350000001"
GATE = "main-gate"
EXPECTED = (Identity(national_code="0076229645", first_name="مریم", last_name="احمدی",
                     father_name="علی", mobile="09121234567"),
            Identity(kind="foreign", passport="A1234567", nationality="افغانستان",
                     first_name="احمد", last_name="کریمی"))


@dataclass(frozen=True)
class DemoVisits:
    host: tuple[str, str]
    security: tuple[str, str]
    gate: str
    token: str


def ensure(px: Pishkhan) -> DemoVisits | None:
    if not px.settings.demo or ORG not in px.orgs:
        return None
    for (username, password), role, name in ((HOST, "host", "مهندس کریمی (میزبان نمونه)"),
                                             (SECURITY, "security", "نگهبانی نمونه")):
        with px.sessions() as s:
            exists = s.scalars(select(StaffUser).where(StaffUser.username == username)).first()
        if not exists:
            staff.add_user(px, username, password, role, [ORG], display_name=name)
    hosts.set_profile(px, HOST[0], mobile=HOST_MOBILE)
    try:
        token = gates.rotate(px, ORG, GATE)
    except NotFound:
        _, token = gates.add(px, ORG, GATE)
    _expect_two_today(px)
    return DemoVisits(HOST, SECURITY, GATE, token)


def _expect_two_today(px: Pishkhan) -> None:
    today = datetime.now(TEHRAN).date()
    start = to_naive_utc(datetime(today.year, today.month, today.day, 8, tzinfo=TEHRAN))
    # Open until the evening, or for four more hours when the demo starts late in the day.
    end = max(start + timedelta(hours=12), now() + timedelta(hours=4))
    with px.sessions() as s:
        planned = s.scalars(select(Visit).where(Visit.org == ORG, Visit.state == "planned",
                                                Visit.window_end > now())).first()
    if planned is not None:
        return
    for person in EXPECTED:
        visits.register(px, ORG, Identity(**person.key(), first_name=person.first_name,
                                          last_name=person.last_name,
                                          father_name=person.father_name,
                                          mobile=person.mobile),
                        host=HOST[0], purpose="جلسه نمونه", start=start, end=end)
