"""What the staff pages share: names of states for staff (plainer than the citizen's), the
"how long ago" filter, Jalali date input, and the role checks of the staff blueprints."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort, current_app
from persiantools.jdatetime import JalaliDate

from connector.config.organizations import Organization
from connector.domain.clock import local, now, to_naive_utc
from connector.domain.normalize import mask_mobile, number, to_latin_digits
from connector.store.models import StaffUser

from . import pishkhan
from .filters import TEHRAN, fa_digits
from .security import current_staff, staff_required

F = TypeVar("F", bound=Callable[..., Any])

STATE: dict[str, str] = {
    "staged": "در صف فرستادن",
    "awaiting_approval": "منتظر تایید",
    "approved": "تایید شده، منتظر فرستادن",
    "delivering": "در حال فرستادن",
    "delivered": "رسیده به دبیرخانه",
    "registered": "ثبت شده",
    "in_progress": "در دست رسیدگی",
    "answered": "پاسخ داده شده",
    "closed": "بسته شده",
    "rejected": "رد شده",
    "delivery_failed": "فرستادن ناموفق (تلاش دوباره)",
    "dead": "متوقف؛ نیاز به بررسی",
    "withdrawn": "پس گرفته شده",
    "awaiting_documents": "منتظر مدرک متقاضی",
}

HEALTH: dict[str, str] = {"ok": "سالم", "failing": "خطا دارد", "paused": "متوقف شده",
                          "unknown": "هنوز بررسی نشده"}

ROLE: dict[str, str] = {"controller": "کنترل‌کننده دبیرخانه", "desk": "میز خدمت حضوری",
                        "org_admin": "مدیر سازمان", "platform_admin": "مدیر سامانه",
                        "host": "میزبان (ثبت ملاقات)", "security": "نگهبانی و پذیرش"}


def ago(value: datetime | float | None) -> str:
    """``۳ ساعت`` — how long since ``value`` (a naive UTC time) or a number of seconds."""
    if value is None:
        return "—"
    seconds = value if isinstance(value, (int, float)) else (now() - value).total_seconds()
    seconds = max(0, int(seconds))
    for size, unit in ((86400, "روز"), (3600, "ساعت"), (60, "دقیقه")):
        if seconds >= size:
            return f"{fa_digits(seconds // size)} {unit}"
    return f"{fa_digits(seconds)} ثانیه"


def parse_day(value: str) -> date | None:
    """A day typed as Jalali (۱۴۰۵/۰۹/۰۱) or Gregorian (2026-11-22), Persian or Latin digits."""
    text = to_latin_digits(value or "").strip().replace("/", "-")
    parts = [p for p in text.split("-") if p]
    numbers = [number(p) for p in parts]
    if len(parts) != 3 or not all(n and len(n) <= 4 for n in numbers):
        return None
    y, m, d = (int(str(n)) for n in numbers)
    try:
        return JalaliDate(y, m, d).to_gregorian() if y < 1700 else date(y, m, d)
    except ValueError:
        return None


def fa_number(value: float) -> str:
    """``۴``, ``۱۰٫۵``: one decimal at most, with the Persian decimal separator."""
    text = f"{value:.1f}".removesuffix(".0")
    return fa_digits(text.replace(".", "٫"))


def jalali_day(day: date) -> str:
    """``۱۴۰۵/۰۹/۰۱``: the form a person types the day back in."""
    return fa_digits(JalaliDate(day).strftime("%Y/%m/%d"))


def today() -> date:
    """Today in Tehran."""
    return local(now()).date()


def day_start_utc(day: date) -> datetime:
    """Midnight in Tehran, as the naive UTC the store keeps."""
    local = datetime(day.year, day.month, day.day, tzinfo=TEHRAN)
    return to_naive_utc(local)


def next_day_start_utc(day: date) -> datetime:
    return day_start_utc(day + timedelta(days=1))


def user() -> StaffUser:
    found = current_staff()
    assert found is not None  # staff_required ran first
    return found


def orgs_where(may: Callable[[StaffUser, str], bool]) -> list[Organization]:
    """The organizations the signed-in staff member may use a page for (``staff.may_*``)."""
    u = user()
    return [o for o in pishkhan().orgs.values() if may(u, o.slug)]


def org_where(may: Callable[[StaffUser, str], bool], slug: str) -> Organization:
    """The organization, or a 404 for one that does not exist or is not this user's."""
    if slug not in pishkhan().orgs or not may(user(), slug):
        abort(404)
    return pishkhan().org(slug)


def role_required(*roles: str) -> Callable[[F], F]:
    """Staff with one of ``roles`` only; others get a 404, as for another organization's page."""
    def decorate(view: F) -> F:
        @wraps(view)
        @staff_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if user().role not in roles:
                abort(404)
            return view(*args, **kwargs)
        return wrapped  # type: ignore[return-value]
    return decorate


def register(app: Flask) -> None:
    app.add_template_filter(ago, "ago")
    app.add_template_filter(lambda s: STATE.get(s, s), "staff_state")
    app.add_template_filter(lambda s: HEALTH.get(s, s), "health_label")
    app.add_template_filter(lambda s: ROLE.get(s, s), "role_label")
    app.add_template_filter(mask_mobile, "mask_mobile")
    app.add_template_filter(jalali_day, "jalali_day")
    app.add_template_filter(fa_number, "fa_number")
    # Lets the staff menu link only to pages this app serves.
    app.jinja_env.globals["url_map_endpoints"] = lambda: current_app.view_functions.keys()
