"""What every HTTP gateway shares: options read and checked the same way, the HTTP client
(:mod:`sms.gateways.http`: explicit timeouts, transport failures classified, secrets masked),
and the provider codes classified. Each provider module keeps only its API shape and its code
table."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connector.domain.errors import ConfigurationError, ExternalError, PermanentError
from connector.plugins.explain import check_options
from connector.domain.normalize import digits_only, mobile
from connector.plugins.secrets import env_secret

from .http import HttpClient

T = TypeVar("T")


# --- options -------------------------------------------------------------------------------

class GatewayOptions(BaseModel):
    """What every HTTP gateway takes in its ``[[sms.gateways]]`` table (besides type, name,
    priority and otp_template, which the core reads). Each gateway declares its model by
    subclassing this; unknown keys are refused (a typo is not ignored)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    sender: str = Field(min_length=1, description="the line (number) messages go from")
    url: str | None = Field(None, description="the provider's API address (default: its own)")
    timeout: float = Field(10.0, gt=0, le=120, description="seconds to wait for an answer")
    connect_timeout: float = Field(3.0, gt=0, le=120, description="seconds to connect")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"is {value!r} — write a full address starting with https://")
        return value.rstrip("/") if value else value

    @property
    def timeouts(self) -> tuple[float, float]:
        return self.connect_timeout, self.timeout

    def address(self, default: str) -> str:
        return self.url or default.rstrip("/")


class ApiKeyOptions(GatewayOptions):
    api_key_env: str = Field(description="the environment variable holding the API key")


class LoginOptions(GatewayOptions):
    username_env: str = Field(description="the environment variable holding the user name")
    password_env: str = Field(description="the environment variable holding the password")


O = TypeVar("O", bound=GatewayOptions)


class Options:
    """One gateway's options read into its model; every problem names the key and the fix,
    with the provider's own examples (its line, its variables' usual names)."""

    def __init__(self, provider: str, options: Mapping[str, Any], env: Mapping[str, str],
                 **examples: str) -> None:
        self.provider, self.env, self.options, self.examples = provider, env, options, examples

    def read(self, model: type[O]) -> O:
        fixes = {k: f'write {k} = "{v}"' for k, v in self.examples.items()}
        return check_options(model, self.options, f"sms ({self.provider})", " ", fixes)

    def secret(self, name: str, key: str) -> str:
        """The secret in the environment variable the option ``key`` names."""
        example = self.examples.get(key, "SMS_SECRET")
        return env_secret(name, self.env, f"sms ({self.provider}) {key}", key, example)


# --- numbers and references ----------------------------------------------------------------

def national_mobile(to: str) -> str:
    """09xxxxxxxxx; a number that is not an Iranian mobile is refused before any call."""
    value = mobile(to)
    if value is None:
        raise PermanentError(f"{to!r} is not an Iranian mobile number")
    return value


def international_mobile(to: str, plus: bool = True) -> str:
    """+989xxxxxxxxx (or 989xxxxxxxxx)."""
    return ("+98" if plus else "98") + national_mobile(to)[1:]


def line_key(number: object) -> str:
    """A line number as the providers' inboxes may write it (+983000505, 983000505, 03000505,
    3000505, None) reduced to one form, so a text to our line is never taken for another's;
    an absent line (None, "") is "" and means "ours"."""
    digits = "".join(ch for ch in digits_only("" if number is None else str(number))
                     if ch.isdigit())
    digits = digits[2:] if digits.startswith("00") else digits  # 0098…
    return (digits[2:] if digits.startswith("98") else digits).lstrip("0")


def parse_utc(text: object) -> datetime | None:
    """An ISO 8601 time (``2024-07-02T14:00:34.975Z``) as naive UTC; a value without an
    offset is taken as UTC, as these APIs write their times; None when it is not one."""
    try:
        value = datetime.fromisoformat(str(text or "").strip())
    except ValueError:
        return None
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def numeric_reference(client_reference: str) -> int:
    """Providers that take only a number as the client's id get a fixed 60-bit number derived
    from our reference (a hex UUID), so a lookup by it finds the same message."""
    return int(client_reference.replace("-", "")[:15], 16)


def check_tokens(params: Mapping[str, str], provider: str, max_length: int | None = None,
                 forbidden: str = "") -> None:
    """Template tokens are refused by the provider for some characters (Kavenegar and
    Ghasedak: spaces, newlines, underscores; SMS.ir: more than 25 characters). Checked here so
    the refusal is clear and nothing is sent."""
    for name, value in params.items():
        if max_length is not None and len(value) > max_length:
            raise PermanentError(f"{provider}: template token {name} is longer than "
                                 f"{max_length} characters")
        bad = [ch for ch in value if ch in forbidden or (ch.isspace() and " " in forbidden)]
        if bad or not value:
            raise PermanentError(f"{provider}: template token {name} is empty or has a "
                                 "character the provider refuses (space, newline, underscore)")


def classify(client: HttpClient, code: Any, table: Mapping[Any, tuple[type[ExternalError], str]],
             http_status: int, what: str = "") -> ExternalError:
    """The error for a provider code from its table; an unknown code is classified by the HTTP
    status, and when that says nothing, as permanent (an admin must look)."""
    if code in table:
        cls, meaning = table[code]
        return client.error(cls, f"code {code}: {meaning}{what}")
    if http_status in (401, 403):
        cls = ConfigurationError
    else:
        cls = PermanentError
    return client.error(cls, f"unknown code {code!r} (HTTP {http_status}){what}")
