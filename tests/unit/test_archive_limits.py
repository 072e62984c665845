"""Office files are zip archives: one that unpacks out of all proportion to its size (an archive
bomb dressed as a .docx) or holds thousands of entries is refused before anyone opens it."""
from __future__ import annotations

import io
import random
import time
import zipfile

from connector.letters import files
from connector.letters.scanning import Scanning
from connector.plugins.ports import NoScanner
from messages import render

NOSCAN = Scanning(NoScanner())
LIMITS = files.Limits()


def bomb_docx(unpacked_mb: int = 300) -> bytes:
    """A docx-shaped zip whose document.xml inflates to ``unpacked_mb`` MB of zeros."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w", force_zip64=True) as fh:
            block = b"\0" * (1024 * 1024)
            for _ in range(unpacked_mb):
                fh.write(block)
    return buf.getvalue()


def real_docx(kb: int = 2000) -> bytes:
    # Word-like XML with varied words: packs a few times smaller, like a real document.
    rnd = random.Random(7)
    words = ["نامه", "درخواست", "شهرداری", "پروانه", "ساختمان", "بازدید", "کارشناس"]
    text = "".join(f"<w:t>{rnd.choice(words)} {rnd.randint(0, 99999)}</w:t>"
                   for _ in range(kb * 20))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", text)
    return buf.getvalue()


def test_a_bomb_disguised_as_a_docx_is_refused_in_persian():
    bomb = bomb_docx()
    assert len(bomb) < 400 * 1024 and files.sniff(bomb) == files.DOCX  # looks like a docx
    started = time.monotonic()
    accepted, errors = files.check([files.Upload("قرارداد.docx", bomb)], LIMITS, NOSCAN)
    assert accepted == []
    said = render(errors["attachments"])
    assert "«قرارداد.docx»" in said and "Word" in said
    # Judged from the central directory: nothing was inflated to find out.
    assert time.monotonic() - started < 1.0
    assert files.acceptable(files.Upload("قرارداد.docx", bomb), LIMITS, NOSCAN) is None


def test_too_many_entries_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        for i in range(files.MAX_ENTRIES + 1):
            z.writestr(f"xl/worksheets/s{i}.xml", "")
    assert files.archive_problem(buf.getvalue()) == "entries"
    _, errors = files.check([files.Upload("a.xlsx", buf.getvalue())], LIMITS, NOSCAN)
    assert "«a.xlsx»" in render(errors["attachments"])


def test_a_real_sized_document_passes():
    doc = real_docx()
    assert files.archive_problem(doc) is None
    accepted, errors = files.check([files.Upload("نامه.docx", doc)], LIMITS, NOSCAN)
    assert errors == {} and accepted[0][1] == files.DOCX


def test_an_archive_that_lies_about_its_sizes_is_refused():
    # The central directory says 10 bytes; the data inflates to 5 MB. zipfile stops at the
    # declared size and the CRC no longer matches: refused as damaged.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"A" * (5 * 1024 * 1024))
    data = bytearray(buf.getvalue())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("word/document.xml")
    real = (5 * 1024 * 1024).to_bytes(4, "little")
    for at in [i for i in range(len(data) - 3) if data[i:i + 4] == real]:
        data[at:at + 4] = (10).to_bytes(4, "little")
    assert zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo(info.filename).file_size == 10
    assert files.archive_problem(bytes(data)) == "damaged"
