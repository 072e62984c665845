"""IPPanel Edge (edge.ippanel.com/v1/api), key in the ``Authorization`` header, numbers in
E.164 (+98…). ``meta.status`` in the body decides; a refusal names a ``message_code`` whose
first part is an HTTP-like class. Edge takes no client reference, and a pattern (template)
send takes one recipient only. Edge documents no inbox (nor a push of received texts), so this
gateway cannot read texts citizens send; the ``ippanel`` gateway (api2, ``ippanel_v1.py``) can."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.domain.errors import (
    ConfigurationError,
    ExternalError,
    PermanentError,
    TransientError,
)
from connector.plugins.ports import SmsGateway, SmsGatewayCapabilities, SmsResult

from .base import ApiKeyOptions, Options, check_tokens, classify, international_mobile
from .http import HttpClient

CODES: dict[int, tuple[type[ExternalError], str]] = {
    400: (PermanentError, "the request is not valid"),
    401: (ConfigurationError, "the API key is not valid"),
    402: (ConfigurationError, "the account's credit is not enough"),
    403: (ConfigurationError, "the line may not be used by this key"),
    404: (ConfigurationError, "the line or pattern was not found"),
    422: (PermanentError, "the recipient or a parameter is not valid"),
    429: (TransientError, "too many requests"),
}
# message_status in reports (ippanelcom/Edge-Document)
STATES: dict[int, str] = {0: "pending", 1: "pending", 2: "delivered", 3: "temporary-failure",
                          4: "permanent-failure"}


class IppanelEdgeGateway(SmsGateway):
    options_model = ApiKeyOptions
    name = "ippanel-edge"
    capabilities = SmsGatewayCapabilities(supports_status_query=True, supports_template=True)

    def __init__(self, api_key: str, sender: str, url: str = "https://edge.ippanel.com/v1/api",
                 timeouts: tuple[float, float] = (3.0, 10.0)) -> None:
        self.sender = sender
        self.http = HttpClient(self.name, url, timeouts, secrets=[api_key],
                               headers={"Authorization": api_key})

    @classmethod
    def from_options(cls, options: Mapping[str, Any], secrets: Mapping[str, str]
                     ) -> IppanelEdgeGateway:
        o = Options(cls.name, options, secrets, api_key_env="IPPANEL_API_KEY", sender="+983000505")
        opts = o.read(ApiKeyOptions)
        return cls(o.secret(opts.api_key_env, "api_key_env"), opts.sender,
                   opts.address("https://edge.ippanel.com/v1/api"), opts.timeouts)

    def _call(self, method: str, path: str, write: bool, **kwargs: Any) -> Any:
        reply = self.http.call(method, path, write=write, **kwargs)
        body = reply.body if isinstance(reply.body, dict) else {}
        meta = body.get("meta") or {}
        if meta.get("status") is not True:
            raw = str(meta.get("message_code", reply.status))
            head = raw.split("-", 1)[0]
            code = int(head) if head.isdigit() else raw
            raise classify(self.http, code, CODES, reply.status,
                           f" ({raw}: {meta.get('message', '')})")
        return body.get("data")

    def _sent(self, data: Any) -> SmsResult:
        ids = (data or {}).get("message_outbox_ids") or []
        if not ids:
            raise self.http.error(PermanentError, "accepted the call but gave no message id")
        return SmsResult(str(ids[0]), "sending", "accepted")

    def send(self, to: str, text: str, client_reference: str) -> SmsResult:
        return self._sent(self._call("POST", "send", write=True, json={
            "sending_type": "webservice", "from_number": self.sender, "message": text,
            "params": {"recipients": [international_mobile(to)]}}))

    def send_template(self, to: str, template: str, params: Mapping[str, str],
                      client_reference: str) -> SmsResult:
        check_tokens(params, self.name, forbidden="\n")
        return self._sent(self._call("POST", "send", write=True, json={
            "sending_type": "pattern", "from_number": self.sender, "code": template,
            "recipients": [international_mobile(to)], "params": dict(params)}))

    def status(self, provider_ids: list[str]) -> dict[str, SmsResult]:
        found = {}
        for pid in provider_ids:
            rows = self._call("GET", "report/by_bulk", write=False,
                              params={"messages_outbox_id": pid}) or []
            for row in rows:
                code = row.get("message_status")
                if isinstance(code, int):
                    found[pid] = SmsResult(pid, STATES.get(code, "sending"), str(code))
        return found
