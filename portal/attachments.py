"""Attachments in and out: multipart file fields to the core's ``Upload``, stored blobs back to
a download. Callers decide who may download; this module only moves bytes."""
from __future__ import annotations

import io

from flask import Response, send_file
from werkzeug.datastructures import FileStorage

from connector.errors import NotFound
from connector.files import Upload
from connector.models import Letter

from . import pishkhan


def from_files(storages: list[FileStorage]) -> list[Upload]:
    # Browsers send an empty part for every file input left blank: skip those here, the core
    # judges the rest by their content.
    return [Upload(name=f.filename or "", content=f.read()) for f in storages if f.filename]


def send(letter: Letter, index: int, inline: bool = False) -> Response:
    if not 0 <= index < len(letter.attachments):
        raise NotFound(f"attachment {index}")
    item = letter.attachments[index]
    content = pishkhan().blobs.get(item.sha256)
    # The type is the sniffed one the core recorded, never what the uploader claimed, and
    # nosniff is set on every response, so a file can't turn into a page of ours.
    return send_file(io.BytesIO(content), mimetype=item.content_type, as_attachment=not inline,
                     download_name=item.name, max_age=0)
