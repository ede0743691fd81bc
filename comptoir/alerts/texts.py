"""What alerts say: to the customer (how to answer), and to staff (who needs a call)."""

from __future__ import annotations

from comptoir.alerts.models import Alert, AlertMedium
from comptoir.messaging.templating import render

# Appended to an alert posted to the API, in the customer's language.
SMS_HOW = {
    "fr": "Répondez 1 pour confirmer, 2 pour signaler un problème.",
    "en": "Reply 1 to confirm, 2 to report a problem.",
}
VOICE_HOW = {
    "fr": "Appuyez sur 1 pour confirmer, sur 2 pour signaler un problème.",
    "en": "Press 1 to confirm, 2 to report a problem.",
}
# The short answer to a texted 1 or 2.
ANSWERS = {
    "fr": {
        "acknowledged": "{shop} : merci, c'est confirmé.",
        "reported": "{shop} : c'est noté, nous vous rappelons au plus vite.",
    },
    "en": {
        "acknowledged": "{shop}: thank you, confirmed.",
        "reported": "{shop}: noted, we will call you back as soon as possible.",
    },
}
STAFF = {
    "fr": {
        "escalated": "{shop} - ALERTE sans réponse après {attempts} envoi(s) : {name} ({phone}). "
        "Message : « {alert} ». Rappelez au plus vite.",
        "reported": "{shop} - ALERTE : {name} ({phone}) signale un problème. "
        "Message : « {alert} ». Rappelez au plus vite.",
    },
    "en": {
        "escalated": "{shop} - ALERT unanswered after {attempts} attempt(s): {name} ({phone}). "
        "Message: “{alert}”. Call back now.",
        "reported": "{shop} - ALERT: {name} ({phone}) reports a problem. "
        "Message: “{alert}”. Call back now.",
    },
}
OUTCOME_WORDS = {
    "fr": {"escalated": "sans réponse", "reported": "problème signalé"},
    "en": {"escalated": "unanswered", "reported": "problem reported"},
}
# The inbox's urgent reason on the customer's conversation.
URGENT_LABEL = {"fr": "alerte", "en": "alert"}
PREVIEW = 120


def language_of(alert: Alert) -> str:
    for language in (alert.contact.language, alert.workspace.language):
        if language in SMS_HOW:
            return language
    return "en"


def with_instructions(body: str, medium: str, language: str) -> str:
    how = (VOICE_HOW if medium == AlertMedium.VOICE else SMS_HOW).get(language, SMS_HOW["en"])
    return f"{body.strip()} {how}"


def answer_text(alert: Alert, outcome: str) -> str:
    texts = ANSWERS.get(language_of(alert), ANSWERS["en"])
    return texts[outcome].format(shop=alert.workspace.name)


def staff_text(alert: Alert, outcome: str) -> str:
    """The text staff get: the policy's own, else the built-in one for the outcome."""
    language = alert.workspace.language if alert.workspace.language in STAFF else "en"
    contact = alert.contact
    body = alert.body if len(alert.body) <= PREVIEW else alert.body[: PREVIEW - 1] + "…"
    values = {
        "shop": alert.workspace.name,
        "name": contact.display_name,
        "phone": contact.phone,
        "alert": body,
        "attempts": str(alert.attempts),
        "outcome": OUTCOME_WORDS[language][outcome],
    }
    return render(alert.staff_message or STAFF[language][outcome], values, field="staff_message")


def urgent_label(alert: Alert) -> str:
    return URGENT_LABEL.get(alert.workspace.language, URGENT_LABEL["en"])
