"""Ghasedak's REST JSON API (gw.ghasedak.me/Rest/api/v1/WebService): SendSingleSMS, SendOtpSMS,
CheckSmsStatus, and the inbox: GetReceivedSmses (unread, no paging) and GetReceivedSmsesPaging
(LineNumber, IsRead, StartDate/EndDate, 1-based PageIndex, PageSize up to 200). Refusals answer
isSuccess=false with a statusCode, over HTTP 200 or 4xx."""
from __future__ import annotations

from datetime import datetime, timezone

from werkzeug.wrappers import Request, Response

from . import FakeProvider, json_response

KEY = "ghasedak-7f3c9a2e5b1d4c6a8e0f"


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


class FakeGhasedak(FakeProvider):
    def __init__(self) -> None:
        super().__init__()
        self.inbox: list[dict] = []  # texts to the account's lines, oldest first
        self.newest_first = False  # the order of a page; not documented
        self.paging_flags = True  # hasNextPage and totalPages in the answer (may be missing)

    def citizen_texts(self, sender: str, text: str, line: str = "30005088",
                      at: datetime | None = None, listed_as: object = "") -> int:
        """``listed_as``: the lineNumber the answer shows, when not ``line`` as given (None,
        +98…)."""
        when = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)
        mid = int(self.new_id())
        self.inbox.append({"id": mid, "message": text, "sender": sender, "lineNumber": line,
                           "receiveDate": when.isoformat(timespec="milliseconds")
                           .replace("+00:00", "Z"), "read": False,
                           "listed_as": line if listed_as == "" else listed_as})
        return mid

    def _received(self, args: dict) -> Response:
        line, is_read = args.get("LineNumber"), args.get("IsRead", "false").lower() == "true"
        if not line:
            return self._answer(400)
        found = [m for m in self.inbox if m["lineNumber"] == line and m["read"] == is_read]
        if "PageIndex" not in args:  # GetReceivedSmses: the unread ones, no paging
            return self._answer(200, {"items": [self._public(m) for m in found]})
        try:
            start, end = _when(args["StartDate"]), _when(args["EndDate"])
            index, size = int(args["PageIndex"]), int(args["PageSize"])
        except (KeyError, ValueError):
            return self._answer(400)
        if index < 1 or not 1 <= size <= 200:
            return self._answer(400)
        found = [m for m in found if start <= _when(m["receiveDate"]) <= end]
        if self.newest_first:
            found.reverse()
        pages = (len(found) + size - 1) // size
        answer = {"pageIndex": index, "pageSize": size, "totalCount": len(found),
                  "totalPages": pages, "hasPreviousPage": index > 1, "hasNextPage": index < pages,
                  "items": [self._public(m) for m in found[(index - 1) * size:index * size]]}
        if not self.paging_flags:
            for k in ("totalCount", "totalPages", "hasPreviousPage", "hasNextPage"):
                del answer[k]
        return self._answer(200, answer)

    @staticmethod
    def _public(m: dict) -> dict:
        out = {k: v for k, v in m.items() if k not in ("read", "listed_as")}
        out["lineNumber"] = m["listed_as"]
        return out

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
        if method in ("GetReceivedSmsesPaging", "GetReceivedSmses"):
            if request.method != "GET":
                return self._answer(405)
            if method == "GetReceivedSmses":
                return self._received({k: v for k, v in request.args.items()
                                       if k in ("LineNumber", "IsRead")})
            return self._received(dict(request.args))
        if method == "CheckSmsStatus":
            ids = request.args.get("Ids", "").split(",")
            if request.args.get("Type") == "2":
                found = [mid for ref in ids for mid in self.by("ref", ref)]
            else:
                found = [i for i in ids if i in self.messages]
            return self._answer(200, [self._item(i) for i in found])
        return self._answer(404)
