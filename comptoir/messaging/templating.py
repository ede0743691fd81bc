"""Message templates: `{first_name}`, `{first_name|there}`, and nothing else.

A deliberately small engine: a placeholder names one value from a flat mapping of
strings, with an optional default after `|`. There is no attribute access, indexing,
call or filter, so a template written by staff can never reach a Python object.
`{{` and `}}` write literal braces. An unknown name is an error before anything is sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.utils.translation import gettext as _

from comptoir.core.errors import ValidationError

# A placeholder: letters, digits and underscores, then an optional |default (no braces).
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}|]*)(?:\|([^{}]*))?\}|[{}]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True, slots=True)
class Placeholder:
    name: str
    default: str | None


def placeholders(template: str, *, field: str = "body") -> list[Placeholder]:
    """The placeholders of a template, in order; raises on a malformed one."""
    found = []
    for match in _TOKEN.finditer(template):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        if token in ("{", "}"):
            raise ValidationError(
                _("Unmatched %(brace)r at character %(at)d: write %(double)s for a brace.")
                % {"brace": token, "at": match.start() + 1, "double": token * 2},
                field=field,
            )
        name = match.group(1).strip()
        if not _NAME.match(name):
            raise ValidationError(
                _("%(token)s is not a variable: use a name like {first_name}.") % {"token": token},
                field=field,
            )
        found.append(Placeholder(name, match.group(2)))
    return found


def template_check(template: str, known: set[str] | frozenset[str], *, field: str = "body") -> None:
    """Refuse a template naming a variable that is not one of `known`."""
    for placeholder in placeholders(template, field=field):
        if placeholder.name not in known:
            raise ValidationError(
                _("Unknown variable {%(name)s}: available are %(known)s.")
                % {"name": placeholder.name, "known": ", ".join(sorted(known)) or "none"},
                field=field,
            )


def render(template: str, values: Mapping[str, object], *, field: str = "body") -> str:
    """Fill a template; a missing or empty value takes its default, else stays empty.

    Raises ValidationError for a malformed template or a name not in `values` at all
    (a typo, not a gap), before anything is filled.
    """
    template_check(template, frozenset(values), field=field)

    def fill(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        value = values[match.group(1).strip()]
        text = "" if value is None else str(value)
        return text if text else (match.group(2) or "")

    return _TOKEN.sub(fill, template)
