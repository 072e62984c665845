"""Melipayamak's SOAP services (document/literal, namespace http://tempuri.org/): Send.asmx's
SendSimpleSMS2, SendByBaseNumber2 and GetDeliveries, answering with the same Value codes as the
REST service, and Receive.asmx's GetMessages (location 1 = received, ``from`` = our line or ''
for all, index/count paging, newest first), whose answer is an array of MessagesBL records with
SendDate in Tehran time and no offset. ``fail_next = "fault"`` answers a SOAP fault (HTTP 500).
The service documents no refusal of wrong credentials for GetMessages: here it answers an empty
array, as an ASMX method returning nothing does."""
from __future__ import annotations

from datetime import datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from lxml import etree
from werkzeug.wrappers import Request, Response

from . import FakeProvider
from .melipayamak import PASSWORD, USERNAME

NS = "http://tempuri.org/"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


def _envelope(body: str, status: int = 200, doctype: bool = False) -> Response:
    xml = ('<?xml version="1.0" encoding="utf-8"?>'
           + ('<!DOCTYPE soap:Envelope [<!ELEMENT x ANY>]>' if doctype else "")
           + f'<soap:Envelope xmlns:soap="{SOAP}">'
           f"<soap:Body>{body}</soap:Body></soap:Envelope>")
    return Response(xml.encode(), status=status, content_type="text/xml; charset=utf-8")


def _xml(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else escape(str(value))


class FakeMelipayamakSoap(FakeProvider):
    def __init__(self) -> None:
        super().__init__()
        self.inbox: list[dict] = []  # texts to the account's lines, oldest first
        self.receive_paths: list[str] = []
        self.missing: set[str] = set()  # addresses where no service lives (HTTP 404)
        self.newest_first = True  # the panel's order; not documented, so tests try the other
        self.doctype = False  # answer with a DOCTYPE, which a SOAP answer never has

    def citizen_texts(self, sender: str, text: str, line: str = "50004001",
                      at: datetime | None = None) -> int:
        mid = 20000 + len(self.inbox) + 1  # inbox ids are their own series, far below recIds
        when = (at or datetime.now()).astimezone(ZoneInfo("Asia/Tehran")).replace(
            tzinfo=None, microsecond=0)
        # In the order of the MessagesBL record (a sequence).
        self.inbox.append({"MsgID": mid, "Body": text, "SendDate": when.isoformat(),
                           "Sender": sender, "Receiver": line, "Parts": 1, "IsRead": False})
        return mid

    def _messages(self, request: Request, text) -> Response:
        self.receive_paths.append(request.path)
        if text("location") != "1":
            rows = []
        else:
            rows = [m for m in (reversed(self.inbox) if self.newest_first else self.inbox)
                    if not text("from") or m["Receiver"] == text("from")]
            index, count = int(text("index") or 0), int(text("count") or 0)
            rows = rows[index:index + count]
        records = "".join("<MessagesBL>" + "".join(f"<{k}>{_xml(v)}</{k}>" for k, v in m.items())
                          + "</MessagesBL>" for m in rows)
        return _envelope(f'<GetMessagesResponse xmlns="{NS}"><GetMessagesResult>{records}'
                         "</GetMessagesResult></GetMessagesResponse>", doctype=self.doctype)

    def new_id(self) -> str:
        return str(5161000000000 + int(super().new_id()))

    def _result(self, op: str, value: object) -> Response:
        return _envelope(f'<{op}Response xmlns="{NS}"><{op}Result>{value}</{op}Result>'
                         f"</{op}Response>")

    def handle(self, request: Request) -> Response:
        if request.path in self.missing:  # IIS: no such page
            return Response("<h2>404 - File or directory not found.</h2>", status=404,
                            content_type="text/html")
        body = etree.fromstring(request.get_data()).find(f"{{{SOAP}}}Body")[0]
        op = etree.QName(body).localname
        field = {etree.QName(e).localname: e for e in body}

        def text(name: str) -> str:
            return field[name].text or "" if name in field else ""

        receive = request.path.lower().endswith("/receive.asmx")
        if receive != (op == "GetMessages"):
            return _envelope("<soap:Fault><faultcode>soap:Client</faultcode><faultstring>"
                             f"no operation {op} at this address</faultstring></soap:Fault>", 500)
        if (text("username"), text("password")) != (USERNAME, PASSWORD):
            if receive:
                return _envelope(f'<GetMessagesResponse xmlns="{NS}"><GetMessagesResult/>'
                                 "</GetMessagesResponse>")
            return self._result(op, 0)
        code = self.failure()
        if code == "fault":
            return _envelope("<soap:Fault><faultcode>soap:Server</faultcode><faultstring>"
                             "Server was unable to process request.</faultstring></soap:Fault>",
                             500)
        if code is not None:
            return self._result(op, code)
        if op == "GetMessages":
            return self._messages(request, text)
        if op == "SendSimpleSMS2":
            return self._result(op, self.take(to=text("to"), text=text("text"), status=0))
        if op == "SendByBaseNumber2":
            return self._result(op, self.take(to=text("to"), template=text("bodyId"), status=0,
                                              params=text("text").split(";")))
        if op == "GetDeliveries":
            ids = [e.text for e in field["recIds"]]
            ints = "".join(f"<int>{self.messages[i]['status'] if i in self.messages else -1}"
                           "</int>" for i in ids)
            return _envelope(f'<GetDeliveriesResponse xmlns="{NS}"><GetDeliveriesResult>{ints}'
                             "</GetDeliveriesResult></GetDeliveriesResponse>")
        return _envelope("<soap:Fault><faultcode>soap:Client</faultcode><faultstring>"
                         "unknown operation</faultstring></soap:Fault>", 500)
