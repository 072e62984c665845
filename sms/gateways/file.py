"""A gateway for development and demos: every message is appended as one JSON line to a file,
which stands in for the citizen's phone."""
from __future__ import annotations

import fcntl
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from connector.plugins.explain import check_options
from connector.domain import clock
from connector.domain.errors import TransientError
from connector.plugins.ports import SmsGateway, SmsGatewayCapabilities, SmsResult


class FileOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # Pishkhan fills in PISHKHAN_SMS_OUTBOX when the file gives none.
    path: str = Field("var/sms-outbox.jsonl", min_length=1,
                      description="the file (default: PISHKHAN_SMS_OUTBOX)")


class FileGateway(SmsGateway):
    name = "file"
    options_model = FileOptions
    capabilities = SmsGatewayCapabilities(supports_client_reference=True)

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def from_options(cls, options: Mapping[str, Any], secrets: Mapping[str, str]) -> FileGateway:
        return cls(Path(check_options(FileOptions, options, "sms").path))

    def send(self, to: str, text: str, client_reference: str) -> SmsResult:
        record = {"to": to, "text": text, "reference": client_reference,
                  "at": clock.now().isoformat() + "Z"}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)  # several workers may append at once
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        except OSError as exc:
            raise TransientError(f"cannot write {self.path}: {exc.strerror}") from exc
        return SmsResult(provider_message_id=f"file-{client_reference}", status="delivered")

    def messages(self) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines()]
