"""Ghasedak's REST JSON API (gw.ghasedak.me/Rest/api/v1/WebService): SendSingleSMS, SendOtpSMS,
CheckSmsStatus. Refusals answer isSuccess=false with a statusCode, over HTTP 200 or 4xx."""
from __future__ import annotations

from werkzeug.wrappers import Request, Response

from . import FakeProvider, json_response

KEY = "ghasedak-7f3c9a2e5b1d4c6a8e0f"


class FakeGhasedak(FakeProvider):
    def _answer(self, code: int, data: object = None) -> Response:
        return json_response({"isSuccess": code == 200, "statusCode": code,
                              "message": "با موفقیت انجام شد" if code == 200 else "خطا",
                              "data": data}, status=200 if code in (200, 418, 422) else code)

    def _item(self, mid: str) -> dict:
        m = self.messages[mid]
        return {"messageId": mid, "clientReferenceId": m["ref"], "receptor": m["to"],
                "status": m["status"], "cost": 1}

    def handle(self, request: Request) -> Response:
        if request.headers.get("ApiKey") != KEY:
            return self._answer(401)
        code = self.failure()
        if code is not None:
            return self._answer(code)
        method = request.path.rsplit("/", 1)[-1]
        if method == "SendSingleSMS":
            body = request.get_json()
            if not body.get("receptor", "").startswith("09"):
                return self._answer(406)
            mid = self.take(to=body["receptor"], text=body["message"],
                            ref=body.get("clientReferenceId"), status=0)
            return self._answer(200, self._item(mid))
        if method == "SendOtpSMS":
            body = request.get_json()
            inputs = body.get("inputs", [])
            if any(" " in i["value"] or "_" in i["value"] for i in inputs):
                return self._answer(422)
            r = body["receptors"][0]
            mid = self.take(to=r["mobile"], ref=r.get("clientReferenceId"), status=0,
                            template=body["templateName"],
                            params={i["param"]: i["value"] for i in inputs})
            return self._answer(200, {"items": [self._item(mid)]})
        if method == "CheckSmsStatus":
            ids = request.args.get("Ids", "").split(",")
            if request.args.get("Type") == "2":
                found = [mid for ref in ids for mid in self.by("ref", ref)]
            else:
                found = [i for i in ids if i in self.messages]
            return self._answer(200, [self._item(i) for i in found])
        return self._answer(404)
