"""The embedded default: every e-mail is written as one .eml file (the full MIME message) into
a folder, ``var/mail-outbox/``, named by its Message-ID, so a resend overwrites rather than
duplicates. Written atomically (temporary file, fsync, rename)."""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from connector.domain.errors import ConfigurationError, TransientError
from connector.plugins.ports import MailGateway, MailMessage

from .mime import build


class FileMailGateway(MailGateway):
    name = "file"

    def __init__(self, folder: Path, sender: str = "pishkhan@localhost") -> None:
        self.folder = folder
        self.sender = sender

    @classmethod
    def from_options(cls, options: Mapping[str, Any], secrets: Mapping[str, str]
                     ) -> FileMailGateway:
        folder = options.get("path")
        if not isinstance(folder, str) or not folder:
            raise ConfigurationError('mail.path is missing — add path = "var/mail-outbox"')
        sender = options.get("from", "pishkhan@localhost")
        if not isinstance(sender, str) or "@" not in sender:
            raise ConfigurationError('mail.from must be an address such as "desk@example.ir"')
        return cls(Path(folder), sender)

    def file_for(self, message_id: str) -> Path:
        return self.folder / (re.sub(r"[^A-Za-z0-9._-]", "_", message_id.strip("<>")) + ".eml")

    def send(self, message: MailMessage) -> str:
        data = build(message, self.sender).as_bytes()
        target = self.file_for(message.message_id)
        tmp = target.with_suffix(".tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(target)
        except OSError as exc:
            raise TransientError(f"mail: cannot write {target}: {exc.strerror}") from exc
        return target.name
