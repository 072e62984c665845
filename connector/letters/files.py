"""Attachments are judged by their content, not their name: a renamed .exe is not a PDF."""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from connector.domain.normalize import to_persian_digits

PDF, PNG, JPEG = "application/pdf", "image/png", "image/jpeg"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXTENSIONS = {PDF: "pdf", PNG: "png", JPEG: "jpg", DOCX: "docx", XLSX: "xlsx"}

MAX_FILES = 5
MAX_MB = 10


@dataclass(frozen=True)
class Limits:
    """How many attachments a letter may carry and how big each may be (an organization's
    ``[attachments]`` table; these are the defaults)."""
    max_files: int = MAX_FILES
    max_mb: int = MAX_MB

    @property
    def max_bytes(self) -> int:
        return self.max_mb * 1024 * 1024


@dataclass(frozen=True)
class Upload:
    name: str
    content: bytes


def sniff(content: bytes) -> str | None:
    if content.startswith(b"%PDF-"):
        return PDF
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if content.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as z:
                names = set(z.namelist())
        except zipfile.BadZipFile:
            return None
        if "[Content_Types].xml" in names:
            if any(n.startswith("word/") for n in names):
                return DOCX
            if any(n.startswith("xl/") for n in names):
                return XLSX
    return None


def safe_name(name: str, content_type: str) -> str:
    """Keep the citizen's name (Persian included) but no path parts or control characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '<>:"|?*').strip(" .")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return f"{(stem or 'attachment')[:120]}.{EXTENSIONS[content_type]}"


def acceptable(upload: Upload, limits: Limits = Limits()) -> str | None:
    """The sniffed type when this one file would pass :func:`check`, else None."""
    if not upload.content or len(upload.content) > limits.max_bytes:
        return None
    return sniff(upload.content)


def check(uploads: list[Upload], limits: Limits = Limits()
          ) -> tuple[list[tuple[Upload, str]], dict[str, str]]:
    """Accepted uploads with their sniffed type, and a Persian message if any was refused."""
    accepted: list[tuple[Upload, str]] = []
    uploads = [u for u in uploads if u.content]
    if len(uploads) > limits.max_files:
        return [], {"attachments": f"حداکثر {to_persian_digits(limits.max_files)} پیوست "
                                   "می‌توانید بفرستید."}
    bad: list[str] = []
    for upload in uploads:
        if len(upload.content) > limits.max_bytes:
            bad.append(f"«{upload.name}» بزرگ‌تر از {to_persian_digits(limits.max_mb)} "
                       "مگابایت است.")
            continue
        kind = sniff(upload.content)
        if kind is None:
            bad.append(f"«{upload.name}» پذیرفته نیست. فقط PDF، Word، Excel، JPG و PNG.")
            continue
        accepted.append((upload, kind))
    return accepted, ({"attachments": " ".join(bad)} if bad else {})
