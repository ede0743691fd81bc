from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WaitlistConfig(AppConfig):
    name = "comptoir.waitlist"
    label = "waitlist"

    def ready(self) -> None:
        from comptoir.inbox.filing import conversations_receive
        from comptoir.messaging.awaiting import awaited_kind_register
        from comptoir.messaging.inbound import inbound_step_add
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
        inbound_step_add(waitlist_replies_apply, before=conversations_receive)
