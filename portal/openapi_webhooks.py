"""The OpenAPI document's ``webhooks`` section, written from the one registry of event types
(connector/outbox/webhook_types.py): one entry per type, each a CloudEvents 1.0 envelope whose
``type`` is that name and whose ``data`` has that type's schema. The tests validate every
event a loopback receiver gets against it."""
from __future__ import annotations

from typing import Any

from connector.outbox import webhook_types

_ABOUT = ("CloudEvents 1.0, structured mode (`application/cloudevents+json`). The header "
          "`X-Pishkhan-Signature: sha256=<hex>` is the HMAC-SHA256 of the body keyed with the "
          "subscription's secret. Delivery is at least once with a stable `id`: keep the ids "
          "you have processed. Answer 2xx to accept; 4xx refuses the event for good; anything "
          "else (or no answer) is retried with growing gaps.")

ENVELOPE: dict[str, Any] = {
    "type": "object",
    "required": ["specversion", "id", "source", "type", "time", "datacontenttype", "data"],
    "additionalProperties": False,
    "properties": {
        "specversion": {"type": "string", "enum": ["1.0"]},
        "id": {"type": "string", "description": "The same on every attempt"},
        "source": {"type": "string", "example": "urn:pishkhan:org:demo"},
        "type": {"type": "string", "enum": list(webhook_types.TYPES)},
        "subject": {"type": "string",
                    "description": "A letter's tracking code, or a visit's id"},
        "time": {"type": "string", "format": "date-time"},
        "datacontenttype": {"type": "string", "enum": ["application/json"]},
        "data": {"type": "object"},
    },
}


def schemas() -> dict[str, Any]:
    """Components: the envelope and each distinct ``data`` shape."""
    return {"WebhookEvent": ENVELOPE,
            **{f"Webhook{name}": data for name, data in webhook_types.SHAPES.items()}}


def webhooks() -> dict[str, Any]:
    """One entry per event type, named by the type."""
    section = {}
    for t in webhook_types.REGISTRY.values():
        body = {"allOf": [{"$ref": "#/components/schemas/WebhookEvent"}, {
            "type": "object",
            "properties": {"type": {"const": t.name},
                           "subject": {"type": "string", "description": t.subject},
                           "data": {"$ref": f"#/components/schemas/Webhook{t.shape}"}}}]}
        section[t.name] = {"post": {
            "summary": t.about,
            "description": f"{_ABOUT}\n\n`subject`: {t.subject}.",
            "requestBody": {"required": True, "content": {
                "application/cloudevents+json": {"schema": body}}},
            "responses": {"204": {"description": "Accepted"}}}}
    return section
