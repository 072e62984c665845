"""Attachments are judged by their content, not their name: a renamed .exe is not a PDF.
Office files are zip archives and are measured before anyone opens them (an archive bomb is
refused), and every file passes the virus scanner before any of it is stored."""
from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from connector.domain.errors import Message, msg
from connector.letters.scanning import Scanning, ScanUnavailable

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


HEAD = 16  # enough for every signature sniff() looks at


@dataclass(frozen=True)
class Upload:
    """One attached file. ``content`` is bytes for files already in memory, or a seekable
    binary stream (the web server's spooled upload) that is read in chunks, never whole, so a
    50 MB file costs the web worker no more memory than a 1 MB one."""
    name: str
    content: bytes | BinaryIO

    def open(self) -> BinaryIO:
        """The content as a stream at its start (each call rewinds)."""
        stream = io.BytesIO(self.content) if isinstance(self.content, bytes) else self.content
        stream.seek(0)
        return stream

    @property
    def size(self) -> int:
        if isinstance(self.content, bytes):
            return len(self.content)
        return self.content.seek(0, os.SEEK_END)

    def head(self, n: int = HEAD) -> bytes:
        return self.open().read(n)


def sniff(content: bytes | Upload) -> str | None:
    """The type by the first bytes; an Office file (a zip) by its table of contents, which
    zipfile reads from the end of the file without reading the rest."""
    upload = content if isinstance(content, Upload) else Upload("", content)
    first = upload.head()
    if first.startswith(b"%PDF-"):
        return PDF
    if first.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if first.startswith(b"\xff\xd8\xff"):
        return JPEG
    if first.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(upload.open()) as z:
                names = set(z.namelist())
        except zipfile.BadZipFile:
            return None
        if "[Content_Types].xml" in names:
            if any(n.startswith("word/") for n in names):
                return DOCX
            if any(n.startswith("xl/") for n in names):
                return XLSX
    return None


# Archive limits for docx/xlsx. Real office files unpack to a few times their size (XML packs
# well, 5-20x; a sheet of repeated cells up to ~50x); a bomb unpacks to thousands of times it.
MAX_ENTRIES = 1000
MAX_RATIO = 100          # unpacked size over the file's own size
RATIO_FLOOR = 20 * 1024 * 1024   # below this unpacked size the ratio is not asked
MAX_UNPACKED = 200 * 1024 * 1024
READ_CHUNK = 64 * 1024


def archive_problem(content: bytes | Upload) -> str | None:
    """Why this zip-based office file is out of proportion, or None. Reads the central
    directory for the sizes the archive declares, then streams every entry through the
    decompressor in memory (nothing goes to disk) so an archive that lies about its sizes is
    caught too: zipfile stops at the declared size and checks the CRC."""
    upload = content if isinstance(content, Upload) else Upload("", content)
    try:
        with zipfile.ZipFile(upload.open()) as z:
            entries = z.infolist()
            if len(entries) > MAX_ENTRIES:
                return "entries"
            declared = sum(e.file_size for e in entries)
            if declared > MAX_UNPACKED or (declared > RATIO_FLOOR
                                            and declared > MAX_RATIO * upload.size):
                return "size"
            for entry in entries:
                with z.open(entry) as fh:
                    while fh.read(READ_CHUNK):
                        pass
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError,
            OSError, ValueError, RuntimeError):
        # Encrypted, damaged, or using a method we cannot read: nobody can vouch for it.
        return "damaged"
    return None


def safe_name(name: str, content_type: str) -> str:
    """Keep the citizen's name (Persian included) but no path parts or control characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '<>:"|?*').strip(" .")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return f"{(stem or 'attachment')[:120]}.{EXTENSIONS[content_type]}"


def unique_names(names: list[str]) -> list[str]:
    """The letter's file names as sent to the organization's system: a name met again (a phone
    sends every photo as ``image.jpg``; a document asked for is often named like the first) gets
    ``-2``, ``-3``… before its extension. Decided from the letter's whole list in position
    order, so a file keeps its name when more are added later and a retry sends the same name;
    systems that refuse a second file of one name, or that look a file up by name, then never
    mistake a new file for one already there."""
    taken: set[str] = set()
    out = []
    for name in names:
        stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
        unique, n = name, 1
        while unique.casefold() in taken:
            n += 1
            unique = f"{stem}-{n}{dot}{ext}"
        taken.add(unique.casefold())
        out.append(unique)
    return out


def acceptable(upload: Upload, limits: Limits, scanner: Scanning) -> str | None:
    """The sniffed type when this one file would pass :func:`check`, else None (a scanner that
    cannot answer now counts as a refusal: nothing unscanned is kept)."""
    if not 0 < upload.size <= limits.max_bytes:
        return None
    kind = sniff(upload)
    if kind is None or (kind in ARCHIVES and archive_problem(upload)):
        return None
    try:
        return kind if scanner.scan(upload.open()).clean else None
    except ScanUnavailable:
        return None


ARCHIVES = (DOCX, XLSX)
MSG_SCAN_DOWN = msg("attachments.scan_down")


def check(uploads: list[Upload], limits: Limits, scanner: Scanning
          ) -> tuple[list[tuple[Upload, str]], dict[str, Message]]:
    """Accepted uploads with their sniffed type, and a message if any was refused.
    Only files that pass every other check are scanned; a scanner that cannot answer refuses
    the uploads with MSG_SCAN_DOWN (the caller keeps what was typed)."""
    accepted: list[tuple[Upload, str]] = []
    uploads = [u for u in uploads if u.size]
    if len(uploads) > limits.max_files:
        return [], {"attachments": msg("attachments.too_many", n=limits.max_files)}
    bad: list[Message] = []
    for upload in uploads:
        if upload.size > limits.max_bytes:
            bad.append(msg("attachments.too_big", name=upload.name, mb=limits.max_mb))
            continue
        kind = sniff(upload)
        if kind is None:
            bad.append(msg("attachments.not_accepted", name=upload.name))
            continue
        if kind in ARCHIVES and archive_problem(upload):
            bad.append(msg("attachments.archive", name=upload.name))
            continue
        accepted.append((upload, kind))
    if bad:
        # Refused already: scanning the rest would only cost time, and nothing is stored.
        return accepted, {"attachments": Message("attachments", parts=tuple(bad))}
    for upload, kind in accepted:
        try:
            result = scanner.scan(upload.open())
        except ScanUnavailable as exc:
            if exc.lasting:
                bad.append(msg("attachments.scan_too_big", name=upload.name))
                continue
            return [], {"attachments": MSG_SCAN_DOWN}
        if not result.clean:
            bad.append(msg("attachments.infected", name=upload.name))
    if bad:
        return [], {"attachments": Message("attachments", parts=tuple(bad))}
    return accepted, {}
