"""Cell values as French and English point-of-sale software write them.

Each parser takes the cell's text and returns the value, or raises CellError with a
reason a shop owner can act on (quoting what was there).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _


class CellError(ValueError):
    """A cell that cannot be read as what its column is mapped to."""


_DATE_DMY = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})")
_DATE_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
# An optional time after the date ("31/12/2024 14:32", "2024-12-31T14:32:05").
_TIME_TAIL = re.compile(r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")
_SPACES = re.compile(r"[\s\u00a0\u202f']")
_AMOUNT = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)")
_CURRENCY = ("€", "EUR", "eur", "$", "£", "CHF", "chf")


def parse_date(text: str) -> dt.date:
    """31/12/2024, 31-12-2024, 31.12.24 (day first, as in France) or ISO 2024-12-31."""
    text = text.strip()
    for pattern, order in ((_DATE_ISO, "ymd"), (_DATE_DMY, "dmy")):
        match = pattern.match(text)
        if match and _TIME_TAIL.fullmatch(text, match.end()):
            first, second, third = (int(g) for g in match.groups())
            year, month, day = (first, second, third) if order == "ymd" else (third, second, first)
            if year < 100:  # 24 -> 2024, 85 -> 1985: never a date in the future
                year += 2000 if year <= dt.date.today().year % 100 else 1900
            try:
                return dt.date(year, month, day)
            except ValueError:
                raise CellError(_("%(text)r is not a date that exists.") % {"text": text}) from None
    raise CellError(
        _("%(text)r is not a date (write it like 31/12/2024 or 2024-12-31).") % {"text": text}
    )


def parse_amount(text: str) -> Decimal:
    """1 234,50 / 1234.50 / 1.234,50 € / -12,5: euros with at most 2 decimals.

    With both a comma and a dot, the last one is the decimal mark; with one of them only,
    it is the decimal mark (a French export writes 12,50; thousands have a space).
    """
    raw = text.strip()
    cleaned = raw
    for symbol in _CURRENCY:
        cleaned = cleaned.replace(symbol, "")
    cleaned = _SPACES.sub("", cleaned)
    if "," in cleaned and "." in cleaned:
        thousands = "." if cleaned.rfind(",") > cleaned.rfind(".") else ","
        cleaned = cleaned.replace(thousands, "")
    if cleaned.count(",") + cleaned.count(".") > 1 or not _AMOUNT.fullmatch(cleaned):
        raise CellError(_("%(text)r is not an amount (write it like 1234,50).") % {"text": raw})
    try:
        value = Decimal(cleaned.replace(",", "."))
    except InvalidOperation:
        raise CellError(_("%(text)r is not an amount.") % {"text": raw}) from None
    if value != value.quantize(Decimal("0.01")):
        raise CellError(
            _("%(text)r has more than 2 decimals: is it an amount in euros?") % {"text": raw}
        )
    if abs(value) >= Decimal("100000000"):
        raise CellError(_("%(text)r is too large for an amount.") % {"text": raw})
    return value.quantize(Decimal("0.01"))


YES = frozenset({"oui", "o", "yes", "y", "1", "x", "true", "vrai", "ok"})
NO = frozenset({"non", "n", "no", "0", "false", "faux"})


def parse_consent(text: str) -> bool | None:
    """oui/non, yes/no, 1/0, x (a ticked box): True or False; blank says nothing (None)."""
    value = text.strip().lower()
    if not value:
        return None
    if value in YES:
        return True
    if value in NO:
        return False
    raise CellError(
        _("%(text)r is not a consent answer (write oui or non, yes or no, 1 or 0, or x).")
        % {"text": text.strip()}
    )


_LANGUAGE = re.compile(r"[a-z]{2,3}(?:[-_][a-z]{2})?")
LANGUAGE_NAMES = {
    "français": "fr",
    "francais": "fr",
    "french": "fr",
    "anglais": "en",
    "english": "en",
    "espagnol": "es",
    "spanish": "es",
    "allemand": "de",
    "german": "de",
    "italien": "it",
    "italian": "it",
}


def parse_language(text: str) -> str:
    """fr, FR, fr-FR or a language's name in French or English: its code, lower case."""
    value = text.strip().lower()
    if value in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[value]
    if not _LANGUAGE.fullmatch(value):
        raise CellError(_("%(text)r is not a language code (like fr or en).") % {"text": text})
    return value.replace("_", "-")


def parse_birthday(text: str, *, today: dt.date) -> dt.date:
    value = parse_date(text)
    if value > today or value.year < 1900:
        raise CellError(_("%(text)r is not a plausible date of birth.") % {"text": text.strip()})
    return value
