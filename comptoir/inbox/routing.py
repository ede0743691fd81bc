"""Where the inbox plugs into the inbound path (called once, from the app's ready())."""

from __future__ import annotations


def register() -> None:
    from django.db.models.signals import post_save

    from comptoir.channels.hooks import channels_forget
    from comptoir.inbox.autoanswers import seed_on_settings_created
    from comptoir.inbox.autoreply import auto_answers_reply
    from comptoir.inbox.calls import calls_store
    from comptoir.inbox.filing import conversations_receive
    from comptoir.inbox.models import InboxSettings
    from comptoir.messaging.inbound import channel_event_step_add, inbound_step_add

    # After the compliance step (keywords), which runs first: its app is listed first.
    # Auto-answers come after filing: they read `message.conversation`.
    inbound_step_add(conversations_receive)
    inbound_step_add(auto_answers_reply)
    channel_event_step_add(calls_store)
    # The webhook view keeps channels (and the inbox settings their workspace carries).
    post_save.connect(channels_forget, sender=InboxSettings, dispatch_uid="inbox_channels_forget")
    post_save.connect(
        seed_on_settings_created, sender=InboxSettings, dispatch_uid="inbox_auto_answers_seed"
    )
