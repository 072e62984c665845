"""Melipayamak and Farapayamak over SOAP (api.payamak-panel.com/post/send.asmx), through zeep,
for panels where only the SOAP service is enabled. The WSDL is kept with the code; ``url`` is
the service address. Answers carry the same Value codes as the REST service."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests
import zeep
import zeep.exceptions
from lxml.etree import XMLSyntaxError
from zeep.transports import Transport

from connector.domain.errors import (
    AmbiguousError,
    ConfigurationError,
    PermanentError,
    TransientError,
)
from connector.plugins.ports import SmsResult

from .base import national_mobile
from .melipayamak import MelipayamakGateway, delivery_state, parse_value

WSDL = Path(__file__).with_name("wsdl") / "melipayamak_send.wsdl"
BINDING = "{http://tempuri.org/}SendSoap"


class MelipayamakSoapGateway(MelipayamakGateway):
    name = "melipayamak-soap"
    default_url = "https://api.payamak-panel.com/post/send.asmx"

    def __init__(self, username: str, password: str, sender: str,
                 url: str = "https://api.payamak-panel.com/post/send.asmx",
                 timeouts: tuple[float, float] = (3.0, 10.0)) -> None:
        super().__init__(username, password, sender, url, timeouts)
        transport = Transport(session=self.http.session, timeout=timeouts[1],
                              operation_timeout=timeouts)  # type: ignore[arg-type]
        client = zeep.Client(str(WSDL), transport=transport)
        self.service = client.create_service(BINDING, url)

    def _invoke(self, operation: str, write: bool, **fields: Any) -> Any:
        uncertain = AmbiguousError if write else TransientError
        try:
            return getattr(self.service, operation)(**self.credentials, **fields)
        except requests.RequestException as exc:
            raise self.http.transport_error(exc, write) from None
        except zeep.exceptions.Fault as exc:
            # A fault is the service failing while handling the call.
            raise self.http.error(uncertain, f"{operation}: SOAP fault {exc.message}") from None
        except zeep.exceptions.TransportError as exc:
            failed = self.http.status_error(exc.status_code, str(exc.content or ""), write)
            cls = ConfigurationError if exc.status_code in (401, 403, 404) else PermanentError
            raise failed or self.http.error(cls, f"{operation}: HTTP {exc.status_code}") from None
        except (zeep.exceptions.Error, XMLSyntaxError) as exc:
            raise self.http.error(uncertain, f"{operation}: unreadable answer ({exc})") from None

    def _value(self, answer: Any) -> int:
        value = parse_value(answer)
        if value is None:
            raise self.http.error(AmbiguousError, f"unreadable answer {str(answer)[:50]!r}")
        return value

    def send(self, to: str, text: str, client_reference: str) -> SmsResult:
        return self._sent(self._value(self._invoke(
            "SendSimpleSMS2", True, to=national_mobile(to), text=text, isflash=False,
            **{"from": self.sender})))

    def send_template(self, to: str, template: str, params: Mapping[str, str],
                      client_reference: str) -> SmsResult:
        body_id, text = self._template(template, params)
        return self._sent(self._value(self._invoke(
            "SendByBaseNumber2", True, text=text, to=national_mobile(to), bodyId=body_id)))

    def status(self, provider_ids: list[str]) -> dict[str, SmsResult]:
        answer = self._invoke("GetDeliveries", False, recIds={"long": [int(p) for p in
                                                                        provider_ids]})
        codes = [int(c) for c in (answer or [])]  # zeep unwraps ArrayOfInt to a list
        return {pid: SmsResult(pid, delivery_state(code), str(code))
                for pid, code in zip(provider_ids, codes) if code >= 0}
