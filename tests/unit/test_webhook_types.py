"""The registry of webhook event types is the one list: every type follows the naming
pattern, has a Persian and an English label for the admin page, a schema for its data, an
entry in the OpenAPI document and a line in docs/webhooks.md."""
from __future__ import annotations

import re
from pathlib import Path

import messages
from connector.domain.errors import msg
from connector.domain.letter import State
from connector.outbox import webhook_types
from portal.openapi import document

DOCS = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text(encoding="utf-8")


def test_every_type_is_named_labelled_documented_and_described():
    doc = document("http://x", 1024)
    assert list(doc["webhooks"]) == list(webhook_types.TYPES)
    for name, t in webhook_types.REGISTRY.items():
        assert re.fullmatch(r"ir\.pishkhan\.[a-z]+\.[a-z_]+", name), name
        short = name.removeprefix(webhook_types.PREFIX)
        for locale in ("fa", "en"):
            label = messages.render(msg(f"webhook.label.{short}"), locale)
            assert label and not label.startswith("webhook."), (name, locale)
        assert t.data["type"] == "object" and t.data["additionalProperties"] is False
        assert f"`{name}`" in DOCS or (name.startswith(f"{webhook_types.PREFIX}letter.")
                                       and f"`{short.split('.')[1]}`" in DOCS), name


def test_every_letter_state_has_a_type():
    for state in State:
        if state is not State.STAGED:
            assert f"{webhook_types.PREFIX}letter.{state.value}" in webhook_types.TYPES
