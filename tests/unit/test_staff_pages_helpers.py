from datetime import date, datetime

from connector.operations.dashboard import MASK, masked
from portal.staff_ui import day_start_utc, parse_day


def test_secrets_are_masked_but_names_of_variables_are_not():
    shown = masked({"wsdl": "https://user:hunter2@oa.example.ir/ws?wsdl",
                    "password": "hunter2", "api_key": "k", "password_env": "OA_PASSWORD",
                    "timeout": 10, "extra": {"token": "t", "host": "h"}})
    assert shown == {"wsdl": f"https://user:{MASK}@oa.example.ir/ws?wsdl", "password": MASK,
                     "api_key": MASK, "password_env": "OA_PASSWORD", "timeout": 10,
                     "extra": {"token": MASK, "host": "h"}}


def test_days_are_read_in_jalali_or_gregorian_with_any_digits():
    assert parse_day("۱۴۰۵/۰۹/۰۱") == date(2026, 11, 22)
    assert parse_day("1405-9-1") == date(2026, 11, 22)
    assert parse_day("2026-11-22") == date(2026, 11, 22)
    assert parse_day("۱۴۰۵/۱۳/۰۱") is None and parse_day("دیروز") is None and parse_day("") is None
    # Midnight in Tehran is 20:30 UTC of the day before.
    assert day_start_utc(date(2026, 11, 22)) == datetime(2026, 11, 21, 20, 30)
