"""Kavenegar's REST API: /v1/{key}/sms/send.json, verify/lookup.json, sms/status.json,
sms/statuslocalmessageid.json. Errors answer with the code in return.status (and as the HTTP
status, as Kavenegar does)."""
from __future__ import annotations

import time

from werkzeug.wrappers import Request, Response

from . import FakeProvider, json_response

KEY = "4A6B6F3D2B7A6E5F4D61-kavenegar-test-key"


class FakeKavenegar(FakeProvider):
    def __init__(self) -> None:
        super().__init__()
        self.inbox: list[dict] = []  # texts citizens sent to our line; "read" once returned

    def citizen_texts(self, sender: str, text: str, line: str = "10004346") -> int:
        mid = int(self.new_id())
        self.inbox.append({"messageid": mid, "message": text, "sender": sender,
                           "receptor": line, "date": int(time.time()), "read": False})
        return mid

    def _answer(self, code: int, entries: list[dict] | None = None) -> Response:
        message = "تایید شد" if code == 200 else "خطا"
        return json_response({"return": {"status": code, "message": message},
                              "entries": entries}, status=code if code != 200 else 200)

    def _entry(self, mid: str) -> dict:
        m = self.messages[mid]
        return {"messageid": int(mid), "localid": m.get("ref"), "status": m["status"],
                "statustext": "در صف ارسال", "receptor": m["to"], "sender": "10004346",
                "date": int(time.time()), "cost": 120, "message": m.get("text", "")}

    def handle(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")[-3:]  # key, scope, method
        if len(parts) != 3 or parts[0] != KEY:
            return self._answer(403)
        code = self.failure()
        if code is not None:
            return self._answer(code)
        method, form = f"{parts[1]}/{parts[2]}", request.form
        if method == "sms/receive.json":  # GET: linenumber, isread; at most 100, marks read
            args = request.args
            if request.method != "GET":
                return self._answer(405)
            if not args.get("linenumber"):
                return self._answer(406)
            unread = args.get("isread", "0") == "0"
            found = [m for m in self.inbox if m["receptor"] == args["linenumber"]
                     and (not unread or not m["read"])][:100]
            for m in found:
                m["read"] = True
            return self._answer(200, [{k: v for k, v in m.items() if k != "read"}
                                      for m in found])
        if method == "sms/send.json":
            if not form.get("receptor", "").startswith("09"):
                return self._answer(411)
            mid = self.take(to=form["receptor"], text=form["message"], ref=form.get("localid"),
                            status=1)
            return self._answer(200, [self._entry(mid)])
        if method == "verify/lookup.json":
            if " " in form.get("token", "") or "_" in form.get("token", ""):
                return self._answer(431)
            mid = self.take(to=form["receptor"], template=form["template"],
                            params={"token": form.get("token")}, status=1)
            return self._answer(200, [self._entry(mid)])
        if method == "sms/status.json":
            ids = form.get("messageid", "").split(",")
            return self._answer(200, [self._entry(i) if i in self.messages else
                                      {"messageid": int(i), "status": 100,
                                       "statustext": "شناسه نامعتبر"} for i in ids])
        if method == "sms/statuslocalmessageid.json":
            found = self.by("ref", form.get("localid"))
            entries = [self._entry(i) for i in found] or [
                {"messageid": 0, "localid": form.get("localid"), "status": 100,
                 "statustext": "شناسه نامعتبر"}]
            return self._answer(200, entries)
        return self._answer(404)
