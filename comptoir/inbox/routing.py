"""Where the inbox plugs into the inbound path (called once, from the app's ready())."""

from __future__ import annotations


def register() -> None:
    from django.db.models.signals import post_save

    from comptoir.inbox.autoanswers import seed_on_settings_created
    from comptoir.inbox.autoreply import auto_answers_reply
    from comptoir.inbox.calls import calls_store
    from comptoir.inbox.filing import conversations_receive
    from comptoir.inbox.models import AutoAnswer, InboxSettings, Team, TeamMember
    from comptoir.messaging.inbound import channel_event_step_add, inbound_step_add
    from comptoir.workspaces.memo import memo_sources

    # After the compliance step (keywords), which runs first: its app is listed first.
    # Auto-answers come after filing: they read `message.conversation`.
    inbound_step_add(conversations_receive)
    inbound_step_add(auto_answers_reply)
    channel_event_step_add(calls_store)
    # Kept in the workspace's memo (comptoir.workspaces.memo): read again when one changes.
    memo_sources(InboxSettings, AutoAnswer, Team, TeamMember)
    post_save.connect(
        seed_on_settings_created, sender=InboxSettings, dispatch_uid="inbox_auto_answers_seed"
    )
