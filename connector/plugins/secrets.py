"""What adapters and SMS gateways share: secrets named by their options, and messages that are
safe to show an admin."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from connector.domain.errors import ConfigurationError

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_URL_CREDENTIALS = re.compile(r"(\w+://)[^/@\s]+@")
MASK = "***"


def env_secret(name: object, env: Mapping[str, str], where: str, key: str,
               example: str) -> str:
    """The secret held by the environment variable that an option names. Organization files
    hold only the variable's name, never the secret. ``where`` names the option in messages
    (``adapter.password_env``)."""
    if not isinstance(name, str) or not _ENV_NAME.match(name):
        raise ConfigurationError(f'{where} must name an environment variable — write {key} = '
                                 f'"{example}" and set {example} in the environment')
    value = env.get(name)
    if not value:
        raise ConfigurationError(f"{where} names {name}, which is not set — set {name} in the "
                                 "environment or .env")
    return value


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Remove secrets, and any user:password@ in URLs, from a message meant for logs or admins."""
    text = _URL_CREDENTIALS.sub(rf"\1{MASK}@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text
