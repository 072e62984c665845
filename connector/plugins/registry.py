"""Adapters, SMS and mail gateways and virus scanners found by name through entry points,
imported only when chosen (so pyodbc, for one, is needed only by organizations that use ODBC)."""
from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from connector.domain.errors import ConfigurationError

ADAPTERS = "pishkhan.adapters"
SMS_GATEWAYS = "pishkhan.sms_gateways"
SMS_TEXTS = "pishkhan.sms_texts"
SCANNERS = "pishkhan.scanners"
MAIL_GATEWAYS = "pishkhan.mail_gateways"


def names(group: str) -> list[str]:
    return sorted({ep.name for ep in entry_points(group=group)})


def load(group: str, name: str) -> Any:
    found = [ep for ep in entry_points(group=group) if ep.name == name]
    if not found:
        raise ConfigurationError(
            f"no {group} plugin named {name!r}; installed: {', '.join(names(group)) or 'none'}")
    try:
        return found[0].load()
    except ImportError as exc:
        raise ConfigurationError(f"plugin {name!r} cannot be imported: {exc}") from exc


def create(group: str, name: str, options: Mapping[str, Any], secrets: Mapping[str, str]) -> Any:
    """Build a plugin from its options. A plugin is a class (or factory) with
    ``from_options(options, secrets)`` that validates its own options and raises
    ConfigurationError naming the bad key."""
    factory = load(group, name)
    return factory.from_options(dict(options), secrets)
