"""IPPanel's older REST API (api2.ippanel.com/api/v1, header ``apikey``): sms/send/webservice/single,
sms/pattern/normal/send, sms/message/show-recipient/message-id/{id} and GET inbox (0-based page,
per_page, newest first, no id per item). Every answer is the envelope
{"status", "code", "error_message", "data"[, "meta"]}; a refusal answers its code as the HTTP
status too, as the SDK's client expects (200, 401, 403, 404, 422, 500 carry a JSON body)."""
from __future__ import annotations

from datetime import datetime, timezone

from werkzeug.wrappers import Request, Response

from . import FakeProvider, json_response

KEY = "ippanel-v1-U0ozZlNBckN4ZFlJTXpz-key"
REASONS = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           422: "Invalid variable value", 500: "Internal Server Error"}


class FakeIppanel(FakeProvider):
    def __init__(self) -> None:
        super().__init__()
        self.inbox: list[dict] = []  # texts to the account's lines, oldest first
        self.newest_first = True  # the panel's order; the API does not document it

    def citizen_texts(self, sender: str, text: str, line: str = "+983000505",
                      at: datetime | None = None) -> None:
        when = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)
        self.inbox.append({"to": line, "message": text, "from": "+98" + sender[-10:],
                           "created_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "type": "normal"})

    def _answer(self, code: int, data: object = None, meta: dict | None = None) -> Response:
        body: dict = {"status": "OK" if code == 200 else "ERROR", "code": code,
                      "error_message": "" if code == 200 else REASONS.get(code, "Error"),
                      "data": data}
        if meta is not None:
            body["meta"] = meta
        return json_response(body, status=code)

    def handle(self, request: Request) -> Response:
        if request.headers.get("apikey") != KEY:
            return self._answer(401)
        code = self.failure()
        if code is not None:
            return self._answer(code)
        path = request.path.strip("/")
        if path.endswith("sms/send/webservice/single"):
            body = request.get_json()
            recipients = body.get("recipient") or []
            if not recipients or not all(r.startswith("989") for r in recipients):
                return self._answer(422, {"recipient": ["invalid"]})
            mid = self.take(to=recipients[0], text=body["message"], status=0)
            return self._answer(200, {"message_id": int(mid)})
        if path.endswith("sms/pattern/normal/send"):
            body = request.get_json()
            if not str(body.get("recipient", "")).startswith("989"):
                return self._answer(422)
            mid = self.take(to=body["recipient"], template=body["code"],
                            params=body.get("variable") or {}, status=0)
            return self._answer(200, {"message_id": int(mid)})
        if "show-recipient/message-id/" in path:
            mid = path.rsplit("/", 1)[-1]
            m = self.messages.get(mid)
            rows = [{"bulk_id": int(mid), "recipient": "+" + m["to"], "status": m["status"]}] \
                if m else []
            return self._answer(200, {"deliveries": rows},
                                {"total": len(rows), "pages": 1, "limit": 10, "page": 1})
        if path.endswith("inbox"):
            if request.method != "GET":
                return self._answer(404)
            try:
                page, size = int(request.args.get("page", 0)), int(request.args.get("per_page",
                                                                                    10))
            except ValueError:
                return self._answer(422)
            if page < 0 or not 1 <= size <= 100:
                return self._answer(422)
            items = list(reversed(self.inbox)) if self.newest_first else list(self.inbox)
            pages = (len(items) + size - 1) // size
            return self._answer(200, items[page * size:(page + 1) * size], {
                "total": len(items), "limit": size, "page": page, "pages": pages,
                "prev": page - 1 if page > 0 else None,
                "next": page + 1 if page + 1 < pages else None})
        return self._answer(404)
