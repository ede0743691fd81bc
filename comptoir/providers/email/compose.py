"""One outgoing message as an email: text and HTML parts, and the headers that matter.

- `Message-ID` is made from our reference, so a retried send carries the same id and
  the receiving side (and we) can tell it is the same email;
- `List-Unsubscribe` (an https link with a signed token, plus a mailto when the channel
  has one) and `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), which
  large mailbox providers require of bulk senders; the same link is in the body.
"""

from __future__ import annotations

import re
from email.utils import formataddr

from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.utils.html import escape, urlize
from django.utils.translation import gettext as _

from comptoir.providers.base import ChannelConfig, OutgoingMessage
from comptoir.providers.email.config import SmtpSettings
from comptoir.providers.email.unsubscribe import unsubscribe_token, unsubscribe_url

# Our provider ids are at most 100 characters: `<` + 36 + `@` + domain + `>`.
MAX_ID_DOMAIN = 100 - 39
PARAGRAPHS = re.compile(r"\n\s*\n")


def message_id(reference: str, sender: str) -> str:
    """`<reference@sender's domain>`: the same for every try of one message."""
    domain = sender.rpartition("@")[2].lower()
    while len(domain) > MAX_ID_DOMAIN and "." in domain:
        domain = domain.split(".", 1)[1]  # a parent domain is still the sender's
    return f"<{reference}@{domain[-MAX_ID_DOMAIN:]}>"


def html_from_text(text: str) -> str:
    """The text as HTML: escaped, links made clickable, paragraphs and line breaks kept."""
    paragraphs = [p for p in PARAGRAPHS.split(text.strip()) if p.strip()]
    return "\n".join(
        "<p>" + urlize(p.strip(), autoescape=True).replace("\n", "<br>\n") + "</p>"
        for p in paragraphs
    )


def _document(body_html: str) -> str:
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8"></head>\n'
        f'<body style="font-family:sans-serif;line-height:1.4">\n{body_html}\n</body></html>\n'
    )


def compose(
    channel: ChannelConfig,
    smtp: SmtpSettings,
    message: OutgoingMessage,
    connection: BaseEmailBackend,
) -> EmailMultiAlternatives:
    """The email for `message`, ready for `connection` (not sent)."""
    token = unsubscribe_token(
        channel_uuid=channel.uuid, reference=message.reference, address=message.to
    )
    link = unsubscribe_url(base_url=channel.base_url, token=token)
    unsubscribe = [f"<{link}>"]
    if smtp.unsubscribe_mailto:
        unsubscribe.append(f"<mailto:{smtp.unsubscribe_mailto}?subject=unsubscribe>")
    footer = _("To stop receiving our marketing emails: %(link)s") % {"link": link}
    html_footer = '<p style="font-size:small;color:#666"><a href="{link}">{text}</a></p>'.format(
        link=escape(link), text=escape(_("Unsubscribe from our marketing emails"))
    )
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=f"{message.body.rstrip()}\n\n-- \n{footer}\n",
        from_email=formataddr((smtp.from_name, channel.address)),
        to=[message.to],
        reply_to=[smtp.reply_to] if smtp.reply_to else None,
        connection=connection,
        headers={
            "Message-ID": message_id(message.reference, channel.address),
            "List-Unsubscribe": ", ".join(unsubscribe),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    html = message.html or html_from_text(message.body)
    email.attach_alternative(_with_footer(html, html_footer), "text/html")
    return email


def _with_footer(html: str, footer: str) -> str:
    """The caller's HTML (or none) with the unsubscribe footer at the end of its body."""
    end = html.lower().rfind("</body>")
    if end >= 0:
        return f"{html[:end]}{footer}\n{html[end:]}"
    return _document(f"{html}\n{footer}")
