"""What every HTTP gateway shares: options read and checked the same way, one ``requests``
session with explicit timeouts, transport failures classified, and secrets masked wherever a
message could reach a log or an admin. Each provider module keeps only its API shape and its
code table."""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

import requests
from pydantic import BaseModel, ConfigDict, Field, field_validator
from urllib3.exceptions import ConnectTimeoutError

from connector.domain.errors import (
    AmbiguousError,
    ConfigurationError,
    ExternalError,
    PermanentError,
    TransientError,
)
from connector.plugins.explain import check_options
from connector.domain.normalize import digits_only, mobile
from connector.plugins.secrets import env_secret, scrub

T = TypeVar("T")


class _MaskSecrets(logging.Filter):
    """urllib3 logs request lines at DEBUG; Kavenegar's key is part of the path."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            self.secrets.update(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = scrub(record.getMessage(), self.secrets)
            record.args = ()
        return True


_mask_filter = _MaskSecrets()
logging.getLogger("urllib3.connectionpool").addFilter(_mask_filter)


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


# --- HTTP ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # parsed JSON, or the text when the provider answers in plain text


KEEP_ALIVE = 64  # connections kept per provider


class HttpClient:
    """One provider's HTTP session. ``write=True`` marks calls that send an SMS: a failure after
    the request went out is then *ambiguous*; for lookups it is only *transient*."""

    def __init__(self, provider: str, base_url: str, timeouts: tuple[float, float],
                 secrets: Iterable[str] = (), headers: Mapping[str, str] | None = None,
                 auth: tuple[str, str] | None = None) -> None:
        self.provider = provider
        self.base_url = base_url
        self.timeouts = timeouts
        self.secrets = [s for s in secrets if s]
        _mask_filter.add(self.secrets)
        self.session = requests.Session()
        # Keep a connection for every sender thread (PISHKHAN_SMS_CONCURRENCY is at most 64):
        # requests keeps 10 by default, and each call past them paid a new connection (a TLS
        # handshake, with a real provider) only to throw it away afterwards.
        for scheme in ("http://", "https://"):
            self.session.mount(scheme, requests.adapters.HTTPAdapter(pool_maxsize=KEEP_ALIVE))
        # Proxy settings from the environment are read once, not on every request (requests
        # re-reads the whole environment per call otherwise).
        self.session.proxies.update(requests.utils.get_environ_proxies(base_url))
        self.session.trust_env = False
        self.session.headers.update({"Accept": "application/json", **(headers or {})})
        if auth:
            self.session.auth = auth

    def scrub(self, text: str) -> str:
        return scrub(text, self.secrets)

    def error(self, cls: type[ExternalError], text: str) -> ExternalError:
        return cls(self.scrub(f"{self.provider}: {text}"))

    def transport_error(self, exc: requests.RequestException, write: bool) -> ExternalError:
        """A request that got no HTTP answer: transient if nothing can have reached the
        provider, else ambiguous (for a send) — the message may be on its way."""
        uncertain = AmbiguousError if write else TransientError
        if isinstance(exc, requests.ConnectTimeout):
            return self.error(TransientError, f"could not connect in time ({_short(exc)})")
        if isinstance(exc, requests.ReadTimeout):
            return self.error(uncertain, f"no answer within {self.timeouts[1]:g} s after the "
                                         "request was sent")
        if isinstance(exc, requests.ConnectionError):
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            if isinstance(reason, ConnectTimeoutError):  # refused, unreachable, unknown host
                return self.error(TransientError, f"cannot connect ({_short(exc)})")
            return self.error(uncertain, f"connection broke ({_short(exc)})")
        # Anything else (a body cut off mid-answer, a bad chunk) happened after the provider
        # had the request: for a send, the message may be on its way.
        return self.error(uncertain, _short(exc))

    def status_error(self, status: int, body: str, write: bool) -> ExternalError | None:
        """The error an HTTP status means by itself, whatever the body says; None if the body
        must decide."""
        said = " ".join(body.split())[:200]
        if status in (429, 502, 503):
            return self.error(TransientError, f"HTTP {status} (busy or limited): {said}")
        if status >= 500:
            # The provider failed while handling it: it may have been sent.
            return self.error(AmbiguousError if write else TransientError,
                              f"HTTP {status}: {said}")
        return None

    def call(self, method: str, path: str, *, write: bool, json_body: bool = True,
             **kwargs: Any) -> Reply:
        url = f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url
        uncertain = AmbiguousError if write else TransientError
        try:
            response = self.session.request(method, url, timeout=self.timeouts, **kwargs)
        except requests.RequestException as exc:
            raise self.transport_error(exc, write) from None
        failed = self.status_error(response.status_code, response.text, write)
        if failed is not None:
            raise failed
        if not json_body:
            return Reply(response.status_code, response.text)
        try:
            return Reply(response.status_code, response.json())
        except ValueError:
            if response.status_code in (401, 403):
                raise self.error(ConfigurationError, f"HTTP {response.status_code}: the key "
                                                     "was refused") from None
            raise self.error(uncertain, f"HTTP {response.status_code} with a body that is "
                                        "not JSON") from None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


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
