"""SMS.ir's REST JSON API (api.sms.ir/v1): send/bulk, send/verify, send/{messageId}. Success is
status 1 in the body; refusals carry their code in status, over HTTP 200, 400, 401 or 429."""
from __future__ import annotations

import time

from werkzeug.wrappers import Request, Response

from . import FakeProvider, json_response

KEY = "smsir-Qm9vYmFyYmF6cXV4-key"
HTTP = {10: 401, 20: 429, 0: 500}


class FakeSmsIr(FakeProvider):
    def __init__(self) -> None:
        super().__init__()
        self.inbox: list[dict] = []  # today's texts to the account's lines, oldest first

    def citizen_texts(self, sender: str, text: str, line: str = "30007732000000") -> int:
        rid = int(self.new_id())
        mobile = int(sender[-10:]) if sender[-10:].isdigit() else sender  # 9121234567
        self.inbox.append({"receiveReturnId": rid, "messageText": text, "number": int(line),
                           "mobile": mobile, "receivedDateTime": int(time.time())})
        return rid

    def _answer(self, code: int, data: object = None) -> Response:
        return json_response({"status": code, "message": "موفق" if code == 1 else "ناموفق",
                              "data": data}, status=200 if code == 1 else HTTP.get(code, 400))

    def handle(self, request: Request) -> Response:
        if request.headers.get("X-API-KEY") != KEY:
            return self._answer(10)
        code = self.failure()
        if code is not None:
            return self._answer(code)
        path = request.path.strip("/")
        if path.endswith("send/bulk"):
            body = request.get_json()
            if len(body["mobiles"]) > 100:
                return self._answer(105)
            ids = [int(self.take(to=m, text=body["messageText"], status=3))
                   for m in body["mobiles"]]
            return self._answer(1, {"packId": "9f1c", "messageIds": ids, "cost": len(ids)})
        if path.endswith("send/verify"):
            body = request.get_json()
            params = body.get("parameters")
            if not isinstance(params, list):
                return json_response({"status": 0, "message": "bad request"}, 400)
            if any(len(p["value"]) > 25 for p in params):
                return self._answer(114)
            mid = self.take(to=body["mobile"], template=body["templateId"], status=3,
                            params={p["name"]: p["value"] for p in params})
            return self._answer(1, {"messageId": int(mid), "cost": 1})
        if path.endswith("receive/live"):
            size = min(int(request.args.get("pageSize", 100)), 100)
            number = int(request.args.get("pageNumber", 1))
            items = list(self.inbox)
            if request.args.get("sortByNewest") == "true":
                items.reverse()
            return self._answer(1, items[(number - 1) * size:number * size])
        if "send/" in path:
            mid = path.rsplit("/", 1)[-1]
            if mid not in self.messages:
                return self._answer(1, None)
            m = self.messages[mid]
            return self._answer(1, {"messageId": int(mid), "mobile": m["to"],
                                    "deliveryState": m["status"]})
        return self._answer(0)
