import pytest

from connector.domain import normalize


@pytest.mark.parametrize("value", ["0076229645", "1583250689", "۰۰۷۶۲۲۹۶۴۵", "007-622-9645",
                                   "11537027"])
def test_valid_national_codes(value):
    assert normalize.national_code(value) is not None


def test_short_national_codes_are_left_padded():
    assert normalize.national_code("11537027") == "0011537027"


@pytest.mark.parametrize("value", ["9999999999", "0000000000", "0076229646", "12345", "abc",
                                   "", "00762296450"])
def test_invalid_national_codes(value):
    assert normalize.national_code(value) is None


def test_legal_id():
    assert normalize.legal_id("10380284790") == "10380284790"
    assert normalize.legal_id("۱۰۳۸۰۲۸۴۷۹۰") == "10380284790"
    assert normalize.legal_id("10380284791") is None
    assert normalize.legal_id("00000000000") is None
    assert normalize.legal_id("1038028479") is None


@pytest.mark.parametrize("value", ["09121234567", "۰۹۱۲۱۲۳۴۵۶۷", "+989121234567",
                                   "00989121234567", "9121234567", "0912 123 4567",
                                   "0912-123-4567", "٠٩١٢١٢٣٤٥٦٧", "09901234567"])
def test_mobiles_in_every_form(value):
    assert normalize.mobile(value) == ("09901234567" if value == "09901234567"
                                       else "09121234567")


@pytest.mark.parametrize("value", ["0912123456", "08121234567", "021-12345678", "", "۰۹۱۲"])
def test_not_mobiles(value):
    assert normalize.mobile(value) is None


def test_text_normalizes_arabic_letters_and_keeps_zwnj():
    assert normalize.text(" علي كريمي ") == "علی کریمی"
    assert normalize.text("می\u200cخواهم") == "می\u200cخواهم"


def test_digits_both_ways():
    assert normalize.to_latin_digits("۱۲۳٤٥") == "12345"
    assert normalize.to_persian_digits(1405) == "۱۴۰۵"


def test_masks_hide_personal_data():
    assert normalize.mask_mobile("09121234567") == "0912***4567"
    assert normalize.mask_id("0076229645") == "******9645"
