"""Working days on the Jalali calendar, with the shipped holiday data."""
from __future__ import annotations

from datetime import date

import pytest

from connector.config import holidays
from connector.domain.calendar import WorkCalendar, jalali, jalali_text


@pytest.fixture(scope="module")
def official() -> WorkCalendar:
    calendar, _ = holidays.load({})
    return calendar


def test_ten_working_days_from_a_wednesday_skip_fridays_and_official_holidays(official):
    wednesday = jalali(1404, 3, 7)
    assert wednesday.weekday() == 2
    # Thu 8 (1), Fri 9 closed, Sat 10 .. Tue 13 (2-5), Wed 14 (death of Imam Khomeini),
    # Thu 15 (15 Khordad) and Fri 16 (also Eid al-Adha) closed, Sat 17 .. Wed 21 (6-10).
    assert jalali_text(official.add(wednesday, 10)) == "1404/03/21"
    # Counting Fridays alone would have promised four days sooner.
    assert jalali_text(WorkCalendar().add(wednesday, 10)) == "1404/03/19"
    assert jalali_text(date.fromordinal(wednesday.toordinal() + 10)) == "1404/03/17"


def test_nowruz_and_lunar_holidays_are_closed(official):
    for y, m, d in [(1404, 1, 1), (1404, 1, 4), (1404, 1, 13), (1404, 4, 15), (1404, 11, 22),
                    (1405, 1, 2), (1406, 12, 29)]:
        assert not official.is_working(jalali(y, m, d)), (y, m, d)
    assert official.is_working(jalali(1404, 1, 5))  # Tuesday after Nowruz
    assert official.known_years == {1404, 1405, 1406}


def test_thursday_rules_and_closures(official):
    saturday = jalali(1405, 9, 7)
    assert saturday.weekday() == 5
    assert jalali_text(official.add(saturday, 5)) == "1405/09/12"  # Sun..Thu
    half = official.with_closures([], "half")
    assert half.between(saturday, jalali(1405, 9, 12)) == 4.5  # Thursday morning only
    assert jalali_text(half.add(saturday, 5)) == "1405/09/14"  # 4 + ½ + Sat
    closed = official.with_closures([jalali(1405, 9, 8)], "closed")
    assert jalali_text(closed.add(saturday, 5)) == "1405/09/15"  # Sun closed, Thu/Fri skipped


def test_lateness_in_working_days(official):
    due = jalali(1405, 9, 4)  # a Tuesday
    assert official.late_by(due, due) == 0
    assert official.late_by(due, jalali(1405, 9, 1)) == 0
    assert official.late_by(due, jalali(1405, 9, 8)) == 3  # Wed, Thu, (Fri), Sat
    assert official.between(jalali(1405, 9, 8), due) == -3


def test_an_update_file_replaces_a_year_and_adds_new_ones(tmp_path):
    extra = tmp_path / "holidays.toml"
    extra.write_text('[1405]\nholidays = [{ date = "09-03", title = "تعطیلی اعلام‌شده" }]\n'
                     '[1407]\nholidays = [{ date = "01-01", title = "نوروز" }]\n',
                     encoding="utf-8")
    calendar, years = holidays.load({"PISHKHAN_HOLIDAYS_FILE": str(extra)})
    assert calendar.known_years == {1404, 1405, 1406, 1407}
    assert not calendar.is_working(jalali(1405, 9, 3))
    assert calendar.is_working(jalali(1405, 1, 2))  # no longer listed for 1405
    assert [h.title for h in years[1405]] == ["تعطیلی اعلام‌شده"]  # the year is replaced
    assert not calendar.is_working(jalali(1407, 1, 1))
    extra.write_text('[1405]\nholidays = [{ date = "13-40" }]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="holidays.toml.*1405"):
        holidays.load({"PISHKHAN_HOLIDAYS_FILE": str(extra)})


def test_organization_calendar_table():
    cal, problems = holidays.parse_org_calendar({"closures": ["1405-02-10", "۱۴۰۵/۰۲/۱۱"],
                                                 "thursday": "half"})
    assert problems == [] and cal.thursday == "half"
    assert cal.closures == (jalali(1405, 2, 10), jalali(1405, 2, 11))
    _, problems = holidays.parse_org_calendar({"closures": ["tomorrow"], "thursday": "x",
                                               "weekend": "fri"})
    assert {p[0] for p in problems} == {"calendar.closures", "calendar.thursday",
                                        "calendar.weekend"}
