"""The PDF receipt, checked the way a person would: turned into an image, its QR code read by
zbarimg, and its text read back by poppler — joined Persian letters, in the right order."""
from __future__ import annotations

import re
import subprocess
import unicodedata
from datetime import datetime, timezone
from pathlib import Path

from portal.filters import jalali
from tests.integration.test_portal_pages import MOBILE, OTHER, submit_letter, web_login


def shaped(line: str) -> bool:
    # Arabic presentation forms (U+FB50–U+FEFF) exist only in shaped, joined text.
    return any("\ufb50" <= ch <= "\ufeff" for ch in line)


BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u200e\u200f"))


def logical(line: str) -> str:
    """A line as poppler reads it back (it puts right-to-left runs in reading order), with the
    joined presentation forms turned back into plain letters. Had we drawn the glyphs in
    logical order, poppler would read the words reversed and the letters unjoined."""
    return unicodedata.normalize("NFKC", line.translate(BIDI_CONTROLS)).strip()


def pdf_text(path: Path) -> list[str]:
    out = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def test_receipt_pdf_renders_joined_persian_and_a_qr_to_the_tracking_page(client, px,
                                                                          tmp_path):
    web_login(client, px)
    code = submit_letter(client, px)
    r = client.get(f"/api/v1/letters/{code}/receipt.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.data.startswith(b"%PDF-") and len(r.data) < 150_000
    pdf = tmp_path / "receipt.pdf"
    pdf.write_bytes(r.data)

    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                           check=True, timeout=30).stdout
    assert "Vazirmatn" in fonts  # embedded: the phone needs no Persian font of its own

    lines = pdf_text(pdf)
    title = next(line for line in lines if logical(line) == "رسید نامه")
    assert shaped(title) and not shaped(logical(title))
    assert any(logical(line) == "شهرداری نمونه" for line in lines)
    joined = " ".join(logical(line) for line in lines)
    assert "خرابی کوچه ۱۲" in joined  # words and Persian digits in reading order
    assert "مریم احمدی" in joined
    assert "درخواست تعمیر معبر و آسفالت" in joined
    assert "رسید؛ به‌زودی به دبیرخانه فرستاده می‌شود".replace("\u200c", "") in \
        joined.replace("\u200c", "")
    # The Jalali date and time of today, in Persian digits.
    assert re.search(r"ساعت [۰-۹]{2}:[۰-۹]{2}", joined)
    assert jalali(datetime.now(timezone.utc), with_time=False).split()[1] in joined  # the month
    persian_code = code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert persian_code in joined  # the digits read left to right

    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(pdf),
                    str(tmp_path / "receipt")], check=True, timeout=60)
    decoded = subprocess.run(["zbarimg", "--quiet", "--raw", str(tmp_path / "receipt.png")],
                             capture_output=True, text=True, timeout=60)
    assert decoded.returncode == 0, decoded.stderr
    assert decoded.stdout.strip() == f"{px.settings.public_url}/t/{code}"


def test_receipt_pdf_only_for_its_owner(client, app, px):
    web_login(client, px)
    code = submit_letter(client, px)
    assert client.get(f"/api/v1/letters/{code}/receipt.pdf").status_code == 200

    stranger = app.test_client()
    assert stranger.get(f"/api/v1/letters/{code}/receipt.pdf").status_code == 401
    web_login(stranger, px, OTHER)
    assert stranger.get(f"/api/v1/letters/{code}/receipt.pdf").status_code == 404
    bad = stranger.get(f"/api/v1/letters/{code}/receipt.pdf",
                       headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401


def test_receipt_and_tracking_pages_link_the_pdf(client, px):
    web_login(client, px, MOBILE)
    code = submit_letter(client, px)
    link = f'/api/v1/letters/{code}/receipt.pdf'
    assert link in client.get(f"/r/{code}").get_data(as_text=True)
    assert link in client.get(f"/t/{code}").get_data(as_text=True)
