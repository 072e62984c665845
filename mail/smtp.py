"""SMTP: STARTTLS by default (certificate checked, with ``ca_file`` for a private CA),
authentication with a user name and password read from the environment variables the
configuration names, a timeout on every step.

Errors are classified by the step they happen in: nothing is sent before the message's data
goes out, so a refused connection or a timeout there is transient; once the data is on its way
a timeout or a dropped connection is ambiguous (the server may have taken it — a retry goes out
under the same Message-ID, which mail readers use to show one message). 4xx replies are
transient, 5xx permanent, a refused sign-in or a server without STARTTLS a configuration
problem."""
from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Mapping
from typing import Any

from connector.domain.errors import (
    AmbiguousError,
    ConfigurationError,
    ExternalError,
    PermanentError,
    TransientError,
)
from connector.plugins.ports import MailGateway, MailMessage

from .mime import build


def _by_code(code: int, text: str) -> ExternalError:
    cls: type[ExternalError] = TransientError if 400 <= code < 500 else PermanentError
    return cls(f"smtp: {code} {text}")


class SmtpGateway(MailGateway):
    name = "smtp"

    def __init__(self, host: str, port: int = 587, sender: str = "", sender_name: str = "",
                 username: str = "", password: str = "", starttls: bool = True,
                 timeout: float = 15.0, ca_file: str | None = None) -> None:
        self.host, self.port, self.sender, self.sender_name = host, port, sender, sender_name
        self.username, self._password = username, password
        self.starttls, self.timeout, self.ca_file = starttls, timeout, ca_file

    @classmethod
    def from_options(cls, options: Mapping[str, Any], secrets: Mapping[str, str]
                     ) -> SmtpGateway:
        def need(key: str, kind: type, example: str) -> Any:
            value = options.get(key)
            if not isinstance(value, kind) or value in ("", None):
                raise ConfigurationError(f"mail.{key} is missing or wrong — e.g. {key} = {example}")
            return value
        host = need("host", str, '"mail.example.ir"')
        sender = need("from", str, '"desk@example.ir"')
        port = options.get("port", 587)
        if not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigurationError("mail.port must be a port number such as 587")
        timeout = options.get("timeout", 15)
        if not isinstance(timeout, (int, float)) or not 0 < timeout <= 120:
            raise ConfigurationError("mail.timeout must be seconds between 0 and 120, e.g. 15")
        username = password = ""
        for key in ("username_env", "password_env"):
            name = options.get(key)
            if name is None:
                continue
            if not isinstance(name, str) or name not in secrets:
                raise ConfigurationError(f"mail.{key} names {name!r}, which is not set in the "
                                         "environment — set it, or remove the key")
            if key == "username_env":
                username = secrets[name]
            else:
                password = secrets[name]
        if bool(username) != bool(password):
            raise ConfigurationError("mail: give both username_env and password_env, or neither")
        starttls = options.get("starttls", True)
        if not isinstance(starttls, bool):
            raise ConfigurationError("mail.starttls must be true or false")
        ca_file = options.get("ca_file")
        return cls(host, port, sender, str(options.get("from_name", "")), username, password,
                   starttls, float(timeout), ca_file if isinstance(ca_file, str) else None)

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file) if self.ca_file \
            else ssl.create_default_context()

    def _sign_in(self, smtp: smtplib.SMTP) -> None:
        # PLAIN in one round trip where offered (always under TLS here); smtplib's login()
        # would go on to other mechanisms after a refusal and hide the refusal behind them.
        smtp.user, smtp.password = self.username, self._password
        if "plain" in smtp.esmtp_features.get("auth", "").lower().split():
            smtp.auth("PLAIN", smtp.auth_plain)
        else:
            smtp.login(self.username, self._password)

    def send(self, message: MailMessage) -> str:
        mail = build(MailMessage(message.to, message.subject, message.text, message.html,
                                 message.message_id, message.sender_name or self.sender_name),
                     self.sender)
        sending = False
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if self.starttls:
                    if not smtp.has_extn("starttls"):
                        raise ConfigurationError(f"smtp: {self.host} offers no STARTTLS; "
                                                 "set starttls = false only on a trusted network")
                    smtp.starttls(context=self._context())
                    smtp.ehlo()
                if self.username:
                    self._sign_in(smtp)
                sending = True
                refused = smtp.send_message(mail)
            if refused:
                code, text = next(iter(refused.values()))
                raise _by_code(code, text.decode(errors="replace"))
            return message.message_id
        except ExternalError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise ConfigurationError(f"smtp: sign-in refused ({exc.smtp_code})") from None
        except smtplib.SMTPSenderRefused as exc:
            raise ConfigurationError(f"smtp: sender {self.sender} refused ({exc.smtp_code})") \
                from None
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _by_code(code, text.decode(errors="replace")) from None
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, str(exc.smtp_error)) from None
        except ssl.SSLError as exc:
            raise ConfigurationError(f"smtp: TLS failed ({exc.reason})") from None
        except (smtplib.SMTPServerDisconnected, socket.timeout, OSError) as exc:
            what = f"smtp: {type(exc).__name__}: {exc}"[:300]
            if sending:
                raise AmbiguousError(what + " (the message may have been taken)") from None
            raise TransientError(what) from None
