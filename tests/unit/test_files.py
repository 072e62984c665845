import io
import zipfile

from connector.letters import files
from connector.letters.scanning import Scanning
from connector.plugins.ports import NoScanner
from messages import render

NOSCAN = Scanning(NoScanner())
DEFAULT = files.Limits()


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
    accepted, errors = files.check([files.Upload("نامه.pdf", b"MZ\x90\x00")], DEFAULT, NOSCAN)
    assert accepted == [] and [p.code for p in errors["attachments"].parts] == [
        "attachments.not_accepted"]
    assert render(errors["attachments"]) == "«نامه.pdf» پذیرفته نیست. فقط PDF، Word، Excel، " \
                                            "JPG و PNG."


def test_names_keep_persian_and_lose_paths():
    assert files.safe_name("../../پیوست نامه.PDF", files.PDF) == "پیوست نامه.pdf"
    assert files.safe_name("scan", files.JPEG) == "scan.jpg"
    assert files.safe_name("...", files.PNG) == "attachment.png"


def test_too_many_files():
    six = [files.Upload(f"{i}.pdf", b"%PDF-1") for i in range(6)]
    accepted, errors = files.check(six, DEFAULT, NOSCAN)
    assert render(errors["attachments"]) == "حداکثر ۵ پیوست می‌توانید بفرستید."
    assert render(errors["attachments"], "en") == "You can send at most 5 attachments."


def test_limits_come_from_the_organization():
    limits = files.Limits(max_files=2, max_mb=1)
    three = [files.Upload(f"{i}.pdf", b"%PDF-1") for i in range(3)]
    _, errors = files.check(three, limits, NOSCAN)
    assert "حداکثر ۲ پیوست" in render(errors["attachments"])
    big = files.Upload("بزرگ.pdf", b"%PDF-1" + b"0" * (1024 * 1024))
    accepted, errors = files.check([big, files.Upload("a.pdf", b"%PDF-1")], limits, NOSCAN)
    assert [u.name for u, _ in accepted] == ["a.pdf"]
    assert "«بزرگ.pdf» بزرگ‌تر از ۱ مگابایت" in render(errors["attachments"])


class _Reads(io.BytesIO):
    """A spooled upload that remembers the largest single read asked of it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.largest = 0

    def read(self, n: int | None = -1) -> bytes:
        self.largest = max(self.largest, len(self.getbuffer()) if n is None or n < 0 else n)
        return super().read(n)


def test_a_streamed_upload_is_sniffed_from_its_first_bytes_and_never_read_whole():
    from connector.letters.blobs import CHUNK
    big = b"%PDF-1.7\n" + b"x" * (3 * CHUNK)
    stream = _Reads(big)
    upload = files.Upload("big.pdf", stream)
    assert upload.size == len(big)
    accepted, errors = files.check([upload], files.Limits(max_mb=4), NOSCAN)
    assert errors == {} and accepted == [(upload, files.PDF)]
    # Sniffing asked for the first bytes only; the scan hashed it a chunk at a time.
    assert stream.largest <= CHUNK < len(big)


def test_a_streamed_office_file_is_recognized():
    upload = files.Upload("x.docx", _Reads(office("word")))
    assert files.sniff(upload) == files.DOCX
    assert files.acceptable(files.Upload("empty.pdf", _Reads(b"")), DEFAULT, NOSCAN) is None


def test_the_blob_store_copies_a_stream_in_chunks_and_hashes_it_on_the_way(tmp_path):
    import hashlib

    from connector.letters.blobs import CHUNK, BlobStore
    big = b"%PDF-1.7\n" + bytes(range(256)) * (CHUNK // 64)
    stream = _Reads(big)
    store = BlobStore(tmp_path)
    digest = store.put(files.Upload("big.pdf", stream).open())
    assert digest == hashlib.sha256(big).hexdigest() and store.get(digest) == big
    assert stream.largest == CHUNK
    # The same file again is stored once and leaves no temp file behind.
    assert store.put(files.Upload("again.pdf", _Reads(big)).open()) == digest
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".tmp-")]


def test_unique_names_within_a_letter_are_decided_by_its_whole_list_in_order():
    assert files.unique_names(["image.jpg", "Image.jpg", "image-2.jpg", "scan", "scan"]) == [
        "image.jpg", "Image-2.jpg", "image-2-2.jpg", "scan", "scan-2"]
    first = files.unique_names(["نامه.pdf", "image.jpg"])
    later = files.unique_names(["نامه.pdf", "image.jpg", "نامه.pdf", "image.jpg", "image.jpg"])
    assert later[:2] == first  # files added later never rename those already sent
    assert later[2:] == ["نامه-2.pdf", "image-2.jpg", "image-3.jpg"]
