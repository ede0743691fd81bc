"""Every row of a file checked against its mapping, into what the writer needs.

A row with any error is refused whole (never half a contact or a purchase without its
customer), and each of its errors is reported with the line and the column. Nothing here
touches the database: the check of a 100,000-row file is pure parsing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from comptoir.contacts.phones import parse_phone
from comptoir.core.errors import ValidationError
from comptoir.imports.mapping import ATTRIBUTE_PREFIX
from comptoir.imports.models import ImportKind
from comptoir.imports.readers import Row
from comptoir.imports.values import (
    CellError,
    parse_amount,
    parse_birthday,
    parse_consent,
    parse_date,
    parse_language,
)

# Longest text per field (the model's column sizes).
MAX_LENGTH = {
    "first_name": 100,
    "last_name": 100,
    "product_type": 64,
    "material": 64,
    "brand": 64,
    "store": 64,
    "receipt": 64,
    "tag": 64,
    "attribute": 500,
}
CONSENT_CHANNELS = {"consent_sms": "sms", "consent_email": "email"}
PURCHASE_TEXTS = ("product_type", "material", "brand", "store", "receipt")
UNCOMPUTED = _lazy(
    "A formula whose result was never saved in the file: open it in Excel or LibreOffice "
    "and save it again."
)


@dataclass(slots=True)
class ConsentAnswer:
    granted: bool
    line: int
    column: str
    value: str


@dataclass(slots=True)
class ContactRecord:
    line: int  # the first line that names this number
    phone: str
    number_type: str
    values: dict[str, Any] = field(default_factory=dict)  # only what the file says
    attributes: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    consent: dict[str, ConsentAnswer] = field(default_factory=dict)  # by channel


@dataclass(slots=True)
class PurchaseRecord:
    line: int
    phone: str
    purchased_on: dt.date
    amount: Decimal
    product_type: str
    material: str
    brand: str
    store: str
    receipt: str


@dataclass(slots=True)
class Checked:
    contacts: dict[str, ContactRecord] = field(default_factory=dict)  # by E.164, file order
    purchases: list[PurchaseRecord] = field(default_factory=list)
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # line, column, reason
    rows_total: int = 0
    rows_invalid: int = 0


def _required() -> Any:
    raise CellError(_("This cell is empty; it is required."))


def _text(text: str, name: str) -> str:
    limit = MAX_LENGTH.get(name, 255)
    if len(text) > limit:
        raise CellError(
            _("%(length)s characters: at most %(limit)s here.")
            % {"length": len(text), "limit": limit}
        )
    return text


def _email(text: str) -> str:
    try:
        validate_email(text)
    except DjangoValidationError:
        raise CellError(_("%(text)r is not an email address.") % {"text": text}) from None
    return text.lower()


def _tags(text: str) -> list[str]:
    names = [t.strip() for t in text.replace("|", ",").split(",") if t.strip()]
    for tag in names:
        _text(tag, "tag")
    return names


def _consent(text: str) -> tuple[bool, str] | None:
    answer = parse_consent(text)
    return None if answer is None else (answer, text)


class RowChecker:
    """Checks rows one by one, remembering numbers already seen in the file."""

    def __init__(self, *, header: Sequence[str], mapping: Sequence[str], kind: str, region: str):
        self.header = list(header)
        self.kind = kind
        self.region = region
        self.today = dt.date.today()
        self.result = Checked()
        self.column_of = {f: self.header[i] for i, f in enumerate(mapping) if f}
        self.parsers = [(i, f, self.header[i], self._parser(f)) for i, f in enumerate(mapping) if f]

    def check(self, row: Row) -> None:
        self.result.rows_total += 1
        errors: list[tuple[str, str]] = []
        cells = row.cells
        width = len(self.header)
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            errors.append(
                (
                    "",
                    _(
                        "This line has %(got)s cells, the header %(want)s: a cell holds the "
                        "delimiter without quotes, or the wrong delimiter was chosen."
                    )
                    % {"got": len(cells), "want": width},
                )
            )
        parsed: dict[str, Any] = {}
        for index, name, column, parser in self.parsers:
            if index in row.uncomputed:
                errors.append((column, str(UNCOMPUTED)))
                continue
            text = cells[index].strip() if index < len(cells) else ""
            try:
                parsed[name] = parser(text)
            except CellError as exc:
                errors.append((column, str(exc)))
            except ValidationError as exc:
                errors.append((column, exc.message))
        if not errors:
            errors = self._row_level(parsed)
        if errors:
            self.result.rows_invalid += 1
            self.result.errors.extend((row.line, column, reason) for column, reason in errors)
            return
        self._keep(row.line, parsed)

    def _parser(self, name: str) -> Callable[[str], Any]:
        """The function reading a cell of this field (chosen once per column, not per cell)."""
        if name == "phone":
            return lambda text: parse_phone(text, region=self.region)
        if name.startswith(ATTRIBUTE_PREFIX):
            return lambda text: _text(text, "attribute")
        if name in ("purchased_on", "amount"):
            parse = self._purchase_date if name == "purchased_on" else parse_amount
            return lambda text: parse(text) if text else _required()
        readers: dict[str, Callable[[str], Any]] = {
            "birthday": lambda text: parse_birthday(text, today=self.today),
            "language": parse_language,
            "email": _email,
            "tags": _tags,
            "consent_sms": _consent,
            "consent_email": _consent,
        }
        read = readers.get(name) or (lambda text: _text(text, name))
        return lambda text: read(text) if text else None

    def _purchase_date(self, text: str) -> dt.date:
        day = parse_date(text)
        if day > self.today + dt.timedelta(days=1):
            raise CellError(_("%(text)r is in the future.") % {"text": text})
        return day

    def _row_level(self, parsed: dict[str, Any]) -> list[tuple[str, str]]:
        """Checks across the file: a number twice in a contacts file."""
        phone = parsed["phone"].e164
        seen = self.result.contacts.get(phone)
        if seen is not None and self.kind == ImportKind.CONTACTS:
            return [
                (
                    self.column_of["phone"],
                    _("The same phone number (%(phone)s) as line %(line)s.")
                    % {"phone": phone, "line": seen.line},
                )
            ]
        return []

    def _keep(self, line: int, parsed: dict[str, Any]) -> None:
        phone = parsed.pop("phone")
        record = self.result.contacts.get(phone.e164)
        if record is None:
            record = ContactRecord(line, phone.e164, phone.number_type)
            self.result.contacts[phone.e164] = record
        for name, value in parsed.items():
            if value is None or value == "":
                continue
            if name.startswith(ATTRIBUTE_PREFIX):
                record.attributes.setdefault(name.removeprefix(ATTRIBUTE_PREFIX), value)
            elif name == "tags":
                record.tags.extend(t for t in value if t not in record.tags)
            elif name in CONSENT_CHANNELS:
                # A later line is a later statement (exports run oldest first).
                granted, text = value
                record.consent[CONSENT_CHANNELS[name]] = ConsentAnswer(
                    granted, line, self.column_of[name], text
                )
            elif name in ("first_name", "last_name", "email", "birthday", "language"):
                record.values.setdefault(name, value)
        if self.kind == ImportKind.PURCHASES:
            self.result.purchases.append(
                PurchaseRecord(
                    line,
                    phone.e164,
                    parsed["purchased_on"],
                    parsed["amount"],
                    *(parsed.get(name) or "" for name in PURCHASE_TEXTS),
                )
            )


def check_rows(
    rows: Iterable[tuple[Row, int]],
    *,
    header: Sequence[str],
    mapping: Sequence[str],
    kind: str,
    region: str,
    progress: Callable[[int], None] | None = None,
    every: int = 5000,
) -> Checked:
    """Check every row after the header; `progress` gets the position every `every` rows."""
    checker = RowChecker(header=header, mapping=mapping, kind=kind, region=region)
    it = iter(rows)
    next(it, None)  # the header
    for count, (row, position) in enumerate(it, start=1):
        checker.check(row)
        if progress is not None and count % every == 0:
            progress(position)
    return checker.result
