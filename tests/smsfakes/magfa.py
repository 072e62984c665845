"""Magfa's REST JSON API (sms.magfa.com/api/http/sms/v2): send, statuses/{mid}, mid/{uid}, with
HTTP Basic auth as username/domain. Errors: a non-zero status at the top or per message."""
from __future__ import annotations

import base64
from datetime import datetime
from zoneinfo import ZoneInfo

from werkzeug.wrappers import Request, Response

from . import FakeProvider, json_response

USERNAME, DOMAIN, PASSWORD = "pishkhan", "magfa", "magfa-Secret-99"
PER_MESSAGE = {1, 27, 33, 8}  # refusals of one recipient; the rest refuse the whole call


class FakeMagfa(FakeProvider):
    def __init__(self) -> None:
        super().__init__()
        self.inbox: list[dict] = []  # texts to our lines, dequeued when read

    def citizen_texts(self, sender: str, text: str, line: str = "30001234") -> None:
        self.inbox.append({"body": text, "senderNumber": "98" + sender[-10:],
                           "recipientNumber": line,
                           # Tehran time, when the citizen sent it (now)
                           "date": datetime.now(ZoneInfo("Asia/Tehran")).strftime(
                               "%Y-%m-%d %H:%M:%S")})

    def handle(self, request: Request) -> Response:
        expected = base64.b64encode(f"{USERNAME}/{DOMAIN}:{PASSWORD}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return json_response({"status": 18}, 401)
        code = self.failure()
        if code is not None and code not in PER_MESSAGE:
            return json_response({"status": code})
        parts = request.path.strip("/").split("/")
        if parts[-1] == "send":
            body = request.get_json()
            out = []
            for to, text, uid in zip(body["recipients"], body["messages"], body["uids"]):
                if code is not None or not to.startswith("989"):
                    out.append({"status": code or 1, "recipient": to, "userId": uid})
                    continue
                mid = self.take(to=to, text=text, ref=uid, status=0)
                out.append({"status": 0, "id": int(mid), "userId": uid, "parts": 1,
                            "tariff": 660.0, "alphabet": "UCS2", "recipient": to})
            return json_response({"status": 0, "messages": out})
        if parts[-2] == "messages":  # GET messages/{count}: destructive pull
            count = int(parts[-1])
            taken, self.inbox = self.inbox[:count], self.inbox[count:]
            return json_response({"status": 0, "messages": taken})
        if parts[-2] == "statuses":
            m = self.messages.get(parts[-1])
            return json_response({"status": 0, "dlrs": [
                {"mid": int(parts[-1]), "status": m["status"] if m else -1,
                 "date": "2026-11-22 10:00:00"}]})
        if parts[-2] == "mid":
            found = self.by("ref", int(parts[-1]))
            return json_response({"status": 0, "mid": int(found[0]) if found else -1})
        return json_response({"status": 24}, 404)
