"""A gateway for development and demos: every message is appended as one JSON line to a file,
which stands in for the citizen's phone. Texts citizens send to the line come from a second
file (``inbox``; Pishkhan gives each organization its own, ``var/sms-inbox/ORG.jsonl``), which
``pishkhan sms receive ORG FROM TEXT`` appends to; the cursor is how many lines were read."""
from __future__ import annotations

import fcntl
import json
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from connector.plugins.explain import check_options
from connector.domain import clock
from connector.domain.errors import TransientError
from connector.plugins.ports import InboundSms, SmsGateway, SmsGatewayCapabilities, SmsResult


class FileOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # Pishkhan fills in PISHKHAN_SMS_OUTBOX when the file gives none.
    path: str = Field("var/sms-outbox.jsonl", min_length=1,
                      description="the file (default: PISHKHAN_SMS_OUTBOX)")
    inbox: str | None = Field(None, min_length=1,
                              description="texts citizens send to the line, one JSON a line "
                                          "(default: var/sms-inbox/ORG.jsonl, one per organization)")


class FileGateway(SmsGateway):
    name = "file"
    options_model = FileOptions
    # Its file is its record: it can say whether it holds a message under our reference, so a
    # worker killed between "the request left" and recording the answer is settled by a look-up
    # instead of waiting 72 hours for the sweeper.
    capabilities = SmsGatewayCapabilities(supports_client_reference=True, supports_inbox=True,
                                          supports_status_by_reference=True)

    def __init__(self, path: Path, inbox: Path | None = None) -> None:
        self.path = path
        self.inbox = inbox or path.with_name(f"{path.stem}-inbox{path.suffix or '.jsonl'}")

    @classmethod
    def from_options(cls, options: Mapping[str, Any], secrets: Mapping[str, str]) -> FileGateway:
        opts = check_options(FileOptions, options, "sms")
        return cls(Path(opts.path), Path(opts.inbox) if opts.inbox else None)

    @staticmethod
    def _append(path: Path, record: Mapping[str, Any]) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)  # several workers may append at once
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        except OSError as exc:
            raise TransientError(f"cannot write {path}: {exc.strerror}") from exc

    def send(self, to: str, text: str, client_reference: str) -> SmsResult:
        self._append(self.path, {"to": to, "text": text, "reference": client_reference,
                                 "at": clock.now().isoformat() + "Z"})
        return SmsResult(provider_message_id=f"file-{client_reference}", status="delivered")

    def find(self, client_reference: str) -> SmsResult | None:
        try:
            with self.path.open(encoding="utf-8") as fh:
                for line in fh:
                    if client_reference in line and \
                            json.loads(line).get("reference") == client_reference:
                        return SmsResult(provider_message_id=f"file-{client_reference}",
                                         status="delivered")
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise TransientError(f"cannot read {self.path}: {exc}") from exc
        return None

    def messages(self) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines()]

    # --- the line's inbox ------------------------------------------------------------------

    def simulate_inbound(self, sender: str, text: str) -> str:
        """A citizen's text reaching the line (what ``pishkhan sms receive`` does)."""
        mid = f"file-in-{uuid.uuid4().hex}"
        self._append(self.inbox, {"id": mid, "from": sender, "text": text,
                                  "at": clock.now().isoformat() + "Z"})
        return mid

    def receive(self, cursor: str) -> tuple[list[InboundSms], str]:
        start = int(cursor) if cursor.isdigit() else 0
        try:
            content = self.inbox.read_text(encoding="utf-8") if self.inbox.exists() else ""
            # Only whole lines: one being appended right now is read next time.
            lines = content.split("\n")[:-1]
        except OSError as exc:
            raise TransientError(f"cannot read {self.inbox}: {exc.strerror}") from exc
        out = []
        for line in lines[start:]:
            try:
                r = json.loads(line)
                at = datetime.fromisoformat(r["at"]).astimezone(timezone.utc).replace(
                    tzinfo=None) if r.get("at") else None
                out.append(InboundSms(str(r["id"]), str(r["from"]), str(r["text"]), at))
            except (ValueError, KeyError, TypeError):
                continue  # a line written by hand and broken: skipped, not fatal
        return out, str(len(lines))
