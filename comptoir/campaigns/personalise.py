"""A campaign's text made ready for each recipient: variables, links, mention, encoding.

The text is checked once (syntax, known variables, links) and then filled per
recipient. Filling is cached by the recipient's values: an audience of 100,000 shares a
few thousand first names, so rendering, the opt-out mention and the encoding are worked
out once per distinct set of values, and only the link codes differ per recipient.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.utils.translation import gettext as _

from comptoir.campaigns.links import (
    CODE_LENGTH,
    LINK_PREFIX,
    FoundUrl,
    short_base,
    template_with_links,
    urls_find,
)
from comptoir.compliance.countries import CountryPolicy, marketing_text
from comptoir.contacts.models import Contact
from comptoir.core.bulk import convert
from comptoir.core.errors import ValidationError
from comptoir.messaging.encoding import Replacement, analyze
from comptoir.messaging.templating import placeholders, render
from comptoir.workspaces.models import Workspace

# Distinct sets of values kept filled; beyond, the cache starts again (memory stays flat).
CACHE_SIZE = 20_000
# Contact columns a text may use; any key of the contacts' `attributes` may be used too.
CONTACT_VARIABLES = ("first_name", "last_name")


def attribute_names(workspace: Workspace) -> set[str]:
    """Every key found in the workspace's contacts' attributes (one query, in SQL)."""
    table = connection.ops.quote_name(Contact._meta.db_table)
    workspace_id = convert(Contact._meta.get_field("workspace"), workspace.id)
    if connection.vendor == "postgresql":
        sql = (
            f"SELECT DISTINCT jsonb_object_keys(attributes) FROM {table} "  # noqa: S608
            "WHERE workspace_id = %s AND jsonb_typeof(attributes) = 'object'"
        )
    else:
        sql = (
            f"SELECT DISTINCT j.key FROM {table}, json_each({table}.attributes) AS j "  # noqa: S608
            f"WHERE {table}.workspace_id = %s AND json_type({table}.attributes) = 'object'"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, [workspace_id])
        return {key for (key,) in cursor.fetchall() if key.isidentifier()}


@dataclass(frozen=True)
class CompiledText:
    """A campaign text checked: its URLs, the variables it uses, the template to fill."""

    body: str
    urls: tuple[FoundUrl, ...]
    template: str  # the body with each URL replaced by {__linkN}
    columns: tuple[str, ...]  # contact columns used
    attributes: tuple[str, ...]  # attribute keys used


def text_compile(
    body: str, *, known_attributes: set[str] | frozenset[str], field: str = "body"
) -> CompiledText:
    """Check a campaign text; raises ValidationError naming the problem (and the field)."""
    if not body.strip():
        raise ValidationError(_("The message is empty."), field=field)
    urls = tuple(urls_find(body, field=field))
    template = template_with_links(body, list(urls))
    used = []
    for placeholder in placeholders(template, field=field):
        name = placeholder.name
        if name.startswith(LINK_PREFIX):
            continue
        if name not in CONTACT_VARIABLES and name not in known_attributes:
            available = sorted({*CONTACT_VARIABLES, *known_attributes})
            raise ValidationError(
                _("Unknown variable {%(name)s}: available are %(known)s.")
                % {"name": name, "known": ", ".join(f"{{{a}}}" for a in available)},
                field=field,
            )
        used.append(name)
    names = tuple(dict.fromkeys(used))
    return CompiledText(
        body=body,
        urls=urls,
        template=template,
        columns=tuple(n for n in names if n in CONTACT_VARIABLES),
        attributes=tuple(n for n in names if n not in CONTACT_VARIABLES),
    )


@dataclass(frozen=True, slots=True)
class Filled:
    """One recipient's text, with sentinels where their links go, and what it costs."""

    text: str
    encoding: str
    segments: int
    units: int
    replacements: tuple[Replacement, ...]


def _sentinel(index: int) -> str:
    # NUL never reaches us from a contact's data (values are cleaned of it).
    return f"\x00{index}\x00"


@dataclass
class Personaliser:
    """Fills a compiled text for recipients, caching by the values that differ."""

    compiled: CompiledText
    policy: CountryPolicy
    base: str = field(default_factory=short_base)
    _cache: dict[tuple[str, ...], Filled] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return self.compiled.columns + self.compiled.attributes

    def values_of(self, row: Mapping[str, Any]) -> tuple[str, ...]:
        """The values this text uses, from a row with the contact's columns and attributes."""
        attributes = row.get("attributes") or {}
        out = [_clean(row.get(name)) for name in self.compiled.columns]
        if self.compiled.attributes:
            if not isinstance(attributes, dict):
                attributes = {}
            out += [_clean(attributes.get(name)) for name in self.compiled.attributes]
        return tuple(out)

    def fill(self, values: tuple[str, ...]) -> Filled:
        found = self._cache.get(values)
        if found is None:
            if len(self._cache) >= CACHE_SIZE:
                # A text using unique values (a last name…) must not grow with the audience.
                self._cache.clear()
            found = self._cache[values] = self._fill(values)
        return found

    def _fill(self, values: tuple[str, ...]) -> Filled:
        mapping: dict[str, object] = dict(zip(self.names, values, strict=True))
        mapping.update({f"{LINK_PREFIX}{i}": _sentinel(i) for i in range(len(self.compiled.urls))})
        text = marketing_text(render(self.compiled.template, mapping), self.policy)
        # Measured with links at their final size (the codes are all the same length).
        sized = self.with_links(text, ["x" * CODE_LENGTH] * len(self.compiled.urls))
        info = analyze(sized)
        for r in info.replacements:
            text = text.replace(r.original, r.replacement)
        return Filled(text, info.encoding.value, info.segments, info.units, info.replacements)

    def with_links(self, text: str, codes: Sequence[str]) -> str:
        for index, code in enumerate(codes):
            text = text.replace(_sentinel(index), self.base + code)
        return text


def _clean(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("\x00", "").strip()
