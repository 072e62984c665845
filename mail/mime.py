"""The MIME message: multipart/alternative with the plain text first and the HTML last (mail
readers show the last part they can), UTF-8, the Persian subject encoded for the headers."""
from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

from connector.plugins.ports import MailMessage


def build(message: MailMessage, sender: str) -> EmailMessage:
    mail = EmailMessage()
    local, _, domain = sender.partition("@")
    mail["From"] = Address(display_name=message.sender_name, username=local, domain=domain) \
        if message.sender_name else sender
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Message-ID"] = message.message_id
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Content-Language"] = "fa"
    mail.set_content(message.text, charset="utf-8")
    mail.add_alternative(message.html, subtype="html", charset="utf-8")
    return mail
