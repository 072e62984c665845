"""Attachments in and out: multipart file fields to the core's ``Upload``, stored blobs back to
a download. Callers decide who may download; this module only moves bytes."""
from __future__ import annotations

import io

from flask import Response, send_file
from werkzeug.datastructures import FileStorage

from connector.domain.errors import NotFound
from connector.domain.letter import Document
from connector.letters.files import EXTENSIONS, Upload, safe_name, sniff
from connector.store.models import Letter

from . import pishkhan


def from_files(storages: list[FileStorage]) -> list[Upload]:
    # Browsers send an empty part for every file input left blank: skip those here, the core
    # judges the rest by their content. The stream is the server's spooled copy (on disk past
    # 500 KB): the core reads it in chunks, never whole.
    return [Upload(name=f.filename or "", content=f.stream) for f in storages if f.filename]


def send(letter: Letter, index: int, inline: bool = False) -> Response:
    if not 0 <= index < len(letter.attachments):
        raise NotFound(f"attachment {index}")
    item = letter.attachments[index]
    content = pishkhan().blobs.get(item.sha256)
    # The type is the sniffed one the core recorded, never what the uploader claimed, and
    # nosniff is set on every response, so a file can't turn into a page of ours.
    return send_file(io.BytesIO(content), mimetype=item.content_type, as_attachment=not inline,
                     download_name=item.name, max_age=0)


def send_reply(letter: Letter, document: Document) -> Response:
    """The organization's answer as a download. Its type is sniffed like an upload's, never
    taken from the other system; plain text (or a reply with only text) becomes a UTF-8 text
    file, anything else unknown a generic download."""
    content, kind = document.content, sniff(document.content)
    if not content or (kind is None and _is_text(content)):
        content = content or document.text.encode("utf-8")
        return send_file(io.BytesIO(content), mimetype="text/plain",
                         as_attachment=True, download_name=f"reply-{letter.tracking_code}.txt",
                         max_age=0)
    name = safe_name(document.file_name or f"reply-{letter.tracking_code}", kind) \
        if kind in EXTENSIONS else f"reply-{letter.tracking_code}.bin"
    return send_file(io.BytesIO(content), mimetype=kind or "application/octet-stream",
                     as_attachment=True, download_name=name, max_age=0)


def _is_text(content: bytes) -> bool:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in content
