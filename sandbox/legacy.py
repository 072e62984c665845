"""The SOAP service, dialect `legacy`: an in-house WCF service of the kind Iranian organizations
run (docs/sandbox-contract.md). Unlike `reference`, credentials travel inside every message
body, errors come back as a status object inside a normal answer (HTTP 200), a delivery takes
several calls (InsertLetter, one InsertLetterAttachment per file, InsertAssignment, then
InsertLetterNumber for the number), and routing is read by Jalali date range through
GetAssignmentWithFilter. Same database, same fault injection as `reference`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable
from xml.sax.saxutils import escape

from flask import Blueprint, Response, request, url_for
from lxml import etree
from lxml.builder import ElementMaker

from sandbox.wsdl_parts import operation_parts
from sandbox import followups, letters
from sandbox.clock import jalali_day_start, jalali_text, utcnow
from sandbox.faults import FaultSettings
from sandbox.soap import SoapFault, parse_envelope, serve
from sandbox.state import Sandbox, current_sandbox

TNS = "urn:sandbox-oa:legacy"
_XML = "text/xml; charset=utf-8"

bp = Blueprint("legacy", __name__)
L = ElementMaker(namespace=TNS, nsmap={"tns": TNS})

# ErrorCode values of the ClsError every answer carries.
OK, AUTH_FAILED, INVALID, NOT_FOUND, NOT_ALLOWED, ALREADY_ASSIGNED = 0, 1, 2, 3, 4, 6
_ONE_DAY = timedelta(days=1)
CREDENTIALS = (("Username", "string"), ("Password", "string"), ("OrganId", "int"),
               ("IP", "string"))


class LegacyError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# ---------------------------------------------------------------------------------------------
# Routes


@bp.get("/soap/legacy")
def wsdl() -> Response:
    if not any(key.lower() == "wsdl" for key in request.args):
        return Response("This is a SOAP endpoint; its WSDL is at ?wsdl\n", 400,
                        mimetype="text/plain")
    sandbox = current_sandbox()
    path = url_for("legacy.endpoint")
    base = (sandbox.public_url or request.host_url).rstrip("/")
    return Response(_wsdl().replace("__SERVICE_ADDRESS__", escape(base + path, {'"': "&quot;"})),
                    200, content_type=_XML)


@bp.post("/soap/legacy")
def endpoint() -> Response:
    def dispatch(sandbox: Sandbox, _settings: FaultSettings) -> tuple[etree._Element, bool]:
        _header, element = parse_envelope(request.get_data())
        name = etree.QName(element).localname
        operation = OPERATIONS.get(name) if etree.QName(element).namespace == TNS else None
        if operation is None:
            raise SoapFault("Client", "UnknownOperation", f"no operation {element.tag}")
        call = _Call(element)
        try:
            _authenticate(call, sandbox)
            results = operation.handler(sandbox, call)
        except LegacyError as exc:
            return _answer(name, exc.code, exc.message, None, []), False
        except letters.LetterNotFound as exc:
            return _answer(name, NOT_FOUND, str(exc), None, []), False
        except letters.ActionNotAllowed as exc:
            return _answer(name, NOT_ALLOWED, str(exc), None, []), False
        except letters.InvalidInput as exc:
            return _answer(name, INVALID, str(exc), None, []), False
        output_id, children = results
        return _answer(name, OK, "", output_id, children), operation.writes

    return serve(dispatch, TNS)


def _authenticate(call: _Call, sandbox: Sandbox) -> None:
    user_ok = hmac.compare_digest(call.text("Username").encode(), sandbox.username.encode())
    password_ok = hmac.compare_digest(call.text("Password").encode(), sandbox.password.encode())
    if not (user_ok and password_ok):
        raise LegacyError(AUTH_FAILED, "نام کاربری یا رمز عبور نادرست است")


def _answer(name: str, code: int, message: str, output_id: int | None,
            children: list[etree._Element]) -> etree._Element:
    error = L.Err(L.ErrorType("true" if code else "false"), L.ErrorCode(str(code)),
                  L.ErrorMsg(message))
    result = []
    if output_id is not None:
        error.append(L.OutputId(str(output_id)))
        # WCF methods return the new id and hand the error object back as an out parameter.
        result = [getattr(L, f"{name}Result")(str(output_id))]
    return getattr(L, f"{name}Response")(*result, error, *children)


# ---------------------------------------------------------------------------------------------
# Operations


class _Call:
    def __init__(self, element: etree._Element):
        self._element = element

    def text(self, name: str) -> str:
        child = self._element.find(f"{{{TNS}}}{name}")
        return "" if child is None or child.text is None else child.text

    def integer(self, name: str) -> int:
        try:
            return int(self.text(name).strip())
        except ValueError:
            raise LegacyError(INVALID, f"{name} must be a number") from None

    def binary(self, name: str) -> bytes:
        try:
            return base64.b64decode("".join(self.text(name).split()), validate=True)
        except binascii.Error:
            raise LegacyError(INVALID, f"{name} is not valid base64") from None


Result = tuple[int | None, list[etree._Element]]


def _insert_letter(sandbox: Sandbox, call: _Call) -> Result:
    letter = letters.deliver(sandbox.engine, letters.NewLetter(
        reference=call.text("fldKeywords"), subject=call.text("fldSubject"),
        body=call.text("MatnLetter"), sender_name=call.text("fldSenderName"),
        sender_national_code=call.text("fldSenderNationalCode"),
        sender_mobile=call.text("fldSenderMobile")))
    return letter.id, []


def _insert_attachment(sandbox: Sandbox, call: _Call) -> Result:
    attachment = letters.add_attachment(sandbox.engine, call.integer("fldLetterId"),
                                        letters.NewAttachment(call.text("fldName"),
                                                              call.text("fldType"),
                                                              call.binary("file")))
    return attachment.id, []


def _letter_attachments(sandbox: Sandbox, call: _Call) -> Result:
    letter = letters.get_letter(sandbox.engine, call.integer("fldLetterId"))
    return None, [L.Attachment(L.fldId(str(a.id)), L.fldName(a.name), L.fldSize(str(a.size)))
                  for a in letter.attachments]


def _insert_assignment(sandbox: Sandbox, call: _Call) -> Result:
    letter_id, unit = call.integer("fldLetterID"), call.text("fldReceiverComisionID").strip()
    done = letters.assignments(sandbox.engine, letter_id)
    if any(a.unit_code == (unit or letters.SECRETARIAT) for a in done):
        raise LegacyError(ALREADY_ASSIGNED, "این نامه قبلا به همین گیرنده ارجاع شده است")
    return letters.assign(sandbox.engine, letter_id, unit, call.text("Desc")).id, []


def _letter_assignments(sandbox: Sandbox, call: _Call) -> Result:
    found = letters.assignments(sandbox.engine, call.integer("fldLetterId"))
    return None, [L.Assignment(L.fldId(str(a.id)), L.fldReceiverComisionID(a.unit_code),
                               L.fldReceiverName(a.person_name)) for a in found]


def _insert_number(sandbox: Sandbox, call: _Call) -> Result:
    letter = letters.register(sandbox.engine, call.integer("fldLetterId"))
    return letter.id, [L.fldNumber(letter.number or ""),
                       L.fldDate(jalali_text(letter.number_date))]


def _letter_with_filter(sandbox: Sandbox, call: _Call) -> Result:
    field, value = call.text("FieldName"), call.text("FilterValue").strip()
    top = call.integer("Top") if call.text("Top").strip() else letters.LIST_LIMIT
    if field == "fldKeywords":
        found = letters.find_letters(sandbox.engine, reference=value, limit=top)
    elif field == "fldId":
        found = letters.find_letters(sandbox.engine, letter_id=int(value) if value.isdigit()
                                     else -1, limit=top)
    else:
        raise LegacyError(INVALID, "FieldName must be fldKeywords or fldId")
    return None, [L.Letter(L.fldId(str(x.id)), L.fldKeywords(x.reference),
                           L.fldSubject(x.subject), L.fldStatus(x.status),
                           *([L.fldLetterNumber(x.number)] if x.number else []),
                           *([L.fldLetterDate(jalali_text(x.number_date))] if x.number_date
                             else []),
                           L.fldReceiverComisionID(x.unit_code)) for x in found]


def _assignment_with_filter(sandbox: Sandbox, call: _Call) -> Result:
    if call.text("FieldName") != "fldDate":
        raise LegacyError(INVALID, "FieldName must be fldDate")
    try:
        start = jalali_day_start(call.text("Start"))
        # End is inclusive, as a person reads "from 1403/07/01 to 1403/07/15".
        end = jalali_day_start(call.text("End")) + _ONE_DAY
    except ValueError as exc:
        raise LegacyError(INVALID, str(exc)) from None
    top = call.integer("Top") if call.text("Top").strip() else letters.CHANGES_LIMIT
    settings = sandbox.faults.settings
    rows = sandbox.faults.disturb_feed(settings, letters.changes_between(sandbox.engine, start,
                                                                         end, top))
    return None, [L.Assignment(
        L.fldId(str(c.id)), L.fldLetterId(str(c.letter_id)), L.fldKeywords(c.reference),
        L.fldAssignmentStatus(c.kind), L.fldDate(jalali_text(c.at)),
        *([L.fldLetterNumber(c.number)] if c.number else []),
        *([L.fldDesc(d)] if (d := c.reason or c.instruction or c.text) else []),
        *([L.fldReceiverComisionID(c.unit)] if c.unit else []),
        *([L.fldReceiverName(c.person)] if c.person else [])) for c in rows]


# fldHistoryType_Id of InsertHistoryLetter: how the current letter relates to the earlier one.
HISTORY_TYPES = {1: "reply", 2: "follow_up", 3: "objection", 4: "documents"}


def _insert_history(sandbox: Sandbox, call: _Call) -> Result:
    """Link a letter to an earlier one (پیرو / اعتراض); asking twice keeps one link."""
    kind = HISTORY_TYPES.get(call.integer("fldHistoryType_Id"))
    if kind is None:
        raise LegacyError(INVALID, "fldHistoryType_Id must be 1, 2, 3 or 4")
    found = followups.link(sandbox.engine, call.integer("fldCurrentLetter_Id"),
                           call.integer("fldHistoryLetter_Id"), kind)
    return found.id, []


def _server_time(_sandbox: Sandbox, _call: _Call) -> Result:
    return None, [L.fldDate(jalali_text(utcnow()))]


@dataclass(frozen=True)
class _Operation:
    handler: Callable[[Sandbox, _Call], Result]
    inputs: tuple[tuple[str, str], ...]
    outputs: tuple[tuple[str, str], ...] = ()  # (element, type); types of tns are repeated rows
    writes: bool = False


_ROW = "unbounded"
OPERATIONS: dict[str, _Operation] = {
    "InsertLetter": _Operation(_insert_letter, (
        ("fldSubject", "string"), ("MatnLetter", "string"), ("fldKeywords", "string"),
        ("fldSenderName", "string"), ("fldSenderNationalCode", "string"),
        ("fldSenderMobile", "string"), ("fldLetterTypeID", "int")), writes=True),
    "InsertLetterAttachment": _Operation(_insert_attachment, (
        ("fldLetterId", "long"), ("fldName", "string"), ("fldType", "string"),
        ("file", "base64Binary")), writes=True),
    "GetLetterAttachments": _Operation(_letter_attachments, (("fldLetterId", "long"),),
                                       (("Attachment", "tns:AttachmentRow"),)),
    "InsertAssignment": _Operation(_insert_assignment, (
        ("fldLetterID", "long"), ("fldReceiverComisionID", "string"), ("Desc", "string")),
        writes=True),
    "GetLetterAssignments": _Operation(_letter_assignments, (("fldLetterId", "long"),),
                                       (("Assignment", "tns:LetterAssignmentRow"),)),
    "InsertLetterNumber": _Operation(_insert_number, (("fldLetterId", "long"),),
                                     (("fldNumber", "string"), ("fldDate", "string")),
                                     writes=True),
    "GetLetterWithFilter": _Operation(_letter_with_filter, (
        ("FieldName", "string"), ("FilterValue", "string"), ("Top", "int")),
        (("Letter", "tns:LetterRow"),)),
    "GetAssignmentWithFilter": _Operation(_assignment_with_filter, (
        ("FieldName", "string"), ("Start", "string"), ("End", "string"), ("Top", "int")),
        (("Assignment", "tns:AssignmentRow"),)),
    "InsertHistoryLetter": _Operation(_insert_history, (
        ("fldCurrentLetter_Id", "long"), ("fldHistoryType_Id", "int"),
        ("fldHistoryLetter_Id", "long")), writes=True),
    "GetServerTime": _Operation(_server_time, (), (("fldDate", "string"),)),
}

_TYPES: dict[str, tuple[tuple[str, str, bool], ...]] = {  # (element, type, optional)
    "ClsError": (("ErrorType", "boolean", False), ("ErrorCode", "int", False),
                 ("ErrorMsg", "string", True), ("OutputId", "long", True)),
    "AttachmentRow": (("fldId", "long", False), ("fldName", "string", False),
                      ("fldSize", "int", False)),
    "LetterAssignmentRow": (("fldId", "long", False), ("fldReceiverComisionID", "string", False),
                            ("fldReceiverName", "string", False)),
    "LetterRow": (("fldId", "long", False), ("fldKeywords", "string", False),
                  ("fldSubject", "string", False), ("fldStatus", "string", False),
                  ("fldLetterNumber", "string", True), ("fldLetterDate", "string", True),
                  ("fldReceiverComisionID", "string", False)),
    # fldAssignmentStatus: registered | rejected | referred | answered | closed | incomplete;
    # fldDate: Jalali, Iran time, "1403/07/15 14:30:00"; fldDesc: reason, instruction or answer.
    "AssignmentRow": (("fldId", "long", False), ("fldLetterId", "long", False),
                      ("fldKeywords", "string", False), ("fldAssignmentStatus", "string", False),
                      ("fldDate", "string", False), ("fldLetterNumber", "string", True),
                      ("fldDesc", "string", True), ("fldReceiverComisionID", "string", True),
                      ("fldReceiverName", "string", True)),
}


# ---------------------------------------------------------------------------------------------
# The WSDL, written out from the tables above so it cannot drift from what the service does


def _element(name: str, type_: str, optional: bool = False, many: bool = False) -> str:
    qualified = type_ if ":" in type_ else f"xsd:{type_}"
    occurs = (' minOccurs="0"' if optional or many else "") + (
        ' maxOccurs="unbounded"' if many else "")
    return f'<xsd:element name="{name}" type="{qualified}"{occurs}/>'


@functools.cache
def _wsdl() -> str:
    types = [
        f'<xsd:complexType name="{name}"><xsd:sequence>'
        + "".join(_element(n, t, o) for n, t, o in fields) + "</xsd:sequence></xsd:complexType>"
        for name, fields in _TYPES.items()
    ]
    elements, messages, ports, bindings = [], [], [], []
    for name, op in OPERATIONS.items():
        inputs = "".join(_element(n, t, optional=n in ("Desc", "Top", "IP", "OrganId"))
                         for n, t in CREDENTIALS + op.inputs)
        outputs = _element(f"{name}Result", "long", optional=True) + _element(
            "Err", "tns:ClsError") + "".join(
            _element(n, t, many=t.startswith("tns:"), optional=not t.startswith("tns:"))
            for n, t in op.outputs)
        for parts, piece in zip((elements, messages, ports, bindings),
                                operation_parts(TNS, name, inputs, outputs)):
            parts.append(piece)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" '
        'xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" '
        f'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="{TNS}" '
        f'targetNamespace="{TNS}" name="LegacyAutomationService">'
        '<wsdl:documentation>WCF-style automation service: Username, Password, OrganId and IP '
        'in every message; every answer carries Err (ErrorType, ErrorCode, ErrorMsg, OutputId).'
        '</wsdl:documentation>'
        f'<wsdl:types><xsd:schema targetNamespace="{TNS}" elementFormDefault="qualified">'
        + "".join(types) + "".join(elements) + "</xsd:schema></wsdl:types>"
        + "".join(messages)
        + '<wsdl:portType name="IAutomationService">' + "".join(ports) + "</wsdl:portType>"
        + '<wsdl:binding name="BasicHttpBinding_IAutomationService" '
        'type="tns:IAutomationService"><soap:binding style="document" '
        'transport="http://schemas.xmlsoap.org/soap/http"/>' + "".join(bindings)
        + "</wsdl:binding>"
        + '<wsdl:service name="AutomationService"><wsdl:port '
        'name="BasicHttpBinding_IAutomationService" '
        'binding="tns:BasicHttpBinding_IAutomationService">'
        '<soap:address location="__SERVICE_ADDRESS__"/></wsdl:port></wsdl:service>'
        "</wsdl:definitions>\n")
