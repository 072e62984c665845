"""Ghasedak (ghasedak.me), the current REST JSON API at
https://gw.ghasedak.me/Rest/api/v1/WebService/, key in the ``ApiKey`` header. Every answer
carries ``isSuccess`` and ``statusCode`` in the body; that, not the HTTP status, decides.
Our reference travels as ``clientReferenceId`` and CheckSmsStatus finds a message by it
(``Type=2``).

Texts to our line are read with ``GetReceivedSmsesPaging`` over a date window (see ``receive``);
Ghasedak documents no push of received texts, so they are polled."""
from __future__ import annotations

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
    line_key,
    national_mobile,
    parse_utc,
)
from .http import HttpClient
from .inbox import Page, Pages, Resume, note, read_pages

log = logging.getLogger(__name__)

# statusCode in the body of a refused call.
CODES: dict[int, tuple[type[ExternalError], str]] = {
    400: (PermanentError, "the request was not valid"),
    401: (ConfigurationError, "the API key is not valid"),
    403: (ConfigurationError, "access denied (IP address or permission)"),
    404: (ConfigurationError, "the line or template was not found"),
    406: (PermanentError, "the receptor is not valid"),
    418: (ConfigurationError, "the account's credit is not enough"),
    422: (PermanentError, "a template parameter is not valid"),
    429: (TransientError, "too many requests"),
    503: (TransientError, "the service is busy"),
}
# SendStatus (enums/send_status.py in Ghasedak's SDK), 0–17.
STATES: dict[int, str] = {
    1: "permanent-failure", 6: "technical-failure", 8: "permanent-failure",
    10: "pending", 11: "pending", 12: "permanent-failure", 13: "temporary-failure",
    14: "delivered", 15: "permanent-failure", 16: "temporary-failure",
}


class GhasedakGateway(SmsGateway):
    options_model = ApiKeyOptions
    name = "ghasedak"
    capabilities = SmsGatewayCapabilities(
        supports_client_reference=True, supports_status_query=True, supports_template=True,
        supports_status_by_reference=True, supports_inbox=True)
    # Inbox reads: pages of 100 (the API allows up to 200), at most 20 pages a read; the window
    # starts this long before the newest text seen, because a text can be listed after a read
    # with a receiveDate earlier than that read (operator delays), and a first read looks back
    # one day.
    INBOX_PAGE, INBOX_PAGES = 100, 20
    OVERLAP, FIRST_LOOK_BACK = timedelta(minutes=30), timedelta(days=1)

    def __init__(self, api_key: str, sender: str,
                 url: str = "https://gw.ghasedak.me/Rest/api/v1/WebService",
                 timeouts: tuple[float, float] = (3.0, 10.0)) -> None:
        self.sender = sender
        self.http = HttpClient(self.name, url, timeouts, secrets=[api_key],
                               headers={"ApiKey": api_key})

    @classmethod
    def from_options(cls, options: Mapping[str, Any], secrets: Mapping[str, str]
                     ) -> GhasedakGateway:
        o = Options(cls.name, options, secrets, api_key_env="GHASEDAK_API_KEY", sender="30005088")
        opts = o.read(ApiKeyOptions)
        return cls(o.secret(opts.api_key_env, "api_key_env"), opts.sender,
                   opts.address("https://gw.ghasedak.me/Rest/api/v1/WebService"), opts.timeouts)

    def _call(self, method: str, path: str, write: bool, **kwargs: Any) -> Any:
        reply = self.http.call(method, path, write=write, **kwargs)
        body = reply.body if isinstance(reply.body, dict) else {}
        if body.get("isSuccess") is not True:
            code = body.get("statusCode", reply.status)
            raise classify(self.http, code, CODES, reply.status,
                           f" ({body['message']})" if body.get("message") else "")
        return body.get("data")

    @staticmethod
    def _result(item: Mapping[str, Any]) -> SmsResult:
        code = item.get("status")
        state = STATES.get(code, "sending") if isinstance(code, int) else "sending"
        return SmsResult(str(item["messageId"]), state, "" if code is None else str(code))

    def send(self, to: str, text: str, client_reference: str) -> SmsResult:
        data = self._call("POST", "SendSingleSMS", write=True, json={
            "lineNumber": self.sender, "receptor": national_mobile(to), "message": text,
            "clientReferenceId": client_reference})
        return self._result(data)

    def send_template(self, to: str, template: str, params: Mapping[str, str],
                      client_reference: str) -> SmsResult:
        check_tokens(params, self.name, forbidden=" _\n")
        data = self._call("POST", "SendOtpSMS", write=True, json={
            "receptors": [{"mobile": national_mobile(to), "clientReferenceId": client_reference}],
            "templateName": template,
            "inputs": [{"param": k, "value": v} for k, v in params.items()]})
        return self._result(data["items"][0])

    def _check(self, ids: list[str], by_reference: bool) -> list[dict[str, Any]]:
        data = self._call("GET", "CheckSmsStatus", write=False,
                          params={"Ids": ",".join(ids), "Type": 2 if by_reference else 1})
        return data if isinstance(data, list) else []

    def status(self, provider_ids: list[str]) -> dict[str, SmsResult]:
        return {str(i["messageId"]): self._result(i) for i in self._check(provider_ids, False)}

    def find(self, client_reference: str) -> SmsResult | None:
        items = self._check([client_reference], True)
        return self._result(items[0]) if items else None

    def _inbox_pages(self, is_read: bool, start: datetime, end: datetime, page: int
                     ) -> Pages:
        """The items of one IsRead value in the window from ``page`` (1-based) on. Whatever
        ``hasNextPage`` says (it may be missing), a full page may have more after it."""
        def fetch(index: int) -> Page:
            data = self._call("GET", "GetReceivedSmsesPaging", write=False, params={
                "LineNumber": self.sender, "IsRead": "true" if is_read else "false",
                "StartDate": _iso(start), "EndDate": _iso(end), "PageIndex": index,
                "PageSize": self.INBOX_PAGE})
            data = data if isinstance(data, Mapping) else {}
            total = data.get("totalPages")
            return Page([i for i in data.get("items") or [] if isinstance(i, Mapping)],
                        total if isinstance(total, int) else None)

        return read_pages(fetch, lambda i: parse_utc(i.get("receiveDate")), first=1,
                          start=page, limit=self.INBOX_PAGES, size=self.INBOX_PAGE)

    def receive(self, cursor: str) -> tuple[list[InboundSms], str]:
        """``GetReceivedSmsesPaging`` for our line from a little before the newest
        ``receiveDate`` already seen (the cursor) to an hour past our clock, page by page.
        ``IsRead`` is a filter and reading does not change it here, so both values are read: a
        text someone opened in Ghasedak's panel is still answered. Texts in the overlap come
        back again; the core records each ``id`` once. A read cut at the page cap keeps its
        window and where it stopped in the cursor (the window's end narrowed to the oldest
        text read when the pages come newest first), and the next read goes on from there."""
        r = Resume.parse(cursor)
        seen = parse_utc(r.seen) if r.seen else None
        start = seen - self.OVERLAP if seen else now() - self.FIRST_LOOK_BACK
        end = now() + timedelta(hours=1)  # the provider's clock may run ahead of ours
        phase, page = 0, 1
        if r.cut:
            end_text, _, phase_text = r.extra.partition("~")
            end = parse_utc(end_text) or end
            phase, page = (1, r.page) if phase_text == "1" else (0, r.page)
        found: dict[str, InboundSms] = {}
        dropped, line = 0, line_key(self.sender)
        after: Resume | None = None
        for is_read in (False, True)[phase:]:
            pages = self._inbox_pages(is_read, start, end, page)
            for item in pages.rows:
                if item.get("id") is None:
                    continue
                if line_key(item.get("lineNumber")) not in ("", line):
                    dropped += 1
                    continue
                found[str(item["id"])] = InboundSms(
                    str(item["id"]), str(item.get("sender") or ""),
                    str(item.get("message") or ""), parse_utc(item.get("receiveDate")),
                    str(item.get("lineNumber") or ""))
            if pages.next_page is not None:
                log.warning("%s: more than %d texts in one read; the rest are read next time",
                            self.name, self.INBOX_PAGES * self.INBOX_PAGE)
                dates = [parse_utc(i.get("receiveDate")) for i in pages.rows]
                oldest = min([d for d in dates if d], default=None)
                narrow = pages.order == "newest-first" and oldest is not None and oldest < end
                after = Resume(r.seen, "", 1 if narrow else pages.next_page, True, dropped,
                               f"{_iso(oldest if narrow else end)}~{int(is_read)}")
                break
            page = 1
        dates = [m.received_at for m in found.values() if m.received_at]
        top = max(dates + [d for d in (parse_utc(r.top),) if d], default=None)
        if after is not None:
            after = after.but(top=_iso(top) if top else "")
        else:
            newest = max([d for d in (seen, top) if d], default=None)
            after = Resume(_iso(newest) if newest else "", dropped=dropped)
        messages = sorted(found.values(), key=lambda m: m.received_at or datetime.min)
        return messages, str(after)

    def inbox_note(self, cursor: str) -> str | None:
        return note(cursor, self.INBOX_PAGES, self.INBOX_PAGE)


def _iso(value: datetime) -> str:
    """Naive UTC as the API's date-time (ISO 8601 with Z)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"

