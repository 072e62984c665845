"""The shared inbox reading: the cursor with its resume point, and when paging may stop early."""
from __future__ import annotations

from sms.gateways.base import line_key
from sms.gateways.inbox import Page, Resume, note, read_pages


def _pages(rows: list[int], size: int):
    asked: list[int] = []

    def fetch(page: int) -> Page:
        asked.append(page)
        return Page(rows[page * size:(page + 1) * size])
    return fetch, asked


def test_a_cursor_keeps_its_resume_point_and_an_old_one_reads_as_it_was():
    assert str(Resume.parse("20250")) == "20250" and Resume.parse("").seen == ""
    cut = Resume("2025-01-01T00:00:00.000Z", "2025-01-02T00:00:00.000Z", 3, True, 2,
                 "2025-01-01T12:00:00.000Z~1")
    assert Resume.parse(str(cut)) == cut
    assert note(str(cut), 20, 100).startswith("partial") and "2 texts" in note(str(cut), 20, 100)
    assert note("20250", 20, 100) is None


def test_paging_stops_early_only_when_the_order_is_newest_first():
    newest_first = list(range(250, 0, -1))
    fetch, asked = _pages(newest_first, 100)
    got = read_pages(fetch, lambda r: r, first=0, start=0, limit=20, size=100,
                     reached=lambda rows: min(rows) <= 180)
    assert asked == [0] and got.next_page is None and got.order == "newest-first"
    fetch, asked = _pages(newest_first[::-1], 100)  # oldest first: the cursor says nothing
    got = read_pages(fetch, lambda r: r, first=0, start=0, limit=20, size=100,
                     reached=lambda rows: min(rows) <= 180)
    assert asked == [0, 1, 2] and got.order == "oldest-first" and got.start_next == 2
    fetch, asked = _pages([5] * 300, 100)  # one key: no order known; a full page reads on
    got = read_pages(fetch, lambda r: r, first=0, start=0, limit=2, size=100,
                     reached=lambda rows: True)
    assert asked == [0, 1] and got.next_page == 2 and got.order == "unknown"


def test_line_numbers_in_every_form():
    assert {line_key(n) for n in ("+983000505", "983000505", "03000505", "3000505",
                                  "0098 3000505", "۳۰۰۰۵۰۵")} == {"3000505"}
    assert line_key(None) == line_key("") == ""


def test_a_resume_point_past_the_end_starts_again_from_the_first_page():
    # Texts deleted in the provider's panel since the cursor was saved: page 5 is empty now.
    fetch, asked = _pages(list(range(150, 0, -1)), 100)
    got = read_pages(fetch, lambda r: r, first=0, start=5, limit=20, size=100)
    assert asked == [5, 0, 1] and len(got.rows) == 150
