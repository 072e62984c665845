"""The SOAP 1.1 service, dialect `reference`: envelope parsing, WS-Security, dispatch, faults."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import importlib.resources
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable
from xml.sax.saxutils import escape

from flask import Blueprint, Response, request, url_for
from lxml import etree
from lxml.builder import ElementMaker
from werkzeug.exceptions import HTTPException

from sandbox import letters
from sandbox.clock import as_utc
from sandbox.faults import FaultSettings
from sandbox.state import Sandbox, current_sandbox

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "urn:sandbox-oa:reference"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"

# A digest is only as good as its Created time is fresh; five minutes allows for clock skew.
_CREATED_TOLERANCE = timedelta(minutes=5)
_XML = "text/xml; charset=utf-8"

log = logging.getLogger(__name__)
bp = Blueprint("soap", __name__)
T = ElementMaker(namespace=TNS, nsmap={"tns": TNS})


class SoapFault(Exception):
    """A fault to answer with. `side` is `Client` or `Server`, as in SOAP 1.1 fault codes."""

    def __init__(self, side: str, string: str, message: str = "", status: int = 500):
        super().__init__(f"{side}: {string}: {message}")
        self.side = side
        self.string = string
        self.message = message
        self.status = status


# ---------------------------------------------------------------------------------------------
# Routes


@bp.get("/soap/reference")
def wsdl() -> Response:
    if not any(key.lower() == "wsdl" for key in request.args):
        message = "This is a SOAP endpoint; its WSDL is at ?wsdl\n"
        return Response(message, 400, mimetype="text/plain")
    sandbox = current_sandbox()
    path = url_for("soap.endpoint")
    if sandbox.public_url:
        address = sandbox.public_url.rstrip("/") + path
    else:
        address = request.host_url.rstrip("/") + path
    text = _wsdl_template().replace("__SERVICE_ADDRESS__", escape(address, {'"': "&quot;"}))
    return Response(text, 200, content_type=_XML)


@bp.post("/soap/reference")
def endpoint() -> Response:
    def dispatch(sandbox: Sandbox, settings: FaultSettings) -> tuple[etree._Element, bool]:
        header, call = parse_envelope(request.get_data())
        check_username_token(header, sandbox.username, sandbox.password)
        operation = _OPERATIONS.get(call.tag)
        if operation is None:
            raise SoapFault("Client", "UnknownOperation", f"no operation {call.tag}")
        return operation.handler(sandbox, _Call(call), settings), operation.writes

    return serve(dispatch)


def serve(dispatch: Callable[[Sandbox, FaultSettings], tuple[etree._Element, bool]],
          tns: str = TNS) -> Response:
    """Answer one SOAP call through `dispatch` (which returns the payload and whether the call
    wrote), with the fault injection in force: down, latency, errors, commit-then-timeout."""
    sandbox = current_sandbox()
    faults = sandbox.faults
    # One snapshot per call, so a fault change in mid-call cannot half-apply.
    settings = faults.settings
    if faults.strikes(settings, "down"):
        return _fault_response(SoapFault("Server", "Unavailable", "service is down", status=503))
    if settings.latency_ms:
        time.sleep(settings.latency_ms / 1000)
    if faults.strikes(settings, "error_rate"):
        return _fault_response(SoapFault("Server", "Unavailable", "temporary failure, try again"))

    try:
        payload, writes = dispatch(sandbox, settings)
    except SoapFault as fault:
        return _fault_response(fault)
    except letters.LetterNotFound as exc:
        return _fault_response(SoapFault("Client", "LetterNotFound", str(exc)))
    except letters.LetterError as exc:
        return _fault_response(SoapFault("Client", "InvalidRequest", str(exc)))
    except HTTPException as exc:  # e.g. a body over MAX_CONTENT_LENGTH
        fault = SoapFault("Client", "InvalidRequest", exc.description or exc.name, exc.code or 400)
        return _fault_response(fault)
    except Exception:
        log.exception("SOAP call failed")
        return _fault_response(SoapFault("Server", "InternalError", "internal error"))

    if writes and faults.strikes(settings, "commit_then_fault"):
        return _fault_response(SoapFault("Server", "InternalServiceFault",
                                         "خطای داخلی سرور (the change was saved)"))
    if writes and faults.strikes(settings, "commit_then_timeout"):
        # Already committed: the client gives up waiting although its call took effect.
        time.sleep(sandbox.timeout_sleep)
    return Response(_envelope(payload, tns), 200, content_type=_XML)


# ---------------------------------------------------------------------------------------------
# Envelope and WS-Security


def parse_envelope(data: bytes) -> tuple[etree._Element | None, etree._Element]:
    """The Header (if any) and the single operation element inside the Body."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        raise SoapFault("Client", "InvalidEnvelope", "the request is not well-formed XML") from None
    docinfo = root.getroottree().docinfo
    # Entities are not resolved, but a DTD has no business in SOAP at all (SOAP 1.1 section 3).
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise SoapFault("Client", "InvalidEnvelope", "a DTD is not allowed in a SOAP message")
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise SoapFault("Client", "InvalidEnvelope", "expected a SOAP 1.1 Envelope")
    header = root.find(f"{{{SOAP_ENV}}}Header")
    body = root.find(f"{{{SOAP_ENV}}}Body")
    calls = [] if body is None else [child for child in body if isinstance(child.tag, str)]
    if len(calls) != 1:
        raise SoapFault("Client", "InvalidEnvelope", "the Body must hold exactly one operation")
    return header, calls[0]


def check_username_token(
    header: etree._Element | None, username: str, password: str, now: datetime | None = None
) -> None:
    """Accept the call only with a WS-Security UsernameToken for the configured account."""
    token = None
    if header is not None:
        token = header.find(f"{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
    if token is None:
        raise _auth_failed("a WS-Security UsernameToken is required")
    given_user = (token.findtext(f"{{{WSSE}}}Username") or "").strip()
    password_element = token.find(f"{{{WSSE}}}Password")
    if password_element is None:
        raise _auth_failed("the UsernameToken has no Password")
    given = (password_element.text or "").strip()
    # Types come as full URIs (…#PasswordText) or, from some clients, as wsse:PasswordText.
    kind = password_element.get("Type", "#PasswordText").rsplit("#", 1)[-1].rsplit(":", 1)[-1]

    if kind == "PasswordText":
        password_ok = _same(given, password)
    elif kind == "PasswordDigest":
        password_ok = _same(given, _expected_digest(token, password, now or _now()))
    else:
        raise _auth_failed(f"unsupported password type {kind}")
    # Both compared regardless, so timing does not tell which one was wrong.
    user_ok = _same(given_user, username)
    if not (user_ok and password_ok):
        raise _auth_failed("wrong username or password")


def _expected_digest(token: etree._Element, password: str, now: datetime) -> str:
    """base64(sha1(nonce bytes + Created text + password)), per the UsernameToken Profile."""
    nonce_text = token.findtext(f"{{{WSSE}}}Nonce")
    created = token.findtext(f"{{{WSU}}}Created")
    if not nonce_text or not created:
        raise _auth_failed("a PasswordDigest needs a Nonce and a Created time")
    try:
        nonce = base64.b64decode(nonce_text.strip(), validate=True)
        created_at = datetime.fromisoformat(created.strip())
    except (binascii.Error, ValueError):
        raise _auth_failed("malformed Nonce or Created") from None
    if abs(as_utc(now) - as_utc(created_at)) > _CREATED_TOLERANCE:
        raise _auth_failed("the Created time is too far from the server's clock")
    digest = hashlib.sha1(nonce + created.strip().encode() + password.encode()).digest()
    return base64.b64encode(digest).decode("ascii")


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _auth_failed(message: str) -> SoapFault:
    return SoapFault("Client", "AuthenticationFailed", message)


def _now() -> datetime:
    return datetime.now(timezone.utc)


# ---------------------------------------------------------------------------------------------
# Operations


class _Call:
    """Reads the qualified child elements of an operation (or nested) element."""

    def __init__(self, element: etree._Element):
        self._element = element

    def text(self, name: str, required: bool = False) -> str:
        child = self._element.find(f"{{{TNS}}}{name}")
        if child is None:
            if required:
                raise SoapFault("Client", "InvalidRequest", f"{name} is required")
            return ""
        return child.text or ""

    def integer(self, name: str) -> int:
        text = self.text(name, required=True).strip()
        try:
            return int(text)
        except ValueError:
            raise SoapFault("Client", "InvalidRequest", f"{name} must be an integer") from None

    def boolean(self, name: str) -> bool:
        """An optional xsd:boolean, false when absent."""
        text = self.text(name).strip()
        if text in ("", "false", "0"):
            return False
        if text in ("true", "1"):
            return True
        raise SoapFault("Client", "InvalidRequest", f"{name} must be true or false")

    def binary(self, name: str) -> bytes:
        text = "".join(self.text(name).split())
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error:
            raise SoapFault("Client", "InvalidRequest", f"{name} is not valid base64") from None

    def each(self, name: str) -> list[_Call]:
        return [_Call(child) for child in self._element.findall(f"{{{TNS}}}{name}")]


def _deliver(sandbox: Sandbox, call: _Call, _settings: FaultSettings) -> etree._Element:
    related = call.text("relatedLetterId").strip()
    letter = letters.deliver(sandbox.engine, letters.NewLetter(
        reference=call.text("reference", required=True),
        subject=call.text("subject", required=True), body=call.text("body"),
        sender_name=call.text("senderName"), sender_national_code=call.text("senderNationalCode"),
        sender_mobile=call.text("senderMobile"), unit_code=call.text("unitCode").strip(),
        attachments=[_new_attachment(item) for item in call.each("attachments")],
        register=call.boolean("register"),
        related_letter_id=call.integer("relatedLetterId") if related else None,
        relation=call.text("relation")))
    return T.DeliverLetterResponse(
        T.letterId(str(letter.id)), T.status(letter.status), *_optional("number", letter.number),
        *_optional("numberDate", _datetime(letter.number_date)))


def _new_attachment(item: _Call) -> letters.NewAttachment:
    return letters.NewAttachment(name=item.text("name", required=True),
                                 content_type=item.text("contentType"),
                                 content=item.binary("content"))


def _add_attachment(sandbox: Sandbox, call: _Call, _settings: FaultSettings) -> etree._Element:
    """One more file on a letter already delivered (documents the sender was asked for)."""
    items = call.each("attachment")
    if len(items) != 1:
        raise SoapFault("Client", "InvalidRequest", "exactly one attachment is required")
    added = letters.add_attachment(sandbox.engine, call.integer("letterId"),
                                   _new_attachment(items[0]))
    return T.AddAttachmentResponse(T.attachmentId(str(added.id)))


def _list_attachments(sandbox: Sandbox, call: _Call, _settings: FaultSettings) -> etree._Element:
    letter = letters.get_letter(sandbox.engine, call.integer("letterId"))
    return T.ListAttachmentsResponse(T.letterId(str(letter.id)), *[
        T.attachments(T.attachmentId(str(a.id)), T.name(a.name), T.size(str(a.size)))
        for a in letter.attachments])


def _find(sandbox: Sandbox, call: _Call, _settings: FaultSettings) -> etree._Element:
    letter = letters.find_letter(sandbox.engine, call.text("reference", required=True))
    if letter is None:
        return T.FindLetterResponse(T.found("false"))
    info = T.letter(
        T.letterId(str(letter.id)), T.reference(letter.reference), T.status(letter.status),
        *_optional("number", letter.number),
        *_optional("numberDate", _datetime(letter.number_date)), T.unitCode(letter.unit_code))
    return T.FindLetterResponse(T.found("true"), info)


def _changes(sandbox: Sandbox, call: _Call, settings: FaultSettings) -> etree._Element:
    cursor = call.integer("cursor")
    page = letters.changes_after(sandbox.engine, cursor, call.integer("max"))
    # The cursor follows the highest id handed out, however the page is disturbed below.
    next_cursor = page[-1].id if page else cursor
    items = [
        T.changes(
            T.changeId(str(change.id)), T.letterId(str(change.letter_id)),
            T.reference(change.reference), T.kind(change.kind), T.at(_datetime(change.at)),
            *[e for name in ("number", "reason", "unit", "person", "instruction", "text")
              for e in _optional(name, getattr(change, name))])
        for change in sandbox.faults.disturb_feed(settings, page)
    ]
    return T.GetChangesResponse(*items, T.nextCursor(str(next_cursor)))


def _reply(sandbox: Sandbox, call: _Call, _settings: FaultSettings) -> etree._Element:
    reply = letters.get_reply(sandbox.engine, call.integer("letterId"))
    if reply is None:
        return T.GetReplyResponse(T.found("false"))
    return T.GetReplyResponse(
        T.found("true"),
        T.text(reply.text),
        T.fileName(reply.file_name),
        T.contentType(reply.content_type),
        T.content(base64.b64encode(reply.content).decode("ascii")),
    )


def _ping(_sandbox: Sandbox, _call: _Call, _settings: FaultSettings) -> etree._Element:
    return T.PingResponse(T.ok("true"), T.serverTime(_datetime(_now())))


@dataclass(frozen=True)
class _Operation:
    handler: Callable[[Sandbox, _Call, FaultSettings], etree._Element]
    # commit_then_timeout only means something for calls that change data.
    writes: bool = False


_OPERATIONS: dict[str, _Operation] = {
    f"{{{TNS}}}DeliverLetter": _Operation(_deliver, writes=True),
    f"{{{TNS}}}AddAttachment": _Operation(_add_attachment, writes=True),
    f"{{{TNS}}}ListAttachments": _Operation(_list_attachments),
    f"{{{TNS}}}FindLetter": _Operation(_find),
    f"{{{TNS}}}GetChanges": _Operation(_changes),
    f"{{{TNS}}}GetReply": _Operation(_reply),
    f"{{{TNS}}}Ping": _Operation(_ping),
}


# ---------------------------------------------------------------------------------------------
# Building answers


def _optional(name: str, value: str | None) -> list[etree._Element]:
    return [] if value is None else [getattr(T, name)(value)]


def _datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    return as_utc(value).isoformat().replace("+00:00", "Z")


def _envelope(payload: etree._Element, tns: str = TNS) -> bytes:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "tns": tns})
    etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body").append(payload)
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def _fault_response(fault: SoapFault) -> Response:
    fault_element = etree.Element(f"{{{SOAP_ENV}}}Fault")
    # faultcode is a QName; the `soap` prefix is bound on the Envelope.
    etree.SubElement(fault_element, "faultcode").text = f"soap:{fault.side}"
    etree.SubElement(fault_element, "faultstring").text = fault.string
    if fault.message:
        detail = etree.SubElement(fault_element, "detail")
        detail.append(T.message(fault.message))
    return Response(_envelope(fault_element), fault.status, content_type=_XML)


@functools.cache
def _wsdl_template() -> str:
    return importlib.resources.files("sandbox").joinpath("wsdl/reference.wsdl").read_text("utf-8")
