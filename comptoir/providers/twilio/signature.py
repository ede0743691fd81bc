"""Twilio's request signature: `X-Twilio-Signature`, checked on every webhook.

Twilio signs the exact URL it called (scheme, host, port, path and query) followed by
every POST parameter, sorted by name, written as name then value with no separator; the
HMAC-SHA1 of that string keyed with the account's auth token, base64-encoded, is the
header. See https://www.twilio.com/docs/usage/webhooks/webhooks-security.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from urllib.parse import parse_qsl, urlsplit, urlunsplit

SIGNATURE_HEADER = "x-twilio-signature"
DEFAULT_PORTS = {"http": 80, "https": 443}


def signed_string(url: str, params: Iterable[tuple[str, str]]) -> str:
    """The text Twilio signs: the URL, then each parameter's name and value, sorted.

    A name sent several times contributes each distinct value, in sorted order, as
    Twilio's own helper libraries do.
    """
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    return url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))


def compute(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    digest = hmac.new(
        auth_token.encode(), signed_string(url, params).encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()


def form_params(body: bytes) -> list[tuple[str, str]]:
    """The POST parameters of a form body, repeated names kept, blank values kept."""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return []  # the signature will not match: answered 403, never a 500
    return parse_qsl(text, keep_blank_values=True)


def url_variants(url: str) -> list[str]:
    """The URL as given, and with its default port written out or left out.

    Twilio may sign `https://host:443/path` or `https://host/path` depending on how the
    URL was entered; its helper libraries accept both, so do we.
    """
    parts = urlsplit(url)
    default = DEFAULT_PORTS.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    if parts.port is None and default:
        other = urlunsplit(parts._replace(netloc=f"{_userinfo(parts.netloc)}{host}:{default}"))
    elif parts.port == default:
        other = urlunsplit(parts._replace(netloc=f"{_userinfo(parts.netloc)}{host}"))
    else:
        return [url]
    return [url, other]


def _userinfo(netloc: str) -> str:
    return netloc.rpartition("@")[0] + "@" if "@" in netloc else ""


def is_valid(
    auth_token: str, urls: Sequence[str], params: Sequence[tuple[str, str]], signature: str
) -> bool:
    """Whether `signature` is Twilio's for any of `urls` (each with and without its port).

    Every candidate is compared in constant time, and all of them are computed, so the
    answer's timing tells nothing about which part was wrong.
    """
    if not auth_token or not signature:
        return False
    valid = False
    for url in dict.fromkeys(u for candidate in urls for u in url_variants(candidate)):
        expected = compute(auth_token, url, params)
        valid |= hmac.compare_digest(expected.encode(), signature.encode())
    return valid
