"""Short links: the URLs of a campaign's text, a per-recipient `/l/<code>` for each, clicks.

A URL in the text is found before the text is personalised (so a customer's own data is
never turned into a link) and must be http or https: any other scheme is refused with
the reason. Each recipient gets their own code, so a click says who clicked; codes are
random base62 (62^10 ≈ 8·10^17), never a counter, so they cannot be guessed or walked.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.campaigns.models import AgentClass, LinkClick, ShortLink
from comptoir.core.errors import ValidationError

CODE_LENGTH = 10
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CODE_SPACE = 62**CODE_LENGTH

# scheme://… for any scheme, and the schemes that need no "//" to do harm.
_ANY_URL = re.compile(
    r"(?<![\w@])(?:[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s{}]*|(?:javascript|data|vbscript|file):[^\s{}]+)",
    re.IGNORECASE,
)
# Sentence punctuation right after a URL belongs to the sentence, not to the URL.
_TRAILING = ".,;:!?)»\"'"
_HTTP = URLValidator(schemes=["http", "https"])

# Link names in the template: {__link0}, {__link1}… (a leading "__" no contact field has).
LINK_PREFIX = "__link"


@dataclass(frozen=True, slots=True)
class FoundUrl:
    url: str
    start: int
    end: int


def urls_find(template: str, *, field: str = "body") -> list[FoundUrl]:
    """The http(s) URLs written in a template, in order; refuses any other kind of link."""
    found = []
    for match in _ANY_URL.finditer(template):
        url = match.group(0).rstrip(_TRAILING)
        scheme = url.split(":", 1)[0].lower()
        if scheme not in ("http", "https"):
            raise ValidationError(
                _(
                    "%(url)s is a %(scheme)s: link; only http:// and https:// links can be "
                    "sent (and shortened)."
                )
                % {"url": url[:60], "scheme": scheme},
                field=field,
            )
        try:
            _HTTP(url)
        except DjangoValidationError:
            raise ValidationError(
                _("%(url)s is not a valid web address.") % {"url": url[:60]}, field=field
            ) from None
        found.append(FoundUrl(url, match.start(), match.start() + len(url)))
    return found


def template_with_links(template: str, urls: list[FoundUrl]) -> str:
    """The template with each URL replaced by a {__linkN} placeholder."""
    out, last = [], 0
    for index, found in enumerate(urls):
        out += [template[last : found.start], "{", f"{LINK_PREFIX}{index}", "}"]
        last = found.end
    out.append(template[last:])
    return "".join(out)


def short_base() -> str:
    """Where short links point: COMPTOIR_SHORT_URL (a short domain) else BASE_URL."""
    base = settings.COMPTOIR_SHORT_URL or settings.BASE_URL
    return f"{base.rstrip('/')}/l/"


def short_link_length() -> int:
    """Characters a short link takes in the text: the same for every recipient."""
    return len(short_base()) + CODE_LENGTH


def new_codes(count: int) -> list[str]:
    """`count` random codes of CODE_LENGTH base62 characters (from the OS's CSPRNG)."""
    raw = os.urandom(8 * count)
    codes = []
    for i in range(count):
        # 64 random bits folded into 62^10: the bias (2^64 mod 62^10 ≈ 2 %) is on a few
        # codes' likelihood, not on how guessable the space is.
        n = int.from_bytes(raw[8 * i : 8 * i + 8], "big") % _CODE_SPACE
        chars = []
        for _i in range(CODE_LENGTH):
            n, digit = divmod(n, 62)
            chars.append(_BASE62[digit])
        codes.append("".join(chars))
    return codes


_BOTS = re.compile(
    r"bot|crawl|spider|preview|facebookexternalhit|whatsapp|slack|telegram|discord|"
    r"skype|curl|wget|python|httpx|go-http|java/|headless|scanner|proofpoint|mimecast",
    re.IGNORECASE,
)
_MOBILE = re.compile(r"mobile|android|iphone|ipad|ipod|windows phone", re.IGNORECASE)
_DESKTOP = re.compile(r"windows nt|macintosh|x11|cros|linux x86_64", re.IGNORECASE)


def agent_class(user_agent: str) -> AgentClass:
    """Phone, computer, or a robot (link previews open links nobody clicked)."""
    if not user_agent or _BOTS.search(user_agent):
        return AgentClass.BOT
    if _MOBILE.search(user_agent):
        return AgentClass.MOBILE
    if _DESKTOP.search(user_agent):
        return AgentClass.DESKTOP
    return AgentClass.OTHER


def link_follow(*, code: str, user_agent: str) -> str | None:
    """The URL behind a code we created, recording the click; None for any other code."""
    if len(code) != CODE_LENGTH or not code.isascii() or not code.isalnum():
        return None
    link = ShortLink.objects.filter(code=code).only("id", "url").first()
    if link is None:
        return None
    LinkClick.objects.create(link=link, at=timezone.now(), agent_class=agent_class(user_agent))
    return link.url
