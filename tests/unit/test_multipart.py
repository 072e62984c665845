"""The portal's multipart parser gives what werkzeug's gives, with the same limits."""
from __future__ import annotations

import io
import os

import pytest
from flask import Flask, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser, default_stream_factory

from portal.multipart import CHUNK, FastFormDataParser, PortalRequest

B = "b0undary-Ab9"


def part(name: str, value: bytes, filename: str | None = None, ctype: str | None = None,
         disposition: str | None = None) -> bytes:
    head = disposition or (f'form-data; name="{name}"'
                           + (f'; filename="{filename}"' if filename is not None else ""))
    lines = [f"Content-Disposition: {head}"] + ([f"Content-Type: {ctype}"] if ctype else [])
    return (f"--{B}\r\n" + "\r\n".join(lines) + "\r\n\r\n").encode() + value + b"\r\n"


def form(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{B}--\r\n".encode()


def parse(parser_class: type[FormDataParser], body: bytes, **limits) -> tuple[list, list]:
    parser = parser_class(default_stream_factory, **limits)
    _, fields, files = parser.parse(io.BytesIO(body), "multipart/form-data", len(body),
                                    {"boundary": B})
    return (list(fields.items(multi=True)),
            [(k, f.filename, f.content_type, f.read()) for k, f in files.items(multi=True)])


PDF = b"%PDF-1.4\n" + os.urandom(3 * CHUNK + 17) + b"\r\n--b0undar\r\n%%EOF\n"
BODIES = {
    "fields and a file": form(part("subject", "درخواست تعمیر".encode()),
                              part("body", "کوچه ما خراب است.\r\nلطفا".encode()),
                              part("attachments", PDF, "nameh.pdf", "application/pdf")),
    "a Persian file name, two files under one name, an empty file input": form(
        part("attachments", b"one", "نامه.pdf", "application/pdf"),
        part("attachments", b"two", "b.png", "image/png"),
        part("attachments", b"", "", "application/octet-stream"),
        part("empty", b"")),
    "a file name in RFC 2231 form and a quoted one": form(
        part("a", b"x", disposition="form-data; name=\"a\"; filename*=UTF-8''%D9%86.pdf"),
        part("b", b"y", disposition='form-data; name="b"; filename="q\\"uote.txt"')),
    "a field of Latin, Persian and Arabic-Indic digits": form(part("mobile", "۰۹١٢123".encode())),
    "no parts at all": f"--{B}--\r\n".encode(),
    "a browser's %22 for a quote in a file name": form(part("f", b"x", 'a%22b.pdf')),
    "a disposition in capitals": form(part("f", b"x", disposition='Form-Data; name="f"')),
    # What werkzeug tolerates and python-multipart does not: werkzeug's parser takes these.
    "a preamble": b"a preamble\r\n" + form(part("subject", "یک".encode())),
    "bare line feeds": form(part("subject", b"x"), part("f", PDF, "a.pdf")).replace(
        b"\r\n", b"\n"),
    "padding after the boundary": form(part("subject", b"x")).replace(
        f"--{B}\r\n".encode(), f"--{B}  \r\n".encode(), 1),
}


@pytest.mark.parametrize("name", BODIES)
def test_the_same_fields_and_files_as_werkzeug(name: str) -> None:
    body = BODIES[name]
    expected = parse(FormDataParser, body)
    if name != "no parts at all":
        assert expected != ([], [])
    for size in (CHUNK, 7, 1):
        reads = type("Reads", (FastFormDataParser,), {"read_size": size})
        assert parse(reads, body) == expected


@pytest.mark.parametrize("body", [
    form(part("subject", b"x"))[:-8],                      # cut before the last boundary
    form(part("attachments", PDF, "a.pdf"))[:CHUNK + 5],  # cut inside a file
    b"not a form at all",
    (f"--{B}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{B}--\r\n").encode(),  # no disposition
], ids=["cut before the end", "cut inside a file", "not multipart", "a part without a name"])
def test_a_broken_body_gives_an_empty_form_like_werkzeug(body: bytes) -> None:
    assert parse(FastFormDataParser, body) == ([], [])
    assert parse(FormDataParser, body) == ([], [])


def test_too_many_parts_is_413() -> None:
    body = form(*[part(f"f{i}", b"v") for i in range(6)])
    assert parse(FastFormDataParser, body, max_form_parts=6)[0][5] == ("f5", "v")
    for parser in (FastFormDataParser, FormDataParser):
        with pytest.raises(RequestEntityTooLarge):
            parse(parser, body, max_form_parts=5)


def test_a_field_larger_than_the_memory_limit_is_413_a_file_is_not() -> None:
    big = b"x" * (CHUNK + 10)
    for parser in (FastFormDataParser, FormDataParser):
        with pytest.raises(RequestEntityTooLarge):
            parse(parser, form(part("body", big)), max_form_memory_size=CHUNK)
        files = parse(parser, form(part("f", big, "a.txt")), max_form_memory_size=CHUNK)[1]
        assert files[0][3] == big


def test_file_parts_go_to_the_requests_stream_factory() -> None:
    app = Flask(__name__)
    app.request_class = PortalRequest
    made: list[tuple] = []

    class Recording(PortalRequest):
        def _get_file_stream(self, total_content_length, content_type, filename=None,
                             content_length=None):
            made.append((total_content_length, content_type, filename))
            return super()._get_file_stream(total_content_length, content_type, filename,
                                            content_length)

    app.request_class = Recording

    @app.post("/")
    def view() -> dict:
        return {"subject": request.form["subject"],
                "size": len(request.files["attachments"].read())}

    body = BODIES["fields and a file"]
    answer = app.test_client().post("/", data=body,
                                    content_type=f"multipart/form-data; boundary={B}")
    assert answer.json == {"subject": "درخواست تعمیر", "size": len(PDF)}
    assert made == [(len(body), "application/pdf", "nameh.pdf")]


def quirky(*parts: tuple[str, bytes, str | None]) -> bytes:
    """As werkzeug's test client writes a form: no line break after an empty part."""
    body = b""
    for name, value, filename in parts:
        body += part(name, value, filename)
        if not value:
            body = body[:-2]
    return body + f"--{B}--\r\n".encode()


@pytest.mark.parametrize("parts", [
    [("subject", b"", None), ("body", b"hello", None)],
    [("a", b"1", None), ("empty", b"", None)],
    [("attachments", b"", ""), ("attachments", PDF, "a.pdf"), ("x", b"", None)],
    [("only", b"", None)],
    [("v", b"--" + B.encode()[:4], None), ("w", b"", "")],  # a value like a boundary's start
], ids=["empty first", "empty last", "empty file inputs", "one empty part", "boundary-like"])
def test_an_empty_part_without_its_line_break_reads_as_werkzeug_reads_it(parts) -> None:
    body = quirky(*parts)
    expected = parse(FormDataParser, body)
    assert expected != ([], [])
    for size in (CHUNK, 7, 1):  # the empty part's boundary split across reads, too
        reads = type("Reads", (FastFormDataParser,), {"read_size": size})
        assert parse(reads, body) == expected
