"""Multipart forms parsed by python-multipart, into what werkzeug's parser gives.

Every letter arrives as a multipart form, and werkzeug's own parser cost the intake more CPU
than anything else of ours: it copies the body several times over on its way (its buffer,
slices of it, the spooled file) and decodes each part's headers with general-purpose
regular expressions. python-multipart finds the boundaries with ``bytes.find`` and hands
over slices of the chunk it was given, so a file part is written to its stream straight from
the chunk read off the socket. What the views see does not change: ``request.form`` holds the
fields as text, ``request.files`` werkzeug ``FileStorage`` objects with the part's headers,
on the streams the request's stream factory gives, and the same limits hold (parts, a
field's size) with the same answers (413), and a body that is not a valid form gives empty
ones, as before."""
from __future__ import annotations

import re
from typing import IO, Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState
from flask import Request
from werkzeug.datastructures import FileStorage, Headers
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.http import parse_options_header

CHUNK = 64 * 1024
# The header every browser and HTTP library writes for a part; anything else (escapes, a
# browser's %22 for a quote, a filename*= in RFC 2231 form) goes to werkzeug's full parser.
_PLAIN_DISPOSITION = re.compile(
    r'form-data; name="([^"\\%]*)"(?:; filename="([^"\\%]*)")?\Z')


def _disposition(value: str) -> tuple[str | None, str | None]:
    found = _PLAIN_DISPOSITION.match(value)
    if found is not None:
        return found.group(1), found.group(2)
    _kind, options = parse_options_header(value)  # werkzeug does not look at the kind either
    return options.get("name"), options.get("filename")


class _Replay:
    """A stream whose first bytes were read already, for werkzeug's parser."""

    def __init__(self, first: bytes, rest: IO[bytes]) -> None:
        self.first, self.rest = first, rest

    def read(self, size: int = -1) -> bytes:
        if not self.first:
            return self.rest.read(size)
        if size < 0:
            out, self.first = self.first + self.rest.read(), b""
            return out
        out, self.first = self.first[:size], self.first[size:]
        return out


class _Restart(Exception):
    """An empty part written without the line break before the next boundary: the parser
    must start again at that boundary (``rest`` and what follows)."""

    def __init__(self, rest: bytes) -> None:
        self.rest = rest


class _Form:
    """The callbacks' state while one body is parsed."""

    def __init__(self, parser: FormDataParser, boundary: bytes, total: int | None) -> None:
        self.parser, self.total = parser, total
        self.marker = b"--" + boundary
        self.fields: list[tuple[str, str]] = []
        self.files: list[tuple[str, FileStorage]] = []
        self.parts = 0
        self.name: list[bytes] = []
        self.value: list[bytes] = []
        self.headers: list[tuple[str, str]] = []
        self.field: list[bytes] | None = None
        self.field_size = 0
        self.stream: IO[bytes] | None = None
        self.part_name: str | None = None
        self.filename: str | None = None
        self.first: bytes | None = None  # a part's first bytes, until they can't be a boundary

    def callbacks(self) -> dict[str, Any]:
        return {"on_part_begin": self.part_begin, "on_header_field": self.header_field,
                "on_header_value": self.header_value, "on_header_end": self.header_end,
                "on_headers_finished": self.headers_finished, "on_part_data": self.part_data,
                "on_part_end": self.part_end}

    def part_begin(self) -> None:
        self.parts += 1
        limit = self.parser.max_form_parts
        if limit is not None and self.parts > limit:
            raise RequestEntityTooLarge()
        self.headers = []

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.name.append(data[start:end])

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self.value.append(data[start:end])

    def header_end(self) -> None:
        # UTF-8, as werkzeug reads them: browsers send a Persian file name as it is.
        self.headers.append((b"".join(self.name).decode().strip(" \t"),
                             b"".join(self.value).decode().strip(" \t")))
        self.name, self.value = [], []

    def headers_finished(self) -> None:
        disposition = next((v for k, v in self.headers
                            if k.lower() == "content-disposition"), None)
        if disposition is None:
            raise ValueError("a part without Content-Disposition")
        self.part_name, self.filename = _disposition(disposition)
        if self.part_name is None:
            raise ValueError("a part without a name")
        self.first = b""
        if self.filename is None:
            self.field, self.field_size, self.stream = [], 0, None
            return
        self.field = None
        content_type = next((v for k, v in self.headers if k.lower() == "content-type"), None)
        self.stream = self.parser.stream_factory(
            total_content_length=self.total, filename=self.filename,
            content_type=content_type, content_length=0)

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.first is not None:
            # Some writers (werkzeug's test client among them) put nothing, not even the line
            # break, between an empty part's headers and the next boundary; werkzeug's parser
            # reads that as an empty part, and so does this one.
            chunk, chunk_end = data, end
            if self.first:
                data, start, end = self.first + data[start:end], 0, len(self.first) + end - start
            if end - start < len(self.marker) and self.marker.startswith(data[start:end]):
                self.first = bytes(data[start:end])
                return
            self.first = None
            if data.startswith(self.marker, start):
                self.part_end()
                raise _Restart(data[start:end] + chunk[chunk_end:])
        if self.field is not None:
            self.field_size += end - start
            limit = self.parser.max_form_memory_size
            if limit is not None and self.field_size > limit:
                raise RequestEntityTooLarge()
            self.field.append(data[start:end])
        elif self.stream is not None:
            self.stream.write(memoryview(data)[start:end])

    def part_end(self) -> None:
        if self.first:  # a few bytes kept back that turned out to be the whole part
            first, self.first = self.first, None
            self.part_data(first, 0, len(first))
        self.first = None
        if self.field is not None:
            assert self.part_name is not None
            self.fields.append((self.part_name, b"".join(self.field).decode("utf-8", "replace")))
            self.field = None
        elif self.stream is not None:
            self.stream.seek(0)
            self.files.append((self.part_name, FileStorage(
                self.stream, self.filename, self.part_name, headers=Headers(self.headers))))
            self.stream = None


class FastFormDataParser(FormDataParser):
    read_size = CHUNK  # bytes read off the request at a time

    def _parse_multipart(self, stream: IO[bytes], mimetype: str, content_length: int | None,
                         options: dict[str, str]) -> Any:
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        opening = b"--" + boundary + b"\r\n"
        first = b""
        while len(first) < len(opening) + 2 and (more := stream.read(self.read_size)):
            first += more
        if not (first.startswith(opening) or first.startswith(b"\r\n" + opening)):
            # A preamble, bare line feeds, padding after the boundary: rare, and werkzeug's
            # parser is lenient about them where this one is strict, so it takes the body.
            return super()._parse_multipart(_Replay(first, stream),  # type: ignore[arg-type]
                                            mimetype, content_length, options)
        form = _Form(self, boundary, content_length)
        parser = MultipartParser(boundary, form.callbacks())
        chunk = first
        try:
            while chunk or (chunk := stream.read(self.read_size)):
                while chunk:
                    try:
                        parser.write(chunk)
                        chunk = b""
                    except _Restart as again:
                        parser = MultipartParser(boundary, form.callbacks())
                        chunk = again.rest
        except MultipartParseError as exc:
            raise ValueError(str(exc)) from exc
        if parser.state != MultipartState.END:
            raise ValueError("the form ends before its last boundary")
        return stream, self.cls(form.fields), self.cls(form.files)


class PortalRequest(Request):
    """The portal's request: Flask's, with multipart bodies parsed as above."""
    form_data_parser_class = FastFormDataParser
