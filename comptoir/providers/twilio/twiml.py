"""The few TwiML answers Comptoir gives Twilio's voice webhooks, built as escaped XML.

TwiML is Twilio's XML for "what happens on this call". Values (a shop's text, a phone
number, a URL) are escaped, so a text with `<` or `&` cannot change the document.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, SubElement, tostring

CONTENT_TYPE = "text/xml"
# Twilio's <Say> wants a locale; a bare language is given the locale most shops expect.
LOCALES = {
    "fr": "fr-FR",
    "en": "en-US",
    "de": "de-DE",
    "es": "es-ES",
    "it": "it-IT",
    "nl": "nl-NL",
    "pt": "pt-PT",
}


def _document(root: Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>' + tostring(root, encoding="unicode").encode()


def empty() -> bytes:
    """Nothing to do (an inbound SMS: no automatic reply from Twilio)."""
    return _document(Element("Response"))


def hangup() -> bytes:
    root = Element("Response")
    SubElement(root, "Hangup")
    return _document(root)


def reject() -> bytes:
    """Refuse the call before it is answered: the caller hears a busy tone, nothing billed."""
    root = Element("Response")
    SubElement(root, "Reject", reason="busy")
    return _document(root)


def dial(number: str, *, timeout: int, action: str) -> bytes:
    """Ring `number` for `timeout` seconds; Twilio then posts the outcome to `action`.

    No callerId: the shop's phone shows the customer's number, so staff know who calls.
    """
    root = Element("Response")
    verb = SubElement(root, "Dial", timeout=str(timeout), action=action, method="POST")
    verb.text = number
    return _document(root)


def locale(language: str) -> str:
    return LOCALES.get(language.lower(), language) if language else LOCALES["en"]


def say_and_gather(text: str, *, language: str, digits: int, action: str) -> bytes:
    """Read `text` aloud; with `digits`, wait for that many key presses and post them.

    `actionOnEmptyResult` makes Twilio post even when no key was pressed, so the
    automation learns "no answer" instead of hearing nothing.
    """
    root = Element("Response")
    if digits > 0:
        gather = SubElement(
            root,
            "Gather",
            numDigits=str(digits),
            action=action,
            method="POST",
            actionOnEmptyResult="true",
        )
        say = SubElement(gather, "Say", language=locale(language))
    else:
        say = SubElement(root, "Say", language=locale(language))
    say.text = text
    return _document(root)
