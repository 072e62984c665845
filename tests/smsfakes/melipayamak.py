"""Melipayamak's REST API (rest.payamak-panel.com/api/SendSMS): SendSMS, BaseServiceNumber,
GetDeliveries2. The answer is always HTTP 200 with Value = the recId or an error code."""
from __future__ import annotations

import time

from werkzeug.wrappers import Request, Response

from . import FakeProvider, json_response

USERNAME, PASSWORD = "09120000000", "meli-Pa55-secret"


class FakeMelipayamak(FakeProvider):
    def __init__(self) -> None:
        super().__init__()
        self.inbox: list[dict] = []  # texts citizens sent to our line, newest last

    def citizen_texts(self, sender: str, text: str, line: str = "50004001") -> int:
        mid = int(self.new_id())
        self.inbox.append({"MsgID": mid, "Body": text, "Sender": sender, "Receiver": line,
                           "SendDate": f"/Date({int(time.time() * 1000)}+0330)/",
                           "IsRead": False, "Parts": 1})
        return mid

    def _answer(self, value: object) -> Response:
        ok = isinstance(value, str) and len(value) > 4
        return json_response({"Value": str(value), "RetStatus": 1 if ok else 0,
                              "StrRetStatus": "Ok" if ok else "Error"})

    def new_id(self) -> str:
        return str(5161000000000 + int(super().new_id()))

    def handle(self, request: Request) -> Response:
        form = request.form
        if (form.get("username"), form.get("password")) != (USERNAME, PASSWORD):
            return self._answer(0)
        code = self.failure()
        if code is not None:
            return self._answer(code)
        method = request.path.rsplit("/", 1)[-1]
        if method == "SendSMS":
            return self._answer(self.take(to=form["to"], text=form["text"], status=0))
        if method == "BaseServiceNumber":
            values = form["text"].split(";")
            return self._answer(self.take(to=form["to"], template=form["bodyId"], status=0,
                                          params=values))
        if method == "GetMessages":  # location 1 = received; newest first, index/count paging
            if form.get("location") != "1":
                return self._answer(-1)
            mine = [m for m in reversed(self.inbox)
                    if not form.get("from") or m["Receiver"] == form["from"]]
            index, count = int(form.get("index", 0)), min(int(form.get("count", 100)), 100)
            return json_response({"Value": str(len(mine)), "RetStatus": 1, "StrRetStatus": "Ok",
                                  "Data": mine[index:index + count]})
        if method == "GetDeliveries2":
            m = self.messages.get(form.get("recId", ""))
            return self._answer(m["status"] if m else -1)
        return self._answer(-1)
