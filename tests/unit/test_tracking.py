from connector.domain import tracking


def test_codes_are_valid_digits_of_the_right_length():
    codes = {tracking.new_code() for _ in range(2000)}
    assert len(codes) == 2000  # random, no repeats in a small sample
    for code in codes:
        assert code.isdigit() and len(code) == tracking.LENGTH and code[0] != "0"
        assert tracking.is_valid(code)


def test_codes_are_not_sequential():
    a, b = int(tracking.new_code()), int(tracking.new_code())
    assert abs(a - b) > 1000


def test_every_single_digit_typo_is_caught():
    code = tracking.new_code()
    for i in range(len(code)):
        for d in "0123456789":
            if d != code[i]:
                assert not tracking.is_valid(code[:i] + d + code[i + 1:])


def test_every_swap_of_neighbours_is_caught():
    for _ in range(200):
        code = tracking.new_code()
        for i in range(len(code) - 1):
            if code[i] != code[i + 1]:
                swapped = code[:i] + code[i + 1] + code[i] + code[i + 2:]
                assert not tracking.is_valid(swapped)


def test_persian_digits_spaces_and_dashes_are_accepted():
    code = tracking.new_code()
    persian = code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    spaced = f"{persian[:4]} {persian[4:8]}-{persian[8:]}"
    assert tracking.is_valid(spaced)
    assert tracking.clean(spaced) == code


def test_wrong_lengths_are_invalid():
    assert not tracking.is_valid("")
    assert not tracking.is_valid("12345")
    assert not tracking.is_valid(tracking.new_code() + "0")
