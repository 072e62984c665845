"""Kavenegar (kavenegar.com): REST at https://api.kavenegar.com/v1/{API-KEY}/{scope}/{method}.json.
The key is part of the URL path, so it is masked in every message. The body's
``return.status`` is the answer (200 = accepted), whatever the HTTP status."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from pydantic import Field

from connector.domain.errors import (
    ConfigurationError,
    ExternalError,
    PermanentError,
    TransientError,
)
from connector.plugins.ports import InboundSms, SmsGateway, SmsGatewayCapabilities, SmsResult

from .base import ApiKeyOptions, Options, check_tokens, classify, national_mobile, numeric_reference
from .http import HttpClient, Reply

# return.status codes (Kavenegar's REST documentation). Only 200 and 431 are confirmed by our
# reference notes; the others follow the provider's published table.
CODES: dict[int, tuple[type[ExternalError], str]] = {
    400: (PermanentError, "parameters are incomplete"),
    401: (ConfigurationError, "the account is disabled"),
    402: (TransientError, "the operation failed"),
    403: (ConfigurationError, "the API key is not valid"),
    404: (ConfigurationError, "no such method"),
    405: (ConfigurationError, "wrong HTTP method"),
    406: (PermanentError, "a required parameter is missing"),
    407: (ConfigurationError, "the key has no access to this"),
    409: (TransientError, "the server cannot answer now"),
    411: (PermanentError, "the receptor is not valid"),
    412: (ConfigurationError, "the sender line is not valid"),
    413: (PermanentError, "the message is empty or too long"),
    414: (PermanentError, "too many receptors"),
    416: (ConfigurationError, "this server's IP address is not allowed"),
    417: (PermanentError, "the date is not valid"),
    418: (ConfigurationError, "the account's credit is not enough"),
    419: (PermanentError, "array lengths do not match"),
    422: (PermanentError, "the text has characters that are not allowed"),
    424: (ConfigurationError, "the template was not found"),
    426: (ConfigurationError, "this method needs a higher plan"),
    428: (ConfigurationError, "the template cannot be sent as a call"),
    431: (PermanentError, "a token has a space, newline, underscore or separator"),
    432: (ConfigurationError, "the template has no {token} parameter"),
}
# entries[].status
STATES: dict[int, str] = {
    1: "sending", 2: "sending", 4: "pending", 5: "pending", 6: "temporary-failure",
    10: "delivered", 11: "temporary-failure", 13: "technical-failure", 14: "permanent-failure",
}
UNKNOWN_ID = 100


class KavenegarOptions(ApiKeyOptions):
    inbound_token_env: str | None = Field(
        None, description="the environment variable holding the secret part of the address "
                          "Kavenegar pushes received texts to (/api/v1/sms/inbound/ORG/TOKEN)")


class KavenegarGateway(SmsGateway):
    options_model = KavenegarOptions
    name = "kavenegar"
    capabilities = SmsGatewayCapabilities(
        supports_client_reference=True, supports_status_query=True, supports_template=True,
        supports_status_by_reference=True, supports_inbox=True, supports_inbound_push=True)

    def __init__(self, api_key: str, sender: str, url: str = "https://api.kavenegar.com/v1",
                 timeouts: tuple[float, float] = (3.0, 10.0),
                 push_token: str | None = None) -> None:
        self.sender = sender
        self.push_token = push_token
        self.http = HttpClient(self.name, f"{url}/{api_key}", timeouts, secrets=[api_key])

    @classmethod
    def from_options(cls, options: Mapping[str, Any], secrets: Mapping[str, str]
                     ) -> KavenegarGateway:
        o = Options(cls.name, options, secrets, api_key_env="KAVENEGAR_API_KEY", sender="10004346",
                    inbound_token_env="KAVENEGAR_INBOUND_TOKEN")
        opts = o.read(KavenegarOptions)
        token = o.secret(opts.inbound_token_env, "inbound_token_env") \
            if opts.inbound_token_env is not None else None
        return cls(o.secret(opts.api_key_env, "api_key_env"), opts.sender,
                   opts.address("https://api.kavenegar.com/v1"), opts.timeouts, token)

    def _call(self, path: str, data: Mapping[str, Any], write: bool,
              method: str = "POST") -> list[dict[str, Any]]:
        args = {"params": data} if method == "GET" else {"data": data}
        reply: Reply = self.http.call(method, path, write=write, **args)
        ret = reply.body.get("return", {}) if isinstance(reply.body, dict) else {}
        code = ret.get("status")
        if code != 200:
            raise classify(self.http, code, CODES, reply.status,
                           f" ({ret.get('message', '')})" if ret.get("message") else "")
        entries = reply.body.get("entries") or []
        return entries if isinstance(entries, list) else [entries]

    @staticmethod
    def _result(entry: Mapping[str, Any]) -> SmsResult:
        code = int(entry.get("status", 0))
        return SmsResult(str(entry["messageid"]), STATES.get(code, "sending"),
                         f"{code} {entry.get('statustext', '')}".strip())

    def send(self, to: str, text: str, client_reference: str) -> SmsResult:
        entries = self._call("sms/send.json", {
            "receptor": national_mobile(to), "sender": self.sender, "message": text,
            "localid": numeric_reference(client_reference)}, write=True)
        return self._result(entries[0])

    def send_template(self, to: str, template: str, params: Mapping[str, str],
                      client_reference: str) -> SmsResult:
        values = list(params.values())
        check_tokens(dict(zip(("token", "token2", "token3"), values)), self.name,
                     forbidden=" _\n")
        data = {"receptor": national_mobile(to), "template": template}
        data.update({k: v for k, v in zip(("token", "token2", "token3"), values)})
        return self._result(self._call("verify/lookup.json", data, write=True)[0])

    def status(self, provider_ids: list[str]) -> dict[str, SmsResult]:
        entries = self._call("sms/status.json", {"messageid": ",".join(provider_ids)},
                             write=False)
        return {str(e["messageid"]): self._result(e) for e in entries
                if int(e.get("status", UNKNOWN_ID)) != UNKNOWN_ID}

    def find(self, client_reference: str) -> SmsResult | None:
        entries = self._call("sms/statuslocalmessageid.json",
                             {"localid": numeric_reference(client_reference)}, write=False)
        found = [e for e in entries if int(e.get("status", UNKNOWN_ID)) != UNKNOWN_ID]
        return self._result(found[0]) if found else None

    def receive(self, cursor: str) -> tuple[list[InboundSms], str]:
        """``sms/receive.json?linenumber=…&isread=0``: up to 100 unread texts of our line,
        which the provider then marks read; so no cursor is needed (a text read twice after a
        crash is recorded once by its messageid)."""
        entries = self._call("sms/receive.json", {"linenumber": self.sender, "isread": 0},
                             write=False, method="GET")
        out = []
        for e in entries:
            if not isinstance(e, Mapping) or "messageid" not in e:
                continue
            at = None
            if isinstance(e.get("date"), int):  # unix time
                at = datetime.fromtimestamp(e["date"], timezone.utc).replace(tzinfo=None)
            out.append(InboundSms(str(e["messageid"]), str(e.get("sender", "")),
                                  str(e.get("message", "")), at, str(e.get("receptor", ""))))
        return out, cursor

    def parse_push(self, fields: Mapping[str, str]) -> list[InboundSms]:
        """The panel's "forward received texts to a URL": ``messageid``, ``from``, ``to`` and
        ``message`` as query or form fields, one text a call."""
        mid, sender = str(fields.get("messageid", "")), str(fields.get("from", ""))
        if not mid or not sender or "message" not in fields:
            raise PermanentError(f"{self.name}: a pushed text needs messageid, from and message")
        return [InboundSms(mid, sender, str(fields["message"]), None, str(fields.get("to", "")))]
