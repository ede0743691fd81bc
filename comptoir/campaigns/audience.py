"""Who a campaign goes to: every contact, the contacts with a tag, or a saved segment.

Audiences are query sets, evaluated in SQL: counting one, finding its longest first
name or freezing it into recipients never loads its contacts into Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Count, Func, QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, Length
from django.utils.translation import gettext as _

from comptoir.contacts.models import Contact, Tag
from comptoir.core.errors import ValidationError
from comptoir.segments.models import Segment
from comptoir.segments.query import segment_queryset
from comptoir.workspaces.models import Workspace

if TYPE_CHECKING:
    from comptoir.campaigns.models import Campaign


def audience_queryset(
    *, workspace: Workspace, kind: str, tag: Tag | None = None, segment: Segment | None = None
) -> QuerySet[Contact]:
    """The contacts an audience names, prospects left out (nobody typed them in)."""
    contacts = Contact.objects.for_workspace(workspace).filter(is_prospect=False)
    if kind == "all":
        return contacts
    if kind == "tag":
        if tag is None or tag.workspace_id != workspace.id:
            raise ValidationError(_("Choose a tag for this audience."), field="tag")
        return contacts.filter(tags=tag)
    if kind == "segment":
        if segment is None:
            raise ValidationError(_("Choose a segment for this audience."), field="segment")
        return segment_queryset(segment, workspace).filter(is_prospect=False)
    raise ValidationError(_("Unknown audience %(kind)r.") % {"kind": kind}, field="audience_kind")


def campaign_audience(campaign: Campaign) -> QuerySet[Contact]:
    return audience_queryset(
        workspace=campaign.workspace,
        kind=campaign.audience_kind,
        tag=campaign.tag,
        segment=campaign.segment,
    )


def longest_values(
    contacts: QuerySet[Contact], columns: tuple[str, ...], attributes: tuple[str, ...]
) -> dict[str, str]:
    """The longest value of each variable in the audience, one ORDER BY … LIMIT 1 each."""
    found: dict[str, str] = {}
    for name in columns:
        found[name] = (
            contacts.annotate(_len=Coalesce(Length(name), 0))
            .order_by("-_len")
            .values_list(name, flat=True)
            .first()
            or ""
        )
    for name in attributes:
        value = KeyTextTransform(name, "attributes")
        found[name] = (
            contacts.annotate(_value=value, _len=Coalesce(Length(value), 0))
            .order_by("-_len")
            .values_list("_value", flat=True)
            .first()
            or ""
        )
    return found


class _Prefix(Func):
    """The first four characters of a number ("+336"): enough to tell its country."""

    function = "SUBSTR"
    output_field = TextField()

    def __init__(self, expression: Any) -> None:
        super().__init__(expression, 1, 4, output_field=TextField())


def counts_by_prefix(contacts: QuerySet[Contact]) -> dict[str, int]:
    rows = (
        contacts.order_by()
        .annotate(prefix=_Prefix("phone"))
        .values("prefix")
        .annotate(n=Count("id"))
        .values_list("prefix", "n")
    )
    return {prefix or "": n for prefix, n in rows}
