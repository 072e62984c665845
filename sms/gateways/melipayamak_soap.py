"""Melipayamak and Farapayamak over SOAP (api.payamak-panel.com/post/send.asmx), through zeep,
for panels where only the SOAP service is enabled. The WSDL is kept with the code; ``url`` is
the service address. Answers carry the same Value codes as the REST service.

Texts to our line are read from the panel's Receive.asmx (``GetMessages``, location 1), at
``receive_url`` or, by default, next to ``url``. Melipayamak documents no push of received
texts to a URL of ours, so they are polled."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests
import zeep
import zeep.exceptions
from lxml.etree import XMLSyntaxError
from pydantic import Field, field_validator
from zeep.transports import Transport

from connector.domain.errors import (
    AmbiguousError,
    ConfigurationError,
    PermanentError,
    TransientError,
)
from connector.domain.clock import TEHRAN, now
from connector.plugins.ports import InboundSms, SmsResult

from .base import LoginOptions, Options, line_key, national_mobile
from .inbox import Page, Resume, note, read_pages
from .melipayamak import MelipayamakGateway, delivery_state, parse_value

WSDL = Path(__file__).with_name("wsdl") / "melipayamak_send.wsdl"
BINDING = "{http://tempuri.org/}SendSoap"
RECEIVE_WSDL = Path(__file__).with_name("wsdl") / "melipayamak_receive.wsdl"
RECEIVE_BINDING = "{http://tempuri.org/}ReceiveSoap"
log = logging.getLogger(__name__)
# Answers come from the network: no DTD, no entities, nothing fetched from elsewhere.
SAFE_XML = zeep.Settings(forbid_dtd=True, forbid_entities=True, forbid_external=True)


class _Transport(Transport):
    """ASMX answers a SOAP fault with HTTP 500; any other status that is not 200 (IIS's 404
    page for a wrong address, a proxy's 401) is not the service speaking, even when its page
    happens to parse as XML, and must not be read as a fault."""

    def post_xml(self, address: str, envelope: Any, headers: Any) -> Any:
        response = super().post_xml(address, envelope, headers)
        if response.status_code not in (200, 500):
            raise zeep.exceptions.TransportError(status_code=response.status_code,
                                                 content=response.content)
        return response


class MelipayamakSoapOptions(LoginOptions):
    receive_url: str | None = Field(
        None, description="the Receive.asmx address (default: next to url)")

    @field_validator("receive_url")
    @classmethod
    def _receive_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"is {value!r} — write a full address starting with https://")
        return value


def receive_address(send_url: str) -> str:
    """Receive.asmx beside Send.asmx (both live under /post/ on the panel's host)."""
    base, _, last = send_url.rstrip("/").rpartition("/")
    return f"{base}/receive.asmx" if last.lower().endswith(".asmx") else f"{send_url}/receive.asmx"


class MelipayamakSoapGateway(MelipayamakGateway):
    options_model = MelipayamakSoapOptions
    name = "melipayamak-soap"
    default_url = "https://api.payamak-panel.com/post/send.asmx"
    # Inbox reads: GetMessages pages of 100, at most 10 pages a read; a first read (no cursor)
    # takes texts of the last day only, not the panel's whole history.
    INBOX_PAGE, INBOX_PAGES, FIRST_LOOK_BACK = 100, 10, timedelta(days=1)

    def __init__(self, username: str, password: str, sender: str,
                 url: str = "https://api.payamak-panel.com/post/send.asmx",
                 timeouts: tuple[float, float] = (3.0, 10.0),
                 receive_url: str | None = None) -> None:
        super().__init__(username, password, sender, url, timeouts)
        transport = _Transport(session=self.http.session, timeout=timeouts[1],
                              operation_timeout=timeouts)  # type: ignore[arg-type]
        client = zeep.Client(str(WSDL), transport=transport, settings=SAFE_XML)
        self.service = client.create_service(BINDING, url)
        receiver = zeep.Client(str(RECEIVE_WSDL), transport=transport, settings=SAFE_XML)
        self.receiver = receiver.create_service(RECEIVE_BINDING,
                                                receive_url or receive_address(url))

    @classmethod
    def from_options(cls, options: Mapping[str, Any], secrets: Mapping[str, str]
                     ) -> MelipayamakSoapGateway:
        o = Options(cls.name, options, secrets, username_env="MELIPAYAMAK_USERNAME",
                    password_env="MELIPAYAMAK_PASSWORD", sender="50004001")
        opts = o.read(MelipayamakSoapOptions)
        return cls(o.secret(opts.username_env, "username_env"),
                   o.secret(opts.password_env, "password_env"), opts.sender,
                   opts.address(cls.default_url), opts.timeouts, opts.receive_url)

    def _invoke(self, operation: str, write: bool, service: Any = None, **fields: Any) -> Any:
        uncertain = AmbiguousError if write else TransientError
        try:
            return getattr(service or self.service, operation)(**self.credentials, **fields)
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

    def receive(self, cursor: str) -> tuple[list[InboundSms], str]:
        """``GetMessages(location=1, from=our line)`` page by page (``index``, ``count``).
        Receive.asmx also has GetMessagesAfterID, but its ``msgId`` is an int while MsgID is a
        long, so the cursor (the highest ``MsgID`` read) is kept on our side. The panel lists
        newest first, but that is not documented: the read stops early at the cursor only when
        the page order shows it, and otherwise reads to the last page (see ``inbox.read_pages``).
        A first read looks back ``FIRST_LOOK_BACK``. Records are read with the REST receive's
        field names (MsgID, Body, SendDate, Sender, Receiver)."""
        r = Resume.parse(cursor)
        seen = int(r.seen) if r.seen.isdigit() else 0
        since = None if seen else now() - self.FIRST_LOOK_BACK
        line = line_key(self.sender)

        def fetch(page: int) -> Page:
            return Page(self._invoke("GetMessages", False, service=self.receiver, location=1,
                                     index=page * self.INBOX_PAGE, count=self.INBOX_PAGE,
                                     **{"from": self.sender}) or [])

        def key(row: Any) -> int | None:
            return parse_value(getattr(row, "MsgID", None))

        def reached(rows: list[Any]) -> bool:  # the cursor, or on a first read the look-back
            if seen:
                return any((key(row) or 0) <= seen for row in rows)
            dates = [_soap_date(getattr(row, "SendDate", None)) for row in rows]
            return any(d is not None and since is not None and d < since for d in dates)

        pages = read_pages(fetch, key, first=0, start=r.page, limit=self.INBOX_PAGES,
                           size=self.INBOX_PAGE, reached=reached)
        out: dict[int, InboundSms] = {}
        dropped = 0
        for row in pages.rows:
            mid = parse_value(getattr(row, "MsgID", None))
            at = _soap_date(getattr(row, "SendDate", None))
            receiver = str(getattr(row, "Receiver", "") or "")
            if mid is None or mid <= seen or (since and at and at < since):
                continue
            if line_key(receiver) not in ("", line):
                dropped += 1
                continue
            out[mid] = InboundSms(str(mid), str(getattr(row, "Sender", "") or ""),
                                  str(getattr(row, "Body", "") or ""), at, receiver)
        top = max([int(r.top) if r.top.isdigit() else 0, *out])
        if pages.next_page is not None:
            log.warning("%s: more than %d new texts in one read; the rest are read next time",
                        self.name, self.INBOX_PAGES * self.INBOX_PAGE)
            after = Resume(r.seen, str(top or ""), pages.next_page, True, dropped)
        else:
            newest = max(seen, top)
            after = Resume(str(newest) if newest else "",
                           page=pages.start_next, dropped=dropped)
        return [out[k] for k in sorted(out)], str(after)

    def inbox_note(self, cursor: str) -> str | None:
        return note(cursor, self.INBOX_PAGES, self.INBOX_PAGE)


def _soap_date(value: Any) -> datetime | None:
    """An xsd:dateTime as naive UTC; the panel writes it without an offset, in Tehran time."""
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=TEHRAN)
    return value.astimezone(timezone.utc).replace(tzinfo=None)
