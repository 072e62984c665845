"""SMS.ir (sms.ir), REST JSON at https://api.sms.ir/v1, key in the ``X-API-KEY`` header. Success
is ``status: 1`` in the body. It takes no client reference, so a send that timed out cannot be
looked up: the outbox leaves it to the sweeper or an admin instead of risking a second SMS."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from connector.domain.errors import (
    ConfigurationError,
    ExternalError,
    PermanentError,
    TransientError,
)
from connector.plugins.ports import InboundSms, SmsGateway, SmsGatewayCapabilities, SmsResult

from .base import ApiKeyOptions, Options, check_tokens, classify, national_mobile
from .http import HttpClient

# Body ``status`` codes (3rd-party notes, fstarlike/smsir-agent-skill) and the HTTP statuses
# of sms.ir's API documents.
CODES: dict[int, tuple[type[ExternalError], str]] = {
    0: (TransientError, "a server error"),
    10: (ConfigurationError, "the API key is not valid"),
    20: (TransientError, "too many requests"),
    101: (ConfigurationError, "the line is not valid"),
    102: (ConfigurationError, "the account's credit is not enough"),
    105: (PermanentError, "more than 100 mobiles in one call"),
    111: (PermanentError, "the mobile number is not valid"),
    113: (ConfigurationError, "the template was not found"),
    114: (PermanentError, "a template parameter is longer than 25 characters"),
    115: (PermanentError, "the number is on the blacklist"),
}
# deliveryState of GET send/{messageId}
STATES: dict[int, str] = {
    1: "delivered", 2: "temporary-failure", 3: "sending", 4: "technical-failure", 5: "pending",
    6: "technical-failure", 7: "permanent-failure",
}


class SmsIrGateway(SmsGateway):
    options_model = ApiKeyOptions
    name = "smsir"
    capabilities = SmsGatewayCapabilities(supports_status_query=True, supports_template=True,
                                          supports_inbox=True)
    INBOX_PAGE, INBOX_PAGES = 100, 10

    def __init__(self, api_key: str, sender: str, url: str = "https://api.sms.ir/v1",
                 timeouts: tuple[float, float] = (3.0, 10.0)) -> None:
        self.sender = sender
        self.http = HttpClient(self.name, url, timeouts, secrets=[api_key],
                               headers={"X-API-KEY": api_key})

    @classmethod
    def from_options(cls, options: Mapping[str, Any], secrets: Mapping[str, str]
                     ) -> SmsIrGateway:
        o = Options(cls.name, options, secrets, api_key_env="SMSIR_API_KEY",
                    sender="30007732000000")
        opts = o.read(ApiKeyOptions)
        return cls(o.secret(opts.api_key_env, "api_key_env"), opts.sender,
                   opts.address("https://api.sms.ir/v1"), opts.timeouts)

    def _call(self, method: str, path: str, write: bool, **kwargs: Any) -> Any:
        reply = self.http.call(method, path, write=write, **kwargs)
        body = reply.body if isinstance(reply.body, dict) else {}
        if body.get("status") != 1:
            raise classify(self.http, body.get("status"), CODES, reply.status,
                           f" ({body['message']})" if body.get("message") else "")
        return body.get("data") or {}

    def _sent(self, data: Mapping[str, Any]) -> SmsResult:
        ids = data.get("messageIds") or [data.get("messageId")]
        if not ids or not ids[0]:
            # SMS.ir may answer success with a 0/null id for a number it dropped.
            raise self.http.error(PermanentError, "accepted the call but gave no message id")
        return SmsResult(str(ids[0]), "sending", "1")

    def send(self, to: str, text: str, client_reference: str) -> SmsResult:
        return self._sent(self._call("POST", "send/bulk", write=True, json={
            "lineNumber": self.sender, "messageText": text, "mobiles": [national_mobile(to)]}))

    def send_template(self, to: str, template: str, params: Mapping[str, str],
                      client_reference: str) -> SmsResult:
        check_tokens(params, self.name, max_length=25)
        if not template.isdigit():
            raise ConfigurationError(f"{self.name}: otp_template must be the template's number")
        return self._sent(self._call("POST", "send/verify", write=True, json={
            "mobile": national_mobile(to), "templateId": int(template),
            "parameters": [{"name": k, "value": v} for k, v in params.items()]}))

    def status(self, provider_ids: list[str]) -> dict[str, SmsResult]:
        found: dict[str, SmsResult] = {}
        for pid in provider_ids:  # one message per call
            data = self._call("GET", f"send/{pid}", write=False)
            state = data.get("deliveryState")
            if isinstance(state, int):
                found[pid] = SmsResult(pid, STATES.get(state, "sending"), str(state))
        return found

    def _page(self, number: int) -> list[Any]:
        # The success body carries the list itself in ``data``; an empty page is [] (or null).
        reply = self.http.call("GET", "receive/live", write=False, params={
            "pageNumber": number, "pageSize": self.INBOX_PAGE, "sortByNewest": "false"})
        body = reply.body if isinstance(reply.body, dict) else {}
        if body.get("status") != 1:
            raise classify(self.http, body.get("status"), CODES, reply.status)
        data = body.get("data")
        return data if isinstance(data, list) else []

    def receive(self, cursor: str) -> tuple[list[InboundSms], str]:
        """``receive/live``: today's texts to our lines (read or not), oldest first, a page of
        100 at a time. The cursor is the highest ``receiveReturnId`` already recorded; texts to
        another of the account's lines are left alone."""
        seen = int(cursor) if cursor.isdigit() else 0
        out: list[InboundSms] = []
        for number in range(1, self.INBOX_PAGES + 1):
            page = self._page(number)
            for item in page:
                rid = item.get("receiveReturnId") if isinstance(item, Mapping) else None
                if not isinstance(rid, int) or rid <= seen:
                    continue
                if str(item.get("number", "")) not in ("", self.sender):
                    continue
                at = item.get("receivedDateTime")
                when = datetime.fromtimestamp(at, timezone.utc).replace(tzinfo=None) \
                    if isinstance(at, int) else None
                out.append(InboundSms(str(rid), str(item.get("mobile", "")),
                                      str(item.get("messageText", "")), when,
                                      str(item.get("number", ""))))
            if len(page) < self.INBOX_PAGE:
                break
        newest = max([seen] + [int(m.provider_id) for m in out])
        return out, str(newest) if newest else ""
