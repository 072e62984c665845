"""IPPanel's older REST API (https://api2.ippanel.com/api/v1/, key in the ``apikey`` header), the
one ippanel/python-rest-sdk speaks; IPPanel Edge is ``ippanel.py``. Every answer is an envelope
``{"status": "OK", "code": 200, "error_message": "", "data": …}``; a refusal carries the HTTP
code in ``code`` (401, 403, 404, 422, …) and a reason in ``error_message``. Numbers travel as
98912… (recipients) and +98… (lines). It takes no client reference.

Texts to our line are read from ``GET inbox`` (see ``receive``). IPPanel documents no push of
received texts for this API, and Edge documents no inbox at all, so only this one is polled."""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from connector.domain.errors import (
    ConfigurationError,
    ExternalError,
    PermanentError,
    TransientError,
)
from connector.domain.clock import now
from connector.plugins.ports import InboundSms, SmsGateway, SmsGatewayCapabilities, SmsResult

from .base import (
    ApiKeyOptions,
    Options,
    check_tokens,
    classify,
    international_mobile,
    line_key,
    parse_utc,
)
from .http import HttpClient
from .inbox import Page, Resume, note, read_pages

log = logging.getLogger(__name__)
DEFAULT_URL = "https://api2.ippanel.com/api/v1"
# ``code`` of a refusal (the SDK's ResponseCode and HTTP client; 422 names the bad fields).
CODES: dict[int, tuple[type[ExternalError], str]] = {
    400: (PermanentError, "the request is not valid"),
    401: (ConfigurationError, "the API key is not valid"),
    403: (ConfigurationError, "the key may not do this (line, IP address or permission)"),
    404: (ConfigurationError, "the line, pattern or message was not found"),
    405: (ConfigurationError, "wrong HTTP method"),
    422: (PermanentError, "a field is not valid"),
    429: (TransientError, "too many requests"),
}
# deliveries[].status of show-recipient: 0 sent, 1 pending, 2 delivered, 3 failed, 4 discarded.
STATES: dict[int, str] = {0: "sending", 1: "pending", 2: "delivered", 3: "temporary-failure",
                          4: "permanent-failure"}


class IppanelGateway(SmsGateway):
    options_model = ApiKeyOptions
    name = "ippanel"
    capabilities = SmsGatewayCapabilities(supports_status_query=True, supports_template=True,
                                          supports_inbox=True)
    # Inbox reads: pages of 100, at most 20 pages a read; texts within this long before the
    # newest one seen are read again (a text can be listed late); a first read (no cursor)
    # takes texts of the last day only, not the whole history.
    INBOX_PAGE, INBOX_PAGES, OVERLAP = 100, 20, timedelta(minutes=30)
    FIRST_LOOK_BACK = timedelta(days=1)

    def __init__(self, api_key: str, sender: str, url: str = DEFAULT_URL,
                 timeouts: tuple[float, float] = (3.0, 10.0)) -> None:
        self.sender = sender
        self.http = HttpClient(self.name, url, timeouts, secrets=[api_key],
                               headers={"apikey": api_key})

    @classmethod
    def from_options(cls, options: Mapping[str, Any], secrets: Mapping[str, str]
                     ) -> IppanelGateway:
        o = Options(cls.name, options, secrets, api_key_env="IPPANEL_API_KEY", sender="+983000505")
        opts = o.read(ApiKeyOptions)
        return cls(o.secret(opts.api_key_env, "api_key_env"), opts.sender,
                   opts.address(DEFAULT_URL), opts.timeouts)

    def _call(self, method: str, path: str, write: bool, **kwargs: Any) -> tuple[Any, Any]:
        """The envelope's ``data`` and ``meta``, or the refusal its ``code`` means."""
        reply = self.http.call(method, path, write=write, **kwargs)
        body = reply.body if isinstance(reply.body, dict) else {}
        code = body.get("code", reply.status)
        if body.get("status") != "OK" or code != 200 or body.get("error_message"):
            said = body.get("error_message")
            raise classify(self.http, code, CODES, reply.status,
                           f" ({str(said)[:200]})" if said else "")
        return body.get("data"), body.get("meta")

    def _sent(self, data: Any) -> SmsResult:
        mid = data.get("message_id") if isinstance(data, Mapping) else None
        if not mid:
            raise self.http.error(PermanentError, "accepted the call but gave no message id")
        return SmsResult(str(mid), "sending", "accepted")

    def send(self, to: str, text: str, client_reference: str) -> SmsResult:
        return self._sent(self._call("POST", "sms/send/webservice/single", write=True, json={
            "sender": self.sender, "recipient": [international_mobile(to, plus=False)],
            "message": text, "description": {"summary": "pishkhan", "count_recipient": "1"}})[0])

    def send_template(self, to: str, template: str, params: Mapping[str, str],
                      client_reference: str) -> SmsResult:
        check_tokens(params, self.name, forbidden="\n")
        return self._sent(self._call("POST", "sms/pattern/normal/send", write=True, json={
            "code": template, "sender": self.sender,
            "recipient": international_mobile(to, plus=False), "variable": dict(params)})[0])

    def status(self, provider_ids: list[str]) -> dict[str, SmsResult]:
        found = {}
        for pid in provider_ids:  # one message (bulk) per call; we send to one number
            data, _ = self._call("GET", f"sms/message/show-recipient/message-id/{pid}",
                                 write=False, params={"page": 1, "per_page": 10})
            for row in (data or {}).get("deliveries") or []:
                code = row.get("status") if isinstance(row, Mapping) else None
                if isinstance(code, int):
                    found[pid] = SmsResult(pid, STATES.get(code, "sending"), str(code))
        return found

    def receive(self, cursor: str) -> tuple[list[InboundSms], str]:
        """``GET inbox?page=0..&per_page=100``. IPPanel's panel lists its inbox newest first,
        but the API does not document an order: the read stops early, at a page reaching the
        cursor (the newest ``created_at`` already seen) less the overlap, only when the page
        order shows newest first; otherwise it reads to ``meta.pages``. A first read looks back
        ``FIRST_LOOK_BACK``. Texts to another of the account's lines are counted, not read."""
        r = Resume.parse(cursor)
        seen = parse_utc(r.seen) if r.seen else None
        horizon = seen - self.OVERLAP if seen else now() - self.FIRST_LOOK_BACK
        line = line_key(self.sender)

        def fetch(page: int) -> Page:  # 0-based, as the SDK counts
            data, meta = self._call("GET", "inbox", write=False,
                                    params={"page": page, "per_page": self.INBOX_PAGE})
            pages = meta.get("pages") if isinstance(meta, Mapping) else None
            return Page([i for i in data or [] if isinstance(i, Mapping)],
                        pages if isinstance(pages, int) else None)

        def at(item: Mapping[str, Any]) -> datetime | None:
            return parse_utc(item.get("created_at"))

        def reached(items: list[Any]) -> bool:
            return any((d := at(i)) is not None and d < horizon for i in items)

        pages = read_pages(fetch, at, first=0, start=r.page, limit=self.INBOX_PAGES,
                           size=self.INBOX_PAGE, reached=reached)
        out: dict[str, InboundSms] = {}
        dropped = 0
        for item in pages.rows:
            when = at(item)
            if when is not None and when < horizon:
                continue
            if line_key(item.get("to")) not in ("", line):
                dropped += 1
                continue
            message = _inbound(item)
            out[message.provider_id] = message
        dates = [m.received_at for m in out.values() if m.received_at]
        top = max(dates + [d for d in (parse_utc(r.top),) if d], default=None)
        if pages.next_page is not None:
            log.warning("%s: more than %d new texts in one read; the rest are read next time",
                        self.name, self.INBOX_PAGES * self.INBOX_PAGE)
            after = Resume(r.seen, top.isoformat() if top else "", pages.next_page, True,
                           dropped)
        else:
            newest = max([d for d in (seen, top) if d], default=None)
            after = Resume(newest.isoformat() if newest else "",
                           page=pages.start_next, dropped=dropped)
        # Oldest first; texts of the same second keep the order they were sent in.
        listed = list(out.values())
        if pages.order != "oldest-first":
            listed.reverse()
        messages = sorted(listed, key=lambda m: m.received_at or datetime.min)
        return messages, str(after)

    def inbox_note(self, cursor: str) -> str | None:
        return note(cursor, self.INBOX_PAGES, self.INBOX_PAGE)


def _inbound(item: Mapping[str, Any]) -> InboundSms:
    """An inbox item carries no id of its own, so ours is a digest of what makes a text that
    text: sender, line, time and body. The same text listed again (the overlap, a lost cursor)
    gets the same id and is recorded once; two identical texts from one mobile to one line in
    the same second become one, and one answer covers both."""
    sender, line = str(item.get("from") or ""), str(item.get("to") or "")
    at, body = str(item.get("created_at") or ""), str(item.get("message") or "")
    raw = "|".join((sender, line, at, hashlib.sha256(body.encode()).hexdigest()))
    return InboundSms("ippanel-" + hashlib.sha256(raw.encode()).hexdigest()[:40], sender, body,
                      parse_utc(at), line)

