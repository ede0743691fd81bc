"""Voice messages: which channels can place calls, and what a call may say.

A voice message is an ordinary `Message` (`medium="voice"`) on a phone channel whose
provider type has `voice = True`: the same outbox, compliance and dispatcher as a text.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from comptoir.channels.models import Channel, ChannelStatus
from comptoir.core.errors import ValidationError
from comptoir.providers.registry import UnknownProvider, provider_type
from comptoir.workspaces.models import Workspace

# Text-to-speech of more than this is a mistake (a pasted document), not a message.
VOICE_MAX_CHARS = 1000


def can_call(channel: Channel) -> bool:
    """True when the channel's provider type places calls (sandbox, Twilio)."""
    try:
        return bool(provider_type(channel.provider).voice) and channel.scheme != "email"
    except UnknownProvider:
        return False


def check_voice_channel(channel: Channel, *, field: str) -> None:
    if not can_call(channel):
        raise ValidationError(
            _("Channel %(name)s cannot place calls (its provider has no voice).")
            % {"name": channel.name},
            field=field,
        )


def voice_channels(workspace: Workspace) -> list[Channel]:
    """The workspace's enabled channels that can place calls, the default one first."""
    channels = (
        Channel.objects.for_workspace(workspace)
        .exclude(status=ChannelStatus.DISABLED)
        .exclude(scheme="email")
        .order_by("-is_default", "created_at")
    )
    return [c for c in channels if can_call(c)]


def voice_channel(workspace: Workspace, *, field: str) -> Channel:
    """The channel a call goes on when the request names none (field named when none can)."""
    found = voice_channels(workspace)
    if not found:
        raise ValidationError(
            _("This workspace has no channel that can place calls (sandbox or Twilio)."),
            field=field,
        )
    return found[0]
