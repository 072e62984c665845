"""The message catalog: the core says codes, the catalog says sentences in Persian and English,
and no Persian sentence hides in the core any more."""
from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import messages
from connector.domain.errors import Message, ValidationError, msg
from connector.domain.letter import State
from connector.letters import timeline
from connector.letters import usecases as letters
from portal.errors import CODES

ROOT = Path(__file__).resolve().parents[2]
PERSIAN = re.compile(r"[\u0600-\u06FF]")


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_persian_and_english_say_the_same_things_with_the_same_blanks():
    assert set(messages.FA) == set(messages.EN)
    for code, fa in messages.FA.items():
        assert fields(fa) == fields(messages.EN[code]), code
        assert PERSIAN.search(fa), code
        assert not PERSIAN.search(messages.EN[code]), code


def test_every_code_said_in_the_code_is_in_the_catalog():
    said = set()
    for folder in ("connector", "portal"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            said |= set(re.findall(r'\bmsg\("([a-z_]+\.[a-z_]+)"', text))
            said |= set(re.findall(r'\bflash\("([a-z_]+\.[a-z_]+)"\)', text))
            said |= set(re.findall(r'messages\.render\("([a-z_]+\.[a-z_]+)"', text))
    said |= {m.code for m in letters.MSG.values()}
    said |= {f"status.{s.value}" for s in State} | {f"error.{c}" for c in CODES.values()}
    said |= {timeline.line(kind, {"unit": "u", "person": "p"}).code for kind in (
        "submitted", "awaiting_approval", "approved", "delivered", "registered", "rejected",
        "referred", "answered", "closed", "withdrawn")}
    assert len(said) > 60
    assert sorted(said - set(messages.FA)) == []


def test_rendering_fills_the_blanks_with_persian_digits_in_persian():
    assert messages.render(msg("otp.wrong", left=3)) == \
        "کد درست نیست. ۳ بار دیگر می‌توانید امتحان کنید."
    assert messages.render(msg("otp.wrong", left=3), "en") == \
        "The code is wrong. You can try 3 more times."
    referred = timeline.line("referred", {"unit": ""})
    assert messages.render(referred) == "نامه شما به واحد دیگر فرستاده شد."
    assert messages.render(referred, "en") == "Your letter was sent to another unit."
    both = Message("attachments", parts=(msg("attachments.too_big", name="a.pdf", mb=10),
                                         msg("attachments.not_accepted", name="b.exe")))
    assert messages.render(both, "en") == \
        "“a.pdf” is larger than 10 MB. “b.exe” is not accepted. Only PDF, Word, Excel, JPG " \
        "and PNG."
    assert messages.render("no.such_code") == "no.such_code"  # never breaks a page


def test_the_core_raises_codes_not_sentences():
    err = ValidationError({"subject": letters.MSG["subject"]})
    assert err.errors["subject"] == msg("letter.subject")
    assert str(err) == "subject: letter.subject"


# Persian that stays in the core, each for a reason.
ALLOWED = {
    # digits and letters the normalizers convert
    ("connector/domain/normalize.py", "۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩"),
    ("connector/domain/normalize.py", "۰۱۲۳۴۵۶۷۸۹"),
    ("connector/operations/logs.py", "۰۱۲۳۴۵۶۷۸۹"),
    # data, not words to a reader: stored as the letter's reason, it reaches the SMS and every
    # page alike; the demo staff accounts' display names; examples in the schema
    ("connector/letters/lifecycle.py", "دلیلی نوشته نشده است."),
    ("connector/people/staff.py", "کنترل‌کننده نمونه"),
    ("connector/people/staff.py", "مدیر سامانه نمونه"),
    # the demo's visits (connector/visits/demo.py): accounts, expected visitors, a purpose
    ("connector/visits/demo.py", "مهندس کریمی (میزبان نمونه)"),
    ("connector/visits/demo.py", "نگهبانی نمونه"),
    ("connector/visits/demo.py", "مریم"), ("connector/visits/demo.py", "احمدی"),
    ("connector/visits/demo.py", "علی"), ("connector/visits/demo.py", "احمد"),
    ("connector/visits/demo.py", "کریمی"), ("connector/visits/demo.py", "افغانستان"),
    ("connector/visits/demo.py", "جلسه نمونه"),
}


def test_no_persian_sentence_is_left_in_the_core():
    found = []
    for path in sorted((ROOT / "connector").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = {id(n.body[0].value) for n in ast.walk(tree)
                if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef))
                and n.body and isinstance(n.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and id(node) not in docs and PERSIAN.search(node.value) \
                    and len(node.value) > 1 and (rel, node.value) not in ALLOWED \
                    and not rel.startswith("connector/config/"):  # schema examples
                found.append((rel, node.value))
    assert found == []
