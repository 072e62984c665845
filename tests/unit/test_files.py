import io
import zipfile

from connector import files


def office(kind):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr(f"{kind}/document.xml", "<x/>")
    return buf.getvalue()


def test_types_are_sniffed_from_content():
    assert files.sniff(b"%PDF-1.7\n") == files.PDF
    assert files.sniff(b"\x89PNG\r\n\x1a\n....") == files.PNG
    assert files.sniff(b"\xff\xd8\xff\xe0") == files.JPEG
    assert files.sniff(office("word")) == files.DOCX
    assert files.sniff(office("xl")) == files.XLSX
    assert files.sniff(b"MZ\x90\x00") is None
    assert files.sniff(b"PK\x03\x04broken") is None


def test_a_renamed_program_is_refused_with_a_persian_message():
    accepted, errors = files.check([files.Upload("نامه.pdf", b"MZ\x90\x00")])
    assert accepted == [] and "نامه.pdf" in errors["attachments"]


def test_names_keep_persian_and_lose_paths():
    assert files.safe_name("../../پیوست نامه.PDF", files.PDF) == "پیوست نامه.pdf"
    assert files.safe_name("scan", files.JPEG) == "scan.jpg"
    assert files.safe_name("...", files.PNG) == "attachment.png"


def test_too_many_files():
    accepted, errors = files.check([files.Upload(f"{i}.pdf", b"%PDF-1") for i in range(6)])
    assert "۵" in errors["attachments"]
