"""Fakes that implement the core's ports in memory, for unit tests of the use cases. Integration
and end-to-end tests use the real adapters against the real sandbox instead."""
from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import datetime, timezone

from connector.domain import (Capabilities, ChangeKind, DeliveryReceipt, OutgoingLetter,
                              PollResult, RoutingChange)
from connector.errors import ExternalError
from connector.ports import CorrespondenceSystem, SmsGateway, SmsResult


class FakeSystem(CorrespondenceSystem):
    capabilities = Capabilities(reply_download=True)

    def __init__(self) -> None:
        self.letters: dict[str, OutgoingLetter] = {}
        self.by_reference: dict[str, str] = {}
        self.feed: list[RoutingChange] = []
        self.fail_next: list[ExternalError] = []
        self.commit_before_failing = False
        self.calls: list[str] = []
        self._ids = itertools.count(100)

    def deliver(self, letter: OutgoingLetter) -> DeliveryReceipt:
        self.calls.append("deliver")
        if self.fail_next:
            error = self.fail_next.pop(0)
            if self.commit_before_failing:
                self._store(letter)
            raise error
        return DeliveryReceipt(external_id=self._store(letter), status="pending")

    def _store(self, letter: OutgoingLetter) -> str:
        external_id = str(next(self._ids))
        self.letters[external_id] = letter
        self.by_reference.setdefault(letter.tracking_code, external_id)
        return external_id

    def find(self, tracking_code: str) -> DeliveryReceipt | None:
        self.calls.append("find")
        external_id = self.by_reference.get(tracking_code)
        return DeliveryReceipt(external_id=external_id) if external_id else None

    def changes(self, cursor: str) -> PollResult:
        start = int(cursor or 0)
        return PollResult(changes=self.feed[start:], cursor=str(len(self.feed)))

    def emit(self, tracking_code: str, kind: ChangeKind, **fields: str) -> RoutingChange:
        change = RoutingChange(source_id=f"fake:{len(self.feed)}", kind=kind,
                               at=datetime.now(timezone.utc),
                               external_id=self.by_reference[tracking_code],
                               reference=tracking_code, **fields)
        self.feed.append(change)
        return change

    def ping(self) -> str:
        return "ok"


class RecordingGateway(SmsGateway):
    name = "recording"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    @classmethod
    def from_options(cls, options: Mapping[str, object], secrets: Mapping[str, str]
                     ) -> RecordingGateway:
        return cls()

    def send(self, to: str, text: str, client_reference: str) -> SmsResult:
        self.sent.append((to, text, client_reference))
        return SmsResult(provider_message_id=f"rec-{len(self.sent)}", status="delivered")
