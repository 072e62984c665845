from sms import segments
from sms.texts import DEFAULTS, PersianTexts, variables_of


def test_persian_segments_are_ucs2():
    assert segments.count("س" * 70) == 1
    assert segments.count("س" * 71) == 2
    assert segments.count("س" * 134) == 2
    assert segments.count("س" * 135) == 3


def test_latin_segments_are_gsm():
    assert segments.count("a" * 160) == 1
    assert segments.count("a" * 161) == 2
    assert segments.count("{" * 80) == 1 and segments.count("{" * 81) == 2
    assert segments.count("") == 0


def test_one_persian_letter_makes_the_whole_text_ucs2():
    assert segments.count("a" * 69 + "ب") == 1
    assert segments.count("a" * 70 + "ب") == 2


def test_every_default_text_renders_without_leftover_braces():
    texts = PersianTexts()
    values = {"code": "12345", "org_name": "شهرداری", "tracking_code": "123456789012",
              "letter_number": "1405/12", "reason": "مدارک کامل نیست", "unit": "امور مالی",
              "track_url": "http://x/t/1", "survey_url": "http://x/t/1#survey",
              # the in-person desk's texts (connector/visits)
              "day": "۱۴۰۵/۰۹/۰۸", "place": "امور مالی",
              "pass_code": "398241320084", "visitor": "مریم احمدی", "time": "۱۰:۰۵",
              "host": "مهندس کریمی",
              "due_line": "پایان کار تا ۱۴۰۵/۰۹/۲۰", "state": "registered",
              "status": "ثبت شد", "number_line": "شماره نامه: 1405/2", "note": "سند"}
    for kind in DEFAULTS:
        text = texts.render(kind, values)
        assert "{" not in text and text
        assert variables_of(DEFAULTS[kind]) <= set(values)


def test_registered_text_carries_the_number_verbatim():
    text = PersianTexts().render("registered", {"letter_number": "1405/1024",
                                                "tracking_code": "1"})
    assert "1405/1024" in text


def test_organization_override_wins_and_missing_variables_are_blank():
    text = PersianTexts().render("rejected", {"reason": "ناقص"},
                                 {"rejected": "رد شد: {reason} {nothing}"})
    assert text == "رد شد: ناقص"


def test_length_guard():
    texts = PersianTexts()
    text = texts.render("rejected", {"reason": "خیلی " * 500})
    assert texts.segments(text) <= 6 and text.endswith("…")
