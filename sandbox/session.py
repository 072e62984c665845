"""The SOAP service, dialect `session`: shaped like the session-based automation web services
many Iranian organizations run (docs/sandbox-contract.md).

- ``Login(UserName, Password)`` gives a ticket that every other call carries (as the ``Ticket``
  argument, a ``TicketHeader`` SOAP header or a ``SessionTicket`` cookie); tickets expire after
  SESSION_LIFETIME seconds, on ``POST /api/sessions/expire``, or at random under the
  ``session_expiry`` fault, and a call with a dead ticket answers code 1.
- Every answer carries ``Result`` (``Code``, ``Message``), and codes differ per operation: 3 is
  "nothing found" for SearchLetter but "no such letter" for AddAttachment; 5, 6, 7 say a letter,
  a file or a number already exists.
- Attachments travel as base64 text in an ``xs:string``; dates are Jalali date-times in Iran's
  time ("1405/09/08 14:30"); the history is read by date-time range with numeric action codes,
  and GetLetterStatus gives a letter's numeric status only.
"""
from __future__ import annotations

import base64
import binascii
import functools
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable
from xml.sax.saxutils import escape

from flask import Blueprint, Response, request, url_for
from lxml import etree
from lxml.builder import ElementMaker
from persiantools.digits import ar_to_fa, fa_to_en
from persiantools.jdatetime import JalaliDateTime

from sandbox.wsdl_parts import operation_parts
from sandbox import letters
from sandbox.clock import iran, jalali_text, utcnow
from sandbox.faults import FaultSettings
from sandbox.legacy import _element
from sandbox.soap import SoapFault, parse_envelope, serve
from sandbox.state import Sandbox, current_sandbox

TNS = "urn:sandbox-oa:session"
_XML = "text/xml; charset=utf-8"
bp = Blueprint("session", __name__)
S = ElementMaker(namespace=TNS, nsmap={"tns": TNS})

OK, EXPIRED, INVALID, NOT_FOUND, NOT_ALLOWED, DUPLICATE_REF, DUPLICATE_FILE, REGISTERED = (
    0, 1, 2, 3, 4, 5, 6, 7)
BAD_LOGIN = 10
STATUS_CODES = {"pending": 1, "registered": 2, "rejected": 3, "referred": 4, "answered": 5,
                "closed": 6}
ACTION_CODES = {"registered": 10, "rejected": 20, "referred": 30, "answered": 40, "closed": 50,
                "incomplete": 60}
# AddLetter's optional RelationType: how the letter relates to RelatedLetterId.
RELATION_TYPES = {1: "reply", 2: "follow_up", 3: "objection", 4: "documents"}
_OPTIONAL = frozenset({"Ticket", "RelatedLetterId", "RelationType"})
SENDER_TYPES = (1, 2)      # 1 natural person, 2 legal person
INCOMING = 2               # LetterType of an incoming letter; 1 internal, 3 outgoing


class Answer(Exception):
    def __init__(self, code: int, message: str, *children: etree._Element):
        super().__init__(message)
        self.code, self.message, self.children = code, message, children


@bp.get("/soap/session")
def wsdl() -> Response:
    if not any(key.lower() == "wsdl" for key in request.args):
        return Response("This is a SOAP endpoint; its WSDL is at ?wsdl\n", 400,
                        mimetype="text/plain")
    base = (current_sandbox().public_url or request.host_url).rstrip("/")
    address = escape(base + url_for("session.endpoint"), {'"': "&quot;"})
    return Response(_wsdl().replace("__SERVICE_ADDRESS__", address), 200, content_type=_XML)


@bp.post("/soap/session")
def endpoint() -> Response:
    def dispatch(sandbox: Sandbox, settings: FaultSettings) -> tuple[etree._Element, bool]:
        header, element = parse_envelope(request.get_data())
        name = etree.QName(element).localname
        operation = OPERATIONS.get(name) if etree.QName(element).namespace == TNS else None
        if operation is None:
            raise SoapFault("Client", "UnknownOperation", f"no operation {element.tag}")
        call = _Call(element)
        try:
            if name != "Login":
                if sandbox.faults.strikes(settings, "session_expiry"):
                    sandbox.sessions.expire_all()
                ticket = call.text("Ticket") or _header_ticket(header) or \
                    request.cookies.get("SessionTicket", "")
                if not sandbox.sessions.valid(ticket):
                    raise Answer(EXPIRED, "نشست منقضی شده است؛ دوباره وارد شوید")
                call.ticket = ticket
            children = operation.handler(sandbox, call)
        except Answer as answer:
            return _answer(name, answer.code, answer.message, answer.children), False
        except letters.LetterNotFound as exc:
            return _answer(name, NOT_FOUND, str(exc)), False
        except letters.ActionNotAllowed as exc:
            return _answer(name, NOT_ALLOWED, str(exc)), False
        except letters.InvalidInput as exc:
            return _answer(name, INVALID, str(exc)), False
        return _answer(name, OK, "", children), operation.writes

    return serve(dispatch, TNS)


def _header_ticket(header: etree._Element | None) -> str:
    if header is None:
        return ""
    found = header.find(f"{{{TNS}}}TicketHeader/{{{TNS}}}Ticket")
    return "" if found is None or found.text is None else found.text.strip()


def _answer(name: str, code: int, message: str,
            children: tuple[etree._Element, ...] | list[etree._Element] = ()) -> etree._Element:
    return getattr(S, f"{name}Response")(S.Result(S.Code(str(code)), S.Message(message)),
                                        *children)


class _Call:
    def __init__(self, element: etree._Element):
        self._element = element
        self.ticket = ""

    def text(self, name: str) -> str:
        child = self._element.find(f"{{{TNS}}}{name}")
        return "" if child is None or child.text is None else child.text

    def integer(self, name: str) -> int:
        try:
            return int(fa_to_en(ar_to_fa(self.text(name))).strip())
        except ValueError:
            raise Answer(INVALID, f"{name} must be a number") from None


def _jalali_datetime(text: str, name: str) -> datetime:
    """"1405/09/08 14:30" (Iran's time) as naive UTC; the code 2 answer if it is not one."""
    try:
        day, _, clock = fa_to_en(ar_to_fa(text.strip())).partition(" ")
        y, m, d = (int(p) for p in day.replace("-", "/").split("/"))
        hh, mm = (int(p) for p in clock.split(":")[:2])
        local = JalaliDateTime(y, m, d, hh, mm).to_gregorian()
    except ValueError:
        raise Answer(INVALID, f"{name} must be a Jalali date and time like 1405/09/08 14:30"
                     ) from None
    return local.replace(tzinfo=iran()).astimezone(timezone.utc).replace(tzinfo=None)


def _minutes(value: datetime | None) -> str:
    return jalali_text(value)[:16] if value else ""


# ---------------------------------------------------------------------------------------------
# Operations


def _login(sandbox: Sandbox, call: _Call) -> list[etree._Element]:
    import hmac
    if not (hmac.compare_digest(call.text("UserName").encode(), sandbox.username.encode()) and
            hmac.compare_digest(call.text("Password").encode(), sandbox.password.encode())):
        raise Answer(BAD_LOGIN, "نام کاربری یا رمز عبور نادرست است")
    return [S.Ticket(sandbox.sessions.login())]


def _logout(sandbox: Sandbox, call: _Call) -> list[etree._Element]:
    sandbox.sessions.logout(call.ticket)
    return []


def _add_letter(sandbox: Sandbox, call: _Call) -> list[etree._Element]:
    if call.integer("OrganId") <= 0:
        raise Answer(INVALID, "OrganId is not an organization")
    if call.integer("SenderType") not in SENDER_TYPES:
        raise Answer(INVALID, "SenderType must be 1 (person) or 2 (company)")
    if call.integer("LetterType") != INCOMING:
        raise Answer(INVALID, "LetterType must be 2 (incoming) for letters from outside")
    _jalali_datetime(call.text("SentDate"), "SentDate")
    reference = call.text("ReferenceNo").strip()
    existing = letters.find_letter(sandbox.engine, reference) if reference else None
    if existing is not None:
        raise Answer(DUPLICATE_REF, "شماره مرجع تکراری است", S.LetterId(str(existing.id)))
    related = call.integer("RelatedLetterId") if call.text("RelatedLetterId").strip() else None
    relation = RELATION_TYPES.get(call.integer("RelationType")) if related is not None and \
        call.text("RelationType").strip() else "follow_up"
    if relation is None:
        raise Answer(INVALID, "RelationType must be 1, 2, 3 or 4")
    letter = letters.deliver(sandbox.engine, letters.NewLetter(
        reference=reference, subject=call.text("Subject"), body=call.text("Body"),
        sender_name=call.text("SenderName"),
        sender_national_code=call.text("SenderNationalCode"),
        sender_mobile=call.text("SenderMobile"), unit_code=call.text("ReceiverUnit").strip(),
        related_letter_id=related, relation=relation))
    return [S.LetterId(str(letter.id))]


def _add_attachment(sandbox: Sandbox, call: _Call) -> list[etree._Element]:
    letter = letters.get_letter(sandbox.engine, call.integer("LetterId"))
    name = call.text("FileName")
    if any(a.name == name for a in letter.attachments):
        raise Answer(DUPLICATE_FILE, "فایلی با این نام قبلا پیوست شده است")
    try:
        content = base64.b64decode("".join(call.text("FileData").split()), validate=True)
    except binascii.Error:
        raise Answer(INVALID, "FileData is not base64") from None
    attachment = letters.add_attachment(sandbox.engine, letter.id, letters.NewAttachment(
        name, call.text("MimeType"), content))
    return [S.AttachmentId(str(attachment.id))]


def _list_attachments(sandbox: Sandbox, call: _Call) -> list[etree._Element]:
    letter = letters.get_letter(sandbox.engine, call.integer("LetterId"))
    return [S.Attachment(S.AttachmentId(str(a.id)), S.FileName(a.name), S.FileSize(str(a.size)))
            for a in letter.attachments]


def _number(letter: letters.Letter) -> list[etree._Element]:
    return [S.LetterNo(letter.number or ""), S.LetterDate(_minutes(letter.number_date))]


def _register(sandbox: Sandbox, call: _Call) -> list[etree._Element]:
    letter = letters.get_letter(sandbox.engine, call.integer("LetterId"))
    if letter.number:
        raise Answer(REGISTERED, "این نامه قبلا شماره خورده است", *_number(letter))
    return _number(letters.register(sandbox.engine, letter.id))


def _search(sandbox: Sandbox, call: _Call) -> list[etree._Element]:
    letter = letters.find_letter(sandbox.engine, call.text("ReferenceNo").strip())
    if letter is None:
        raise Answer(NOT_FOUND, "نامه‌ای یافت نشد")
    return [S.LetterId(str(letter.id)), *_number(letter)]


def _status(sandbox: Sandbox, call: _Call) -> list[etree._Element]:
    letter = letters.get_letter(sandbox.engine, call.integer("LetterId"))
    return [S.StatusCode(str(STATUS_CODES.get(letter.status, 0))), *_number(letter),
            S.Reason(letter.reject_reason or ""), S.UnitCode(letter.unit_code),
            S.PersonName(letter.person_name or "")]


def _history(sandbox: Sandbox, call: _Call) -> list[etree._Element]:
    start = _jalali_datetime(call.text("FromDate"), "FromDate")
    end = _jalali_datetime(call.text("ToDate"), "ToDate")
    top = call.integer("MaxRows") if call.text("MaxRows").strip() else letters.CHANGES_LIMIT
    # ToDate is inclusive to the minute, as a person reads "until 14:30": up to 14:30:59.999.
    rows = letters.changes_between(sandbox.engine, start, end + timedelta(minutes=1), top)
    rows = sandbox.faults.disturb_feed(sandbox.faults.settings, rows)
    return [S.Action(
        S.ActionId(str(c.id)), S.LetterId(str(c.letter_id)), S.ReferenceNo(c.reference),
        S.ActionCode(str(ACTION_CODES.get(c.kind, 0))), S.ActionDate(_minutes(c.at)),
        S.LetterNo(c.number or ""), S.Description(c.reason or c.instruction or c.text or ""),
        S.UnitCode(c.unit or ""), S.PersonName(c.person or "")) for c in rows]


def _server_time(_sandbox: Sandbox, _call: _Call) -> list[etree._Element]:
    return [S.Now(_minutes(utcnow()))]


@dataclass(frozen=True)
class _Operation:
    handler: Callable[[Sandbox, _Call], list[etree._Element]]
    inputs: tuple[tuple[str, str], ...]
    outputs: tuple[tuple[str, str], ...] = ()
    writes: bool = False


_T = (("Ticket", "string"),)
_NUMBER = (("LetterNo", "string"), ("LetterDate", "string"))
OPERATIONS: dict[str, _Operation] = {
    "Login": _Operation(_login, (("UserName", "string"), ("Password", "string")),
                        (("Ticket", "string"),)),
    "Logout": _Operation(_logout, _T),
    "AddLetter": _Operation(_add_letter, _T + (
        ("OrganId", "int"), ("ReferenceNo", "string"), ("Subject", "string"),
        ("Body", "string"), ("SenderName", "string"), ("SenderNationalCode", "string"),
        ("SenderMobile", "string"), ("SenderType", "int"), ("LetterType", "int"),
        ("ReceiverUnit", "string"), ("SentDate", "string"), ("RelatedLetterId", "long"),
        ("RelationType", "int")), (("LetterId", "long"),),
        writes=True),
    "AddAttachment": _Operation(_add_attachment, _T + (
        ("LetterId", "long"), ("FileName", "string"), ("MimeType", "string"),
        ("FileData", "string")), (("AttachmentId", "long"),), writes=True),
    "ListAttachments": _Operation(_list_attachments, _T + (("LetterId", "long"),),
                                  (("Attachment", "tns:AttachmentRow"),)),
    "RegisterLetter": _Operation(_register, _T + (("LetterId", "long"),), _NUMBER, writes=True),
    "SearchLetter": _Operation(_search, _T + (("ReferenceNo", "string"),),
                               (("LetterId", "long"),) + _NUMBER),
    "GetLetterStatus": _Operation(_status, _T + (("LetterId", "long"),), (
        ("StatusCode", "int"),) + _NUMBER + (("Reason", "string"), ("UnitCode", "string"),
                                             ("PersonName", "string"))),
    "GetHistory": _Operation(_history, _T + (("FromDate", "string"), ("ToDate", "string"),
                                             ("MaxRows", "int")),
                             (("Action", "tns:ActionRow"),)),
    "GetServerTime": _Operation(_server_time, _T, (("Now", "string"),)),
}
_TYPES: dict[str, tuple[tuple[str, str], ...]] = {
    "ResultInfo": (("Code", "int"), ("Message", "string")),
    "AttachmentRow": (("AttachmentId", "long"), ("FileName", "string"), ("FileSize", "int")),
    # ActionCode: 10 registered, 20 rejected, 30 referred, 40 answered, 50 closed,
    # 60 documents asked for (Description says which);
    # ActionDate: Jalali, Iran time, "1405/09/08 14:30".
    "ActionRow": (("ActionId", "long"), ("LetterId", "long"), ("ReferenceNo", "string"),
                  ("ActionCode", "int"), ("ActionDate", "string"), ("LetterNo", "string"),
                  ("Description", "string"), ("UnitCode", "string"), ("PersonName", "string")),
}


@functools.cache
def _wsdl() -> str:
    types = [f'<xsd:complexType name="{name}"><xsd:sequence>'
             + "".join(_element(n, t, optional=True) for n, t in fields)
             + "</xsd:sequence></xsd:complexType>" for name, fields in _TYPES.items()]
    types.append(f'<xsd:element name="TicketHeader"><xsd:complexType><xsd:sequence>'
                 f'{_element("Ticket", "string")}</xsd:sequence></xsd:complexType></xsd:element>')
    elements, messages, ports, bindings = [], [], [], []
    for name, op in OPERATIONS.items():
        inputs = "".join(_element(n, t, optional=n in _OPTIONAL) for n, t in op.inputs)
        outputs = _element("Result", "tns:ResultInfo") + "".join(
            _element(n, t, many=t.startswith("tns:"), optional=True) for n, t in op.outputs)
        for parts, piece in zip((elements, messages, ports, bindings),
                                operation_parts(TNS, name, inputs, outputs)):
            parts.append(piece)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" '
        'xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" '
        f'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="{TNS}" '
        f'targetNamespace="{TNS}" name="SessionAutomationService">'
        '<wsdl:documentation>Session-based automation service: Login gives a Ticket for every '
        'later call; every answer carries Result (Code, Message).</wsdl:documentation>'
        f'<wsdl:types><xsd:schema targetNamespace="{TNS}" elementFormDefault="qualified">'
        + "".join(types) + "".join(elements) + "</xsd:schema></wsdl:types>"
        + "".join(messages)
        + '<wsdl:portType name="IOfficeService">' + "".join(ports) + "</wsdl:portType>"
        + '<wsdl:binding name="BasicHttpBinding_IOfficeService" type="tns:IOfficeService">'
        '<soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>'
        + "".join(bindings) + "</wsdl:binding>"
        + '<wsdl:service name="OfficeService"><wsdl:port name="BasicHttpBinding_IOfficeService" '
        'binding="tns:BasicHttpBinding_IOfficeService">'
        '<soap:address location="__SERVICE_ADDRESS__"/></wsdl:port></wsdl:service>'
        "</wsdl:definitions>\n")
