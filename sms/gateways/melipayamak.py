"""Melipayamak and Farapayamak (one backend, payamak-panel.com), REST at
https://rest.payamak-panel.com/api/SendSMS/{Method}; username and password go in the body.
``Value`` holds either the message's recId (a large number) or an error code, whatever
``RetStatus`` and the HTTP status say. The panel takes no client reference."""
from __future__ import annotations

import re
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

from .base import LoginOptions, Options, classify, national_mobile
from .http import HttpClient

# Value codes of a refused send (melipayamak.com documents).
CODES: dict[int, tuple[type[ExternalError], str]] = {
    0: (ConfigurationError, "the username or password is wrong"),
    2: (ConfigurationError, "the account's credit is not enough"),
    3: (TransientError, "the daily sending limit is reached"),
    5: (ConfigurationError, "the sender line is not valid"),
    7: (PermanentError, "the text has a filtered word"),
    11: (TransientError, "not sent"),
    14: (PermanentError, "the text has a link"),
    15: (ConfigurationError, "this line needs «لغو11» at the end to send to more than one "
                             "number; use a service line"),
    # BaseServiceNumber (shared service line with an approved text, bodyId)
    -1: (ConfigurationError, "the web service is not enabled for this account"),
    -2: (PermanentError, "only one number may be given"),
    -3: (ConfigurationError, "the service line is not defined"),
    -4: (ConfigurationError, "the bodyId is not approved or does not exist"),
    -5: (ConfigurationError, "the variables do not match the approved text"),
    -6: (TransientError, "an internal error"),
    -7: (ConfigurationError, "the sender number has a problem; ask the provider"),
}
# GetDeliveries2 Value
STATES: dict[int, str] = {
    0: "pending", 1: "delivered", 2: "temporary-failure", 3: "temporary-failure", 8: "pending",
    16: "technical-failure", 35: "permanent-failure", 300: "permanent-failure",
    500: "permanent-failure",
}
MIN_REC_ID = 1000  # anything smaller in Value is an error code


def delivery_state(code: int) -> str:
    return STATES.get(code, "sending")


def parse_value(raw: Any) -> int | None:
    try:
        return int(str(raw).strip())
    except ValueError:
        return None


class MelipayamakGateway(SmsGateway):
    options_model = LoginOptions
    name = "melipayamak"
    default_url = "https://rest.payamak-panel.com/api/SendSMS"
    capabilities = SmsGatewayCapabilities(supports_status_query=True, supports_template=True,
                                          supports_inbox=True)

    def __init__(self, username: str, password: str, sender: str,
                 url: str = "https://rest.payamak-panel.com/api/SendSMS",
                 timeouts: tuple[float, float] = (3.0, 10.0)) -> None:
        self.credentials = {"username": username, "password": password}
        self.sender = sender
        self.http = HttpClient(self.name, url, timeouts, secrets=[password])

    @classmethod
    def from_options(cls, options: Mapping[str, Any], secrets: Mapping[str, str]
                     ) -> MelipayamakGateway:
        o = Options(cls.name, options, secrets, username_env="MELIPAYAMAK_USERNAME",
                    password_env="MELIPAYAMAK_PASSWORD", sender="50004001")
        opts = o.read(LoginOptions)
        return cls(o.secret(opts.username_env, "username_env"),
                   o.secret(opts.password_env, "password_env"), opts.sender,
                   opts.address(cls.default_url), opts.timeouts)

    def _call(self, method: str, write: bool, **fields: Any) -> int:
        reply = self.http.call("POST", method, write=write, data={**self.credentials, **fields})
        body = reply.body if isinstance(reply.body, dict) else {}
        value = parse_value(body.get("Value"))
        if value is None:
            raise classify(self.http, body.get("Value"), CODES, reply.status)
        return value

    def _sent(self, value: int) -> SmsResult:
        if value < MIN_REC_ID:
            raise classify(self.http, value, CODES, 200)
        return SmsResult(str(value), "sending", "ok")

    def send(self, to: str, text: str, client_reference: str) -> SmsResult:
        return self._sent(self._call("SendSMS", True, to=national_mobile(to), **{
            "from": self.sender, "text": text, "isFlash": "false"}))

    def _template(self, template: str, params: Mapping[str, str]) -> tuple[int, str]:
        """The bodyId and the approved text's variables, in order, separated by ';'."""
        if any(";" in v or not v for v in params.values()):
            raise PermanentError(f"{self.name}: a template value is empty or has ';'")
        if not template.isdigit():
            raise ConfigurationError(f"{self.name}: otp_template must be the bodyId (a number)")
        return int(template), ";".join(params.values())

    def send_template(self, to: str, template: str, params: Mapping[str, str],
                      client_reference: str) -> SmsResult:
        body_id, text = self._template(template, params)
        return self._sent(self._call("BaseServiceNumber", True, to=national_mobile(to),
                                     bodyId=body_id, text=text))

    def status(self, provider_ids: list[str]) -> dict[str, SmsResult]:
        found = {}
        for pid in provider_ids:
            code = self._call("GetDeliveries2", False, recId=pid)
            if code >= 0:
                found[pid] = SmsResult(pid, delivery_state(code), str(code))
        return found

    def receive(self, cursor: str) -> tuple[list[InboundSms], str]:
        """``GetMessages`` with ``location = 1`` (received) for our line, the newest 100; the
        cursor is the highest MsgID already seen, so older ones are passed over."""
        reply = self.http.call("POST", "GetMessages", write=False, data={
            **self.credentials, "location": 1, "from": self.sender, "index": 0, "count": 100})
        body = reply.body if isinstance(reply.body, dict) else {}
        if body.get("RetStatus") != 1 or not isinstance(body.get("Data") or [], list):
            raise classify(self.http, parse_value(body.get("Value")), CODES, reply.status)
        seen = int(cursor) if cursor.isdigit() else 0
        out = []
        for item in body.get("Data") or []:
            mid = parse_value(item.get("MsgID")) if isinstance(item, Mapping) else None
            if mid is None or mid <= seen:
                continue
            out.append(InboundSms(str(mid), str(item.get("Sender") or item.get("SenderNumber")
                                                or ""),
                                  str(item.get("Body", "")), _ms_date(item.get("SendDate")),
                                  str(item.get("Receiver") or "")))
        newest = max([seen] + [int(m.provider_id) for m in out])
        return sorted(out, key=lambda m: int(m.provider_id)), str(newest) if newest else ""


def _ms_date(raw: Any) -> datetime | None:
    """``/Date(1715000000000+0330)/`` (ASP.NET JSON) or ISO text, as naive UTC."""
    text = str(raw or "")
    m = re.match(r"/Date\((-?\d+)([+-]\d{4})?\)/", text)
    if m:
        return datetime.fromtimestamp(int(m.group(1)) / 1000, timezone.utc).replace(tzinfo=None)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
