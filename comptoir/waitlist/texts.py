"""What the waitlist texts customers, per language: the offer, and the answers to replies.

Templates use the project's small engine (comptoir.messaging.templating): {first_name},
{shop}, {date}, {time}, {place}, {service}, {minutes}, each with an optional default
({place|en magasin}). The shop may write its own offer text when it opens a slot.
"""

from __future__ import annotations

from django.utils import formats, translation
from django.utils.translation import gettext as _

from comptoir.automations.planning import contact_tz
from comptoir.contacts.models import Contact
from comptoir.core.errors import ValidationError
from comptoir.messaging.templating import render, template_check
from comptoir.waitlist.models import Opening, OpeningMode
from comptoir.workspaces.models import Workspace

OFFER_KIND = "waitlist_offer"
ANSWER_KIND = "waitlist_answer"
REPLY_KIND = "waitlist_reply"
VARIABLES = frozenset({"first_name", "shop", "date", "time", "place", "service", "minutes"})

TEXTS = {
    "fr": {
        OpeningMode.IN_ORDER: "{shop} : {first_name|Bonjour}, un créneau s'est libéré le {date} "
        "à {time} ({service|rendez-vous}, {place|en magasin}). Répondez OUI pour le prendre, "
        "NON sinon. Il vous est réservé {minutes} min.",
        OpeningMode.ALL_AT_ONCE: "{shop} : {first_name|Bonjour}, un créneau s'est libéré le "
        "{date} à {time} ({service|rendez-vous}, {place|en magasin}). Répondez OUI pour le "
        "prendre : premier arrivé, premier servi.",
        "won": "{shop} : c'est à vous ! Rendez-vous le {date} à {time}, {place|en magasin}. "
        "À bientôt.",
        "taken": "{shop} : désolé, le créneau du {date} à {time} vient d'être pris. "
        "Vous restez sur notre liste d'attente.",
        "gone": "{shop} : désolé, le créneau du {date} à {time} n'est plus disponible. "
        "Vous restez sur notre liste d'attente.",
        "declined": "{shop} : c'est noté, vous restez sur notre liste d'attente.",
    },
    "en": {
        OpeningMode.IN_ORDER: "{shop}: {first_name|Hello}, a slot has freed up on {date} at "
        "{time} ({service|appointment}, {place|in store}). Reply YES to take it, NO otherwise. "
        "It is yours for {minutes} min.",
        OpeningMode.ALL_AT_ONCE: "{shop}: {first_name|Hello}, a slot has freed up on {date} at "
        "{time} ({service|appointment}, {place|in store}). Reply YES to take it: first come, "
        "first served.",
        "won": "{shop}: it's yours! Your appointment is on {date} at {time}, {place|in store}. "
        "See you soon.",
        "taken": "{shop}: sorry, the slot on {date} at {time} has just been taken. "
        "You stay on our waiting list.",
        "gone": "{shop}: sorry, the slot on {date} at {time} is no longer available. "
        "You stay on our waiting list.",
        "declined": "{shop}: noted, you stay on our waiting list.",
    },
}


def template_clean(template: str) -> str:
    """A shop's own offer text, checked: known variables only, and it says how to accept."""
    template = (template or "").strip()
    if not template:
        return ""
    template_check(template, VARIABLES, field="template")
    if "oui" not in template.casefold() and "yes" not in template.casefold():
        raise ValidationError(
            _("Tell customers how to accept, e.g. “Répondez OUI pour le prendre”."),
            field="template",
        )
    return template


def language_of(contact: Contact, workspace: Workspace) -> str:
    for language in (contact.language, workspace.language):
        if language in TEXTS:
            return language
    return "en"


def opening_text(opening: Opening, contact: Contact, which: str) -> str:
    """The text `which` ("in_order", "all_at_once", "won", "taken"…) for this customer."""
    workspace = opening.workspace
    language = language_of(contact, workspace)
    template = TEXTS[language][which]
    if which == opening.mode and opening.template:
        template = opening.template
    local = opening.starts_at.astimezone(contact_tz(contact, workspace))
    with translation.override(language):
        date = formats.date_format(local, "DATE_FORMAT")
        time = formats.time_format(local, "TIME_FORMAT")
    values = {
        "first_name": contact.first_name,
        "shop": workspace.name,
        "date": date,
        "time": time,
        "place": opening.place,
        "service": opening.service,
        "minutes": opening.offer_minutes,
    }
    return render(template, values, field="template")
