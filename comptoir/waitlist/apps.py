from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WaitlistConfig(AppConfig):
    name = "comptoir.waitlist"
    label = "waitlist"

    def ready(self) -> None:
        from comptoir.inbox.filing import conversations_receive
        from comptoir.messaging.awaiting import awaited_kind_register
        from comptoir.messaging.inbound import INBOUND_STEPS
        from comptoir.waitlist.replies import REPLY_WINDOW, waitlist_replies_apply
        from comptoir.waitlist.texts import OFFER_KIND
        from comptoir.webhooks.services import webhook_event_register

        webhook_event_register(
            "opening.taken",
            _("A customer on the waitlist took a freed slot by answering its offer."),
        )
        awaited_kind_register(OFFER_KIND, REPLY_WINDOW)
        # After the compliance keywords and the appointment answers (a message they handled
        # has a kind and is left alone), before the inbox files the messages.
        if waitlist_replies_apply in INBOUND_STEPS:
            return
        if conversations_receive in INBOUND_STEPS:
            INBOUND_STEPS.insert(INBOUND_STEPS.index(conversations_receive), waitlist_replies_apply)
        else:
            INBOUND_STEPS.append(waitlist_replies_apply)
