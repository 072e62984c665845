"""Magfa (magfa.com), REST JSON at https://sms.magfa.com/api/http/sms/v2, HTTP Basic auth as
``username/domain`` and the password. The body's ``status`` (0 = accepted), at the top and for
each message, decides. Our reference goes as ``uids`` (a number) and ``mid/{uid}`` finds the
message by it. Codes from the community client (magfa-client/error_codes.py); Magfa's
delivery status codes are not published in our reference and follow the operators' usual
0/1/2/8/16 scheme."""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from connector.domain.errors import (
    ConfigurationError,
    ExternalError,
    PermanentError,
    TransientError,
)
from connector.plugins.ports import InboundSms, SmsGateway, SmsGatewayCapabilities, SmsResult

from .base import LoginOptions, Options, classify, international_mobile, numeric_reference
from .http import HttpClient

CODES: dict[int, tuple[type[ExternalError], str]] = {
    1: (PermanentError, "the recipient number is not valid"),
    8: (TransientError, "advertising may only be sent between 07:00 and 22:00"),
    14: (ConfigurationError, "the account's credit is not enough"),
    15: (TransientError, "the server is busy"),
    18: (ConfigurationError, "the username, domain or password is wrong"),
    23: (TransientError, "the server is busy"),
    24: (PermanentError, "the message id is not valid or older than one day"),
    27: (PermanentError, "the number is on the operator's blacklist"),
    33: (PermanentError, "the subscriber blocked this sender (لغو۱۱)"),
}
STATES: dict[int, str] = {0: "sending", 1: "delivered", 2: "temporary-failure", 8: "pending",
                          16: "technical-failure"}


class MagfaOptions(LoginOptions):
    domain: str = Field(min_length=1, description="the account's domain at Magfa")


class MagfaGateway(SmsGateway):
    options_model = MagfaOptions
    name = "magfa"
    capabilities = SmsGatewayCapabilities(
        supports_client_reference=True, supports_status_query=True,
        supports_status_by_reference=True, supports_inbox=True)

    def __init__(self, username: str, domain: str, password: str, sender: str,
                 url: str = "https://sms.magfa.com/api/http/sms/v2",
                 timeouts: tuple[float, float] = (3.0, 10.0)) -> None:
        self.sender = sender
        self.http = HttpClient(self.name, url, timeouts, secrets=[password],
                               auth=(f"{username}/{domain}", password))

    @classmethod
    def from_options(cls, options: Mapping[str, Any], secrets: Mapping[str, str]
                     ) -> MagfaGateway:
        o = Options(cls.name, options, secrets, username_env="MAGFA_USERNAME",
                    password_env="MAGFA_PASSWORD", domain="magfa", sender="3000xxxx")
        opts = o.read(MagfaOptions)
        return cls(o.secret(opts.username_env, "username_env"), opts.domain,
                   o.secret(opts.password_env, "password_env"), opts.sender,
                   opts.address("https://sms.magfa.com/api/http/sms/v2"), opts.timeouts)

    def _call(self, method: str, path: str, write: bool, **kwargs: Any) -> dict[str, Any]:
        reply = self.http.call(method, path, write=write, **kwargs)
        body = reply.body if isinstance(reply.body, dict) else {}
        if body.get("status") != 0:
            raise classify(self.http, body.get("status"), CODES, reply.status)
        return body

    def send(self, to: str, text: str, client_reference: str) -> SmsResult:
        body = self._call("POST", "send", write=True, json={
            "senders": [self.sender], "recipients": [international_mobile(to, plus=False)],
            "messages": [text], "uids": [numeric_reference(client_reference)]})
        message = (body.get("messages") or [{}])[0]
        if message.get("status") != 0:
            raise classify(self.http, message.get("status"), CODES, 200)
        return SmsResult(str(message["id"]), "sending", "0")

    def status(self, provider_ids: list[str]) -> dict[str, SmsResult]:
        found = {}
        for pid in provider_ids:
            for dlr in self._call("GET", f"statuses/{pid}", write=False).get("dlrs") or []:
                code = dlr.get("status")
                if isinstance(code, int) and code >= 0:
                    found[str(dlr["mid"])] = SmsResult(str(dlr["mid"]),
                                                       STATES.get(code, "sending"), str(code))
        return found

    def find(self, client_reference: str) -> SmsResult | None:
        body = self._call("GET", f"mid/{numeric_reference(client_reference)}", write=False)
        mid = body.get("mid")
        if not isinstance(mid, int) or mid <= 0:
            return None
        return self.status([str(mid)]).get(str(mid)) or SmsResult(str(mid), "sending", "0")

    def receive(self, cursor: str) -> tuple[list[InboundSms], str]:
        """``GET messages/{count}``: up to 100 texts to our lines, which Magfa then drops from
        its queue (so no cursor). Magfa gives them no id: ours is a digest of sender, line,
        time and text, so a text read twice (a crash before it was recorded) counts once."""
        out = []
        for m in self._call("GET", "messages/100", write=False).get("messages") or []:
            if not isinstance(m, Mapping) or str(m.get("recipientNumber", "")) not in (
                    "", self.sender):
                continue
            raw = "|".join(str(m.get(k, "")) for k in ("senderNumber", "recipientNumber",
                                                      "date", "body"))
            out.append(InboundSms("magfa-" + hashlib.sha256(raw.encode()).hexdigest()[:40],
                                  str(m.get("senderNumber", "")), str(m.get("body", "")),
                                  _tehran(m.get("date")), str(m.get("recipientNumber", ""))))
        return out, cursor


def _tehran(raw: Any) -> datetime | None:
    """``yyyy-MM-dd HH:mm:ss`` in Tehran time (no offset given; Iran keeps UTC+03:30)."""
    try:
        return datetime.strptime(str(raw), "%Y-%m-%d %H:%M:%S") - timedelta(hours=3, minutes=30)
    except ValueError:
        return None
