"""What a segment definition may say, checked before anything is saved or counted.

A definition is a list of conditions combined with "all" or "any"; a condition may itself
be a group (conditions combined with "all" or "any"), one level deep:

    {"match": "all", "conditions": [
        {"kind": "bought", "product_type": "jewellery", "material": "gold"},
        {"kind": "not_bought_since", "months": 12},
        {"match": "any", "conditions": [
            {"kind": "consent", "channel": "sms"},
            {"kind": "consent", "channel": "email"}]}]}

Any condition takes `"not": true` to mean its opposite (has not this tag…). A bare list
is read as {"match": "all", "conditions": list}. `definition_clean` returns the
definition in one canonical form (defaults filled in, values normalised), or raises a
ValidationError whose field is the condition's path ("conditions.2.months", counted from
0 as every field path of the API) and whose message names it as people count (from 1).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from comptoir.core.errors import ValidationError

Condition = dict[str, Any]
MATCHES = ("all", "any")
MAX_CONDITIONS = 50
MAX_TEXT = 64  # the Purchase and Tag columns' length
PURCHASE_FIELDS = ("product_type", "material", "brand", "store")
PURCHASE_FILTERS = (*PURCHASE_FIELDS, "from", "to")
# Custom attribute keys become part of a JSON path: plain names only.
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
INTEREST_PREFIX = "interest:"


class _Where:
    """Where in the definition a value sits, for error messages and field paths."""

    def __init__(self, path: str, label: str, kind: str = "") -> None:
        self.path, self.label, self.kind = path, label, kind

    def error(self, key: str, message: str) -> ValidationError:
        kind = f" ({self.kind})" if self.kind else ""
        return ValidationError(
            _("%(where)s%(kind)s, %(key)s: %(message)s")
            % {"where": self.label, "kind": kind, "key": key, "message": message},
            field=f"{self.path}.{key}",
        )


def _text(where: _Where, key: str, value: Any, *, max_length: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or not value.strip():
        raise where.error(key, _("must be a non-empty text."))
    value = " ".join(value.split())
    if len(value) > max_length:
        raise where.error(key, _("at most %(n)d characters.") % {"n": max_length})
    return value


def _texts(where: _Where, key: str, value: Any) -> str | list[str]:
    """One text or a list of them (any of which matches): one stays a text, several a list
    in one canonical order."""
    items = value if isinstance(value, list) else [value]
    if not items or len(items) > MAX_CONDITIONS:
        raise where.error(key, _("give one text or a list of 1 to %(n)d.") % {"n": MAX_CONDITIONS})
    # Compared without case: "Gold" and "gold" are one value, kept as first written.
    unique: dict[str, str] = {}
    for item in items:
        text = _text(where, key, item)
        unique.setdefault(text.lower(), text)
    values = [unique[k] for k in sorted(unique)]
    return values[0] if len(values) == 1 else values


def _whole(where: _Where, key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise where.error(
            key, _("must be a whole number from %(low)d to %(high)d.") % {"low": low, "high": high}
        )
    return value


def _amount(where: _Where, key: str, value: Any) -> str:
    try:
        amount = Decimal(str(value)) if not isinstance(value, bool) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount > Decimal("1e9"):
        raise where.error(key, _("must be an amount of at least 0, e.g. 150 or 99.90."))
    return str(amount.quantize(Decimal("0.01")))


def _date(where: _Where, key: str, value: Any) -> str:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise where.error(key, _("must be a date written YYYY-MM-DD, e.g. 2025-12-31."))


def _flag(where: _Where, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise where.error(key, _("must be true or false."))
    return value


def _choice(where: _Where, key: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise where.error(key, _("must be one of %(choices)s.") % {"choices": ", ".join(choices)})
    return str(value)


def _purchase_filters(where: _Where, raw: Condition, out: Condition) -> None:
    for key in PURCHASE_FIELDS:
        if key in raw:
            out[key] = _texts(where, key, raw[key])
    for key in ("from", "to"):
        if key in raw:
            out[key] = _date(where, key, raw[key])
    if "from" in out and "to" in out and out["from"] > out["to"]:
        raise where.error("to", _("is before “from”."))


def _range(where: _Where, raw: Condition, out: Condition, read: Callable[..., Any]) -> None:
    for key in ("min", "max"):
        if raw.get(key) is not None:
            out[key] = read(where, key, raw[key])
    if "min" not in out and "max" not in out:
        raise where.error("min", _("give a minimum, a maximum or both."))
    if "min" in out and "max" in out and Decimal(out["min"]) > Decimal(out["max"]):
        raise where.error("max", _("is below the minimum."))


def _language(where: _Where, raw: Condition, out: Condition) -> None:
    codes = raw.get("languages")
    if not isinstance(codes, list) or not codes:
        raise where.error("languages", _('give a list of language codes, e.g. ["fr", "en"].'))
    out["languages"] = sorted({_text(where, "languages", c, max_length=8).lower() for c in codes})


def _birthday_month(where: _Where, raw: Condition, out: Condition) -> None:
    months = raw.get("months")
    if not isinstance(months, list) or not months:
        raise where.error("months", _("give a list of months, 1 (January) to 12."))
    out["months"] = sorted({_whole(where, "months", m, 1, 12) for m in months})


def _prospect(where: _Where, raw: Condition, out: Condition) -> None:
    out["value"] = _flag(where, "value", raw.get("value", True))


def _attribute(where: _Where, raw: Condition, out: Condition) -> None:
    key = raw.get("key")
    if not isinstance(key, str) or not ATTRIBUTE_KEY.match(key):
        raise where.error(
            "key", _("must be an attribute name: letters, digits and _, e.g. loyalty_level.")
        )
    value = raw.get("value")
    if isinstance(value, str):
        value = _text(where, "value", value, max_length=200)
    elif isinstance(value, float) and not math.isfinite(value):  # JSON may say NaN: refuse
        value = None
    if not isinstance(value, str | int | float | bool):
        raise where.error("value", _("must be a text, a number, true or false."))
    out["key"], out["value"] = key, value


def _tag(where: _Where, raw: Condition, out: Condition) -> None:
    out["tag"] = _text(where, "tag", raw.get("tag"))


def _interest(where: _Where, raw: Condition, out: Condition) -> None:
    name = _text(where, "interest", raw.get("interest"), max_length=MAX_TEXT - len(INTEREST_PREFIX))
    out["interest"] = name.lower()


def _bought(where: _Where, raw: Condition, out: Condition) -> None:
    _purchase_filters(where, raw, out)


def _not_bought_since(where: _Where, raw: Condition, out: Condition) -> None:
    out["months"] = _whole(where, "months", raw.get("months"), 1, 600)


def _total_spent(where: _Where, raw: Condition, out: Condition) -> None:
    _range(where, raw, out, _amount)
    _purchase_filters(where, raw, out)


def _purchase_count(where: _Where, raw: Condition, out: Condition) -> None:
    _range(where, raw, out, lambda w, k, v: _whole(w, k, v, 0, 1_000_000))
    _purchase_filters(where, raw, out)


def _consent(where: _Where, raw: Condition, out: Condition) -> None:
    out["channel"] = _choice(where, "channel", raw.get("channel", "sms"), ("sms", "email"))
    out["purpose"] = _choice(
        where, "purpose", raw.get("purpose", "marketing"), ("marketing", "service")
    )
    out["state"] = _choice(where, "state", raw.get("state", "granted"), CONSENT_STATES)


CONSENT_STATES = ("granted", "revoked", "none")

Reader = Callable[[_Where, Condition, Condition], None]
# kind -> (reader, the keys it reads besides "kind" and "not")
KINDS: dict[str, tuple[Reader, tuple[str, ...]]] = {
    "language": (_language, ("languages",)),
    "birthday_month": (_birthday_month, ("months",)),
    "prospect": (_prospect, ("value",)),
    "attribute": (_attribute, ("key", "value")),
    "tag": (_tag, ("tag",)),
    "interest": (_interest, ("interest",)),
    "bought": (_bought, PURCHASE_FILTERS),
    "not_bought_since": (_not_bought_since, ("months",)),
    "total_spent": (_total_spent, ("min", "max", *PURCHASE_FILTERS)),
    "purchase_count": (_purchase_count, ("min", "max", *PURCHASE_FILTERS)),
    "consent": (_consent, ("channel", "purpose", "state")),
}


def _condition(raw: Any, where: _Where, *, nested: bool) -> Condition:
    if not isinstance(raw, dict):
        raise ValidationError(
            _("%(where)s: must be an object with a “kind”.") % {"where": where.label},
            field=where.path,
        )
    if "conditions" in raw or "match" in raw:
        if nested:
            raise ValidationError(
                _("%(where)s: groups go one level deep; put these conditions in the group above.")
                % {"where": where.label},
                field=where.path,
            )
        return _group(raw, where)
    kind = raw.get("kind")
    if kind not in KINDS:
        raise where.error(
            "kind", _("must be one of %(kinds)s.") % {"kinds": ", ".join(sorted(KINDS))}
        )
    where.kind = kind
    reader, keys = KINDS[kind]
    unknown = sorted(set(raw) - {"kind", "not", *keys})
    if unknown:
        raise where.error(
            unknown[0],
            _("is not a setting of this kind of condition (it takes %(keys)s).")
            % {"keys": ", ".join(keys)},
        )
    out: Condition = {"kind": kind}
    reader(where, raw, out)
    if _flag(where, "not", raw.get("not", False)):
        out["not"] = True
    return out


def _group(raw: Condition, where: _Where) -> Condition:
    unknown = sorted(set(raw) - {"match", "conditions"})
    if unknown:
        raise where.error(unknown[0], _("a group takes only “match” and “conditions”."))
    match = _choice(where, "match", raw.get("match", "all"), MATCHES)
    items = raw.get("conditions")
    if not isinstance(items, list) or not items or len(items) > MAX_CONDITIONS:
        raise where.error(
            "conditions", _("a group needs 1 to %(n)d conditions.") % {"n": MAX_CONDITIONS}
        )
    inner = [
        _condition(
            item,
            _Where(
                f"{where.path}.conditions.{i}",
                _("%(group)s, sub-condition %(n)d") % {"group": where.label, "n": i + 1},
            ),
            nested=True,
        )
        for i, item in enumerate(items)
    ]
    return {"match": match, "conditions": inner}


def definition_clean(raw: Any) -> dict[str, Any]:
    """The definition checked and in canonical form, or a ValidationError naming the
    condition and its setting."""
    if isinstance(raw, list):
        raw = {"match": "all", "conditions": raw}
    if not isinstance(raw, dict):
        raise ValidationError(
            _("A segment definition is an object: {“match”: “all”, “conditions”: […]}."),
            field="definition",
        )
    unknown = sorted(set(raw) - {"match", "conditions"})
    if unknown:
        raise ValidationError(
            _("A definition takes only “match” and “conditions”, not “%(key)s”.")
            % {"key": unknown[0]},
            field=unknown[0],
        )
    if raw.get("match", "all") not in MATCHES:
        raise ValidationError(_("“match” must be “all” or “any”."), field="match")
    items = raw.get("conditions", [])
    if not isinstance(items, list) or len(items) > MAX_CONDITIONS:
        raise ValidationError(
            _("“conditions” must be a list of at most %(n)d conditions.") % {"n": MAX_CONDITIONS},
            field="conditions",
        )
    conditions = [
        _condition(
            item,
            _Where(f"conditions.{i}", _("Condition %(n)d") % {"n": i + 1}),
            nested=False,
        )
        for i, item in enumerate(items)
    ]
    return {"match": raw.get("match", "all"), "conditions": conditions}
