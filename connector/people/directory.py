"""Signing staff in against the organization's directory (Active Directory or any LDAP server)
with a simple bind: the password is checked by the directory and never stored here."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from connector.domain.errors import ConfigurationError, TransientError

if TYPE_CHECKING:
    from connector.config.settings import Settings


def ldap_bind(settings: Settings, username: str, password: str) -> bool:
    """True when the directory accepts the password. Raises TransientError when the directory
    cannot be reached, ConfigurationError when LDAP is not set up."""
    import ldap3
    from ldap3.core import exceptions as lx
    from ldap3.utils.dn import escape_rdn

    if not settings.ldap_url or "{username}" not in settings.ldap_user_dn:
        raise ConfigurationError("set PISHKHAN_LDAP_URL and PISHKHAN_LDAP_USER_DN "
                                 "(with {username}) to sign in with the directory")
    if not password:
        return False  # an empty password is an anonymous bind, which "succeeds"
    who = settings.ldap_user_dn.replace("{username}", escape_rdn(username))
    server = ldap3.Server(settings.ldap_url, connect_timeout=settings.ldap_timeout,
                          get_info=ldap3.NONE)
    # ldap3 packs the receive timeout into a socket option: whole seconds only.
    conn = ldap3.Connection(server, user=who, password=password,
                            receive_timeout=max(1, math.ceil(settings.ldap_timeout)),
                            raise_exceptions=False)
    try:
        return bool(conn.bind())
    except lx.LDAPSocketOpenError as exc:
        raise TransientError(f"directory unreachable: {exc}") from None
    except lx.LDAPException as exc:
        raise TransientError(f"directory error: {type(exc).__name__}: {exc}") from None
    finally:
        conn.unbind()
