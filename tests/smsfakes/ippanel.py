"""IPPanel Edge (edge.ippanel.com/v1/api): POST send (webservice or pattern), GET report/by_bulk.
Answers carry meta.status and, on refusal, a message_code such as "422-1"."""
from __future__ import annotations

from werkzeug.wrappers import Request, Response

from . import FakeProvider, json_response

KEY = "edge-OWJkZTk4NzY1NDMyMTA-key"


class FakeIppanelEdge(FakeProvider):
    def _answer(self, code: int, data: object = None) -> Response:
        return json_response({"data": data, "meta": {
            "status": code == 200, "message": "انجام شد" if code == 200 else "خطا",
            "message_parameters": [], "message_code": f"{code}-1"}},
            status=code if code in (401, 429) else 200)

    def handle(self, request: Request) -> Response:
        if request.headers.get("Authorization") != KEY:
            return self._answer(401)
        code = self.failure()
        if code is not None:
            return self._answer(code)
        path = request.path.strip("/")
        if path.endswith("send"):
            body = request.get_json()
            if body["sending_type"] == "pattern":
                if len(body["recipients"]) != 1:
                    return self._answer(422)
                mid = self.take(to=body["recipients"][0], template=body["code"],
                                params=body["params"], status=0)
            else:
                recipients = body["params"]["recipients"]
                if not all(r.startswith("+989") for r in recipients):
                    return self._answer(422)
                mid = self.take(to=recipients[0], text=body["message"], status=0)
            return self._answer(200, {"message_outbox_ids": [int(mid)]})
        if path.endswith("report/by_bulk"):
            mid = request.args.get("messages_outbox_id", "")
            m = self.messages.get(mid)
            rows = [{"message_outbox_id": int(mid), "recipient": m["to"],
                     "message_status": m["status"]}] if m else []
            return self._answer(200, rows)
        return self._answer(404)
