"""Option helpers shared by the adapters: secrets named by environment variable, profile files,
and the values the core expects back (text, naive UTC times)."""
from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from connector.domain.errors import ConfigurationError
from connector.domain.letter import ChangeKind, OutgoingLetter
from connector.plugins.secrets import env_secret


def secret(options: Mapping[str, Any], secrets: Mapping[str, str], key: str,
           missing: str | None = None) -> str | None:
    """The secret in the environment variable that option ``key`` names. ``missing``: the
    message when the option is absent and required (None: optional)."""
    name = options.get(key)
    if name is None:
        if missing is not None:
            raise ConfigurationError(missing)
        return None
    return env_secret(name, secrets, f"adapter.{key}", key, "OA_PASSWORD")


def read_profile(name_or_path: str, directory: Path, what: str,
                 aliases: Mapping[str, str] | None = None) -> tuple[dict[str, Any], Path]:
    """A shipped profile by name (or alias) from ``directory``, or a profile file by path, as
    TOML data; every problem is a ConfigurationError naming adapter.profile."""
    if name_or_path.endswith(".toml"):
        path = Path(name_or_path)
    else:
        name = (aliases or {}).get(name_or_path, name_or_path)
        path = directory / f"{name}.toml"
        if not re.fullmatch(r"[a-z0-9_-]+", name) or not path.is_file():
            known = sorted([p.stem for p in directory.glob("*.toml")] + list(aliases or {}))
            raise ConfigurationError(
                f"adapter.profile {name_or_path!r} is not a known {what} — use one of: "
                f"{', '.join(known)}, or the path of a profile .toml file")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), path
    except OSError as exc:
        raise ConfigurationError(
            f"adapter.profile {str(path)!r} cannot be read ({exc.strerror}) — "
            "give the path of an existing profile .toml file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"profile {str(path)!r} is not valid TOML: {exc}") from None


def text(value: Any) -> str | None:
    return None if value is None else str(value)


def naive_utc(value: Any) -> datetime | None:
    """The core keeps times as naive UTC; a time with a zone is converted (one without is taken
    as UTC)."""
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        return value
    return value.astimezone(timezone.utc).replace(tzinfo=None)


IGNORE = "ignore"


def check_kinds(kinds: Any, bad: Callable[[str, str], Exception]) -> dict[str, str]:
    """A profile's ``[changes.kinds]``: the system's change kinds -> ours or "ignore"."""
    ours = {k.value for k in ChangeKind} | {IGNORE}
    if not isinstance(kinds, dict) or not kinds:
        raise bad("[changes.kinds]", "must map the system's change kinds to ours")
    for theirs, mapped in kinds.items():
        if mapped not in ours:
            raise bad(f"changes.kinds.{theirs}", f"is {mapped!r}; use one of {sorted(ours)}")
    return dict(kinds)


def map_kind(kinds: Mapping[str, str], system_kind: str) -> ChangeKind | str | None:
    """Our kind for the system's, IGNORE, or None when the profile does not know it."""
    mapped = kinds.get(system_kind)
    if mapped is None or mapped == IGNORE:
        return mapped
    return ChangeKind(mapped)


def letter_fields(letter: OutgoingLetter) -> dict[str, Any]:
    """A letter as the names profiles' templates and SQL parameters use."""
    return {
        "tracking_code": letter.tracking_code, "subject": letter.subject,
        "body": letter.body, "sender_name": letter.sender_name,
        "sender_national_code": letter.sender_national_code,
        "sender_mobile": letter.sender_mobile,
        "applicant_type": getattr(letter.applicant_type, "value", letter.applicant_type),
        "unit_code": letter.unit_code, "service_title": letter.service_title,
        "service_code": letter.service_code,
        "submitted_at": letter.submitted_at,
        "attachments": [{"name": a.name, "content_type": a.content_type,
                         "content": a.content, "size": len(a.content)}
                        for a in letter.attachments],
        # None where the letter follows nothing, so optional elements stay out and steps or
        # statements with ``when = "related_letter_id"`` are skipped.
        "relation": letter.relation or None,
        "related_letter_id": (int(letter.related_letter_id)
                              if letter.related_letter_id.isdigit()
                              else letter.related_letter_id or None),
        "related_number": letter.related_number or None,
        "related_code": letter.related_code or None,
    }
