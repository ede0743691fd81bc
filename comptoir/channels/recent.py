"""Channels read lately, for the paths that read one per delivery: the webhook view, and
an SMPP bind storing what its SMSC delivered."""

from __future__ import annotations

import time
import uuid

from django.db.models import Model
from django.db.models.signals import post_delete, post_save

from comptoir.channels.models import Channel
from comptoir.workspaces.models import Workspace

# Reading a channel (and decrypting its secrets) costs a fifth of an inbound webhook. A
# change is seen at once in this process (the signals below) and within CHANNEL_TTL
# seconds in the others. Unknown ids are never kept.
CHANNEL_TTL = 2.0
CHANNEL_CACHE_SIZE = 10_000
_recent: dict[uuid.UUID | str, tuple[float, Channel]] = {}


def channel_recent(channel_uuid: uuid.UUID | str) -> Channel | None:
    """The channel with its workspace, as read at most CHANNEL_TTL seconds ago."""
    now = time.monotonic()
    kept = _recent.get(channel_uuid)
    if kept is not None and now - kept[0] < CHANNEL_TTL:
        return kept[1]
    channel = Channel.objects.select_related("workspace").filter(id=channel_uuid).first()
    if channel is not None:
        if len(_recent) >= CHANNEL_CACHE_SIZE:
            _recent.clear()
        _recent[channel_uuid] = (now, channel)
    return channel


def channels_forget(sender: type[Model], **kwargs: object) -> None:
    """A channel, its workspace or what the workspace object carries changed: read
    channels afresh. Connected to those models only, not to every save."""
    _recent.clear()


for _model in (Channel, Workspace):
    post_save.connect(channels_forget, sender=_model, dispatch_uid=f"channels_forget_{_model}")
    post_delete.connect(channels_forget, sender=_model, dispatch_uid=f"channels_forget_{_model}")
