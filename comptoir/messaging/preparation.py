"""Checking one requested message and measuring its text for its channel.

What a request says is checked field by field before anything is written (errors name
the field, e.g. `messages.3.body`); its text is then measured as it will go: SMS
encoding and segments, a voice call's text, an email's subject.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.channels.models import Channel
from comptoir.compliance.countries import marketing_text
from comptoir.compliance.policy import policy_for_workspace
from comptoir.core.errors import ValidationError
from comptoir.messaging.encoding import Replacement, analyze
from comptoir.messaging.models import Medium, Message, Purpose
from comptoir.messaging.recipients import EMAIL, field_name
from comptoir.messaging.voice import VOICE_MAX_CHARS, check_voice_channel
from comptoir.workspaces.models import Workspace

if TYPE_CHECKING:
    from comptoir.messaging.outbox import SendRequest


@dataclass(frozen=True, slots=True)
class Prepared:
    """A request checked and measured: its channel, and the text as it will go."""

    channel: Channel
    text: str
    encoding: str
    segments: int
    subject: str = ""
    replacements: tuple[Replacement, ...] = ()
    medium: str = Medium.TEXT


# An email body beyond this is a mistake (a pasted file), not a message to a customer.
EMAIL_MAX_CHARS = 100_000
SUBJECT_MAX_CHARS = Message._meta.get_field("subject").max_length or 200
# Django builds an enum's `.values` anew at each read: sets built once for the checks.
PURPOSES, MEDIUMS = frozenset(Purpose.values), frozenset(Medium.values)


def prepare(
    workspace: Workspace, request: SendRequest, channel: Channel, prefix: str, index: int
) -> Prepared:
    """Check one request's fields and measure its text for its channel (field named)."""
    if request.purpose not in PURPOSES:
        raise ValidationError(
            _("Unknown purpose %(purpose)r: use one of %(choices)s.")
            % {"purpose": request.purpose, "choices": ", ".join(sorted(Purpose.values))},
            field=field_name(prefix, index, "purpose"),
        )
    if not request.body or not request.body.strip():
        raise ValidationError(
            _("The message body is empty."), field=field_name(prefix, index, "body")
        )
    if request.send_at is not None and timezone.is_naive(request.send_at):
        raise ValidationError(
            _("send_at needs a time zone (e.g. 2026-11-24T10:00:00+01:00)."),
            field=field_name(prefix, index, "send_at"),
        )
    if request.medium not in MEDIUMS:
        raise ValidationError(
            _("Unknown medium %(medium)r: use one of %(choices)s.")
            % {"medium": request.medium, "choices": ", ".join(Medium.values)},
            field=field_name(prefix, index, "medium"),
        )
    if request.medium == Medium.VOICE:
        return _prepare_voice(request, channel, prefix, index)
    if request.gather_digits:
        raise ValidationError(
            _('Only voice calls listen for keys (medium "voice").'),
            field=field_name(prefix, index, "gather_digits"),
        )
    if channel.scheme == EMAIL:
        return _prepare_email(workspace, request, channel, prefix, index)
    if request.subject:
        raise ValidationError(
            _("Only emails have a subject; this message goes by %(scheme)s.")
            % {"scheme": channel.scheme},
            field=field_name(prefix, index, "subject"),
        )
    body = request.body
    if request.purpose == Purpose.MARKETING:
        body = marketing_text(body, policy_for_workspace(workspace))
    info = analyze(body)
    if info.segments > workspace.segment_cap:
        raise ValidationError(
            _("The body is %(n)d SMS segments long; this workspace allows %(cap)d.")
            % {"n": info.segments, "cap": workspace.segment_cap},
            field=field_name(prefix, index, "body"),
        )
    return Prepared(
        channel, info.text, info.encoding.value, info.segments, replacements=info.replacements
    )


def _prepare_voice(request: SendRequest, channel: Channel, prefix: str, index: int) -> Prepared:
    # Read aloud as written: no SMS encoding, no opt-out mention (a call has no STOP
    # reply); one call counts as one unit for rate limits and costs.
    check_voice_channel(channel, field=field_name(prefix, index, "channel"))
    if request.subject:
        raise ValidationError(
            _("Only emails have a subject; this message is a voice call."),
            field=field_name(prefix, index, "subject"),
        )
    if not 0 <= request.gather_digits <= 9:
        raise ValidationError(
            _("gather_digits is %(n)d: a call listens for 0 to 9 keys.")
            % {"n": request.gather_digits},
            field=field_name(prefix, index, "gather_digits"),
        )
    if len(request.body) > VOICE_MAX_CHARS:
        raise ValidationError(
            _("The body is %(n)d characters long; a call reads at most %(max)d.")
            % {"n": len(request.body), "max": VOICE_MAX_CHARS},
            field=field_name(prefix, index, "body"),
        )
    return Prepared(channel, request.body.strip(), Medium.VOICE, 1, medium=Medium.VOICE)


def _prepare_email(
    workspace: Workspace, request: SendRequest, channel: Channel, prefix: str, index: int
) -> Prepared:
    # No SMS opt-out mention: an email's way out is its unsubscribe link and header.
    if len(request.body) > EMAIL_MAX_CHARS:
        raise ValidationError(
            _("The body is %(n)d characters long; an email may have at most %(max)d.")
            % {"n": len(request.body), "max": EMAIL_MAX_CHARS},
            field=field_name(prefix, index, "body"),
        )
    subject = " ".join(request.subject.split()) if request.subject else ""
    if "\n" in request.subject or "\r" in request.subject:
        raise ValidationError(
            _("The subject must be one line."), field=field_name(prefix, index, "subject")
        )
    if len(subject) > SUBJECT_MAX_CHARS:
        raise ValidationError(
            _("The subject is %(n)d characters long; at most %(max)d.")
            % {"n": len(subject), "max": SUBJECT_MAX_CHARS},
            field=field_name(prefix, index, "subject"),
        )
    return Prepared(channel, request.body, EMAIL, 1, subject or workspace.name)
