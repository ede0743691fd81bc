"""Writing segments: create, change, delete. Every interface (API, pages) calls these."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from comptoir.core.errors import Conflict, ValidationError
from comptoir.segments.definition import definition_clean
from comptoir.segments.models import Segment
from comptoir.workspaces.models import Workspace

NAME_MAX = Segment._meta.get_field("name").max_length or 100


class DuplicateSegment(Conflict):
    code = "duplicate_segment"


def _name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError(_("Give the segment a name."), field="name")
    if len(name) > NAME_MAX:
        raise ValidationError(
            _("A segment name has at most %(n)d characters.") % {"n": NAME_MAX}, field="name"
        )
    return name


def _saved(segment: Segment) -> Segment:
    try:
        with transaction.atomic():
            segment.save()
    except IntegrityError:
        raise DuplicateSegment(
            _("A segment named “%(name)s” already exists.") % {"name": segment.name},
            field="name",
        ) from None
    return segment


def segment_create(
    *, workspace: Workspace, name: str, definition: Any, actor: Any = None
) -> Segment:
    """Save a new segment; its definition is checked and stored in canonical form."""
    segment = Segment(
        workspace=workspace,
        name=_name(name),
        definition=definition_clean(definition),
        created_by=actor,
        updated_by=actor,
    )
    return _saved(segment)


def segment_update(
    *, segment: Segment, name: str | None = None, definition: Any = None, actor: Any = None
) -> Segment:
    """Change a segment's name and/or definition (None leaves it as it is)."""
    if name is not None:
        segment.name = _name(name)
    if definition is not None:
        segment.definition = definition_clean(definition)
    segment.updated_by = actor
    return _saved(segment)


def segment_delete(*, segment: Segment) -> None:
    """Delete a segment, unless something (a campaign) still points at it."""
    try:
        segment.delete()
    except ProtectedError:
        raise Conflict(
            _("This segment is used by a campaign; it cannot be deleted."), code="segment_in_use"
        ) from None
