"""Melipayamak's SOAP service (Send.asmx, document/literal, namespace http://tempuri.org/):
SendSimpleSMS2, SendByBaseNumber2 and GetDeliveries, answering with the same Value codes as
the REST service. ``fail_next = "fault"`` answers a SOAP fault (HTTP 500)."""
from __future__ import annotations

from lxml import etree
from werkzeug.wrappers import Request, Response

from . import FakeProvider
from .melipayamak import PASSWORD, USERNAME

NS = "http://tempuri.org/"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


def _envelope(body: str, status: int = 200) -> Response:
    xml = (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP}">'
           f"<soap:Body>{body}</soap:Body></soap:Envelope>")
    return Response(xml.encode(), status=status, content_type="text/xml; charset=utf-8")


class FakeMelipayamakSoap(FakeProvider):
    def new_id(self) -> str:
        return str(5161000000000 + int(super().new_id()))

    def _result(self, op: str, value: object) -> Response:
        return _envelope(f'<{op}Response xmlns="{NS}"><{op}Result>{value}</{op}Result>'
                         f"</{op}Response>")

    def handle(self, request: Request) -> Response:
        body = etree.fromstring(request.get_data()).find(f"{{{SOAP}}}Body")[0]
        op = etree.QName(body).localname
        field = {etree.QName(e).localname: e for e in body}

        def text(name: str) -> str:
            return field[name].text or "" if name in field else ""

        if (text("username"), text("password")) != (USERNAME, PASSWORD):
            return self._result(op, 0)
        code = self.failure()
        if code == "fault":
            return _envelope("<soap:Fault><faultcode>soap:Server</faultcode><faultstring>"
                             "Server was unable to process request.</faultstring></soap:Fault>",
                             500)
        if code is not None:
            return self._result(op, code)
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
