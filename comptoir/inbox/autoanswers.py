"""Auto-answers: the shop's rules (HORAIRES, ADRESSE, COMMANDE…), their defaults and checks.

A rule's keywords are words or phrases matched as whole words anywhere in a customer's
message, ignoring case, accents and punctuation ("Quels sont vos horaires ?" matches
HORAIRES). They are stored normalised, so what staff see is what is matched. The first
enabled rule by position wins. The answering itself, and the loop guard, are in
comptoir.inbox.autoreply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from comptoir.automations.models import CustomerEvent
from comptoir.compliance.keywords import BUILT_IN, keyword_table, normalize
from comptoir.compliance.models import WorkspaceKeyword
from comptoir.core.errors import NotFound, ValidationError
from comptoir.inbox.hours import hours_text
from comptoir.inbox.models import AutoAnswer, InboxSettings
from comptoir.messaging.encoding import analyze
from comptoir.messaging.templating import placeholders, template_check
from comptoir.workspaces.models import Workspace

ORDER_STATUS = "order_status"
TOPICS = {"": gettext_lazy("Fixed answer"), ORDER_STATUS: gettext_lazy("Order status")}
# What an answer may say; {order_status} only in an order-status rule.
VARIABLES = frozenset({"shop", "first_name", "opening_hours", "address", "phone", "website"})
ORDER_VARIABLES = VARIABLES | {ORDER_STATUS}
MAX_KEYWORD_WORDS = 5
MAX_KEYWORD_CHARS = 60


@dataclass(frozen=True, slots=True)
class DefaultRule:
    name: str
    keywords: tuple[str, ...]
    answer: str
    topic: str = ""


# Seeded for a new workspace in its language (English for the others).
DEFAULT_RULES: Mapping[str, tuple[DefaultRule, ...]] = {
    "fr": (
        DefaultRule(
            "Horaires",
            ("horaires", "horaire", "heures d'ouverture"),
            "Bonjour, c'est {shop}. Nos horaires : {opening_hours}.",
        ),
        DefaultRule("Adresse", ("adresse",), "{shop} vous accueille au {address}. À bientôt !"),
        DefaultRule(
            "Commande",
            ("commande", "commandes"),
            "Bonjour, c'est {shop}. {order_status}",
            ORDER_STATUS,
        ),
    ),
    "en": (
        DefaultRule(
            "Hours",
            ("hours", "opening hours", "opening times"),
            "Hi, this is {shop}. Our opening hours: {opening_hours}.",
        ),
        DefaultRule("Address", ("address",), "{shop} is at {address}. See you soon!"),
        DefaultRule(
            "Order", ("order", "orders"), "Hi, this is {shop}. {order_status}", ORDER_STATUS
        ),
    ),
}

# The last word of an order event's type ("order.ready") in the customer's language.
# {number} is " n° A123" / " #A123" when the event carries an order number.
ORDER_TEXTS: Mapping[str, Mapping[str, str]] = {
    "fr": {
        "placed": "Votre commande{number} est bien enregistrée.",
        "confirmed": "Votre commande{number} est confirmée.",
        "processing": "Votre commande{number} est en préparation.",
        "ready": "Votre commande{number} est prête : vous pouvez venir la chercher.",
        "shipped": "Votre commande{number} a été expédiée.",
        "delivered": "Votre commande{number} a été livrée.",
        "cancelled": "Votre commande{number} a été annulée.",
        "refunded": "Votre commande{number} a été remboursée.",
        "unknown": "Nous avons bien votre commande{number} ; un membre de l'équipe "
        "va vous répondre.",
        "none": "Nous n'avons trouvé aucune commande pour votre numéro ; un membre de "
        "l'équipe va vous répondre.",
        "number": " n° {}",
        "tracking": " Suivi : {}",
    },
    "en": {
        "placed": "Your order{number} has been received.",
        "confirmed": "Your order{number} is confirmed.",
        "processing": "Your order{number} is being prepared.",
        "ready": "Your order{number} is ready: you can come and collect it.",
        "shipped": "Your order{number} has been shipped.",
        "delivered": "Your order{number} has been delivered.",
        "cancelled": "Your order{number} has been cancelled.",
        "refunded": "Your order{number} has been refunded.",
        "unknown": "We have your order{number}; a member of staff will answer you shortly.",
        "none": "We found no order for your number; a member of staff will answer you shortly.",
        "number": " #{}",
        "tracking": " Tracking: {}",
    },
}
ORDER_ALIASES = {
    "created": "placed",
    "received": "placed",
    "preparing": "processing",
    "ready_for_pickup": "ready",
    "dispatched": "shipped",
    "canceled": "cancelled",
}
ORDER_NUMBER_KEYS = ("number", "order_number", "reference")


def variables_for(topic: str) -> frozenset[str]:
    return ORDER_VARIABLES if topic == ORDER_STATUS else VARIABLES


def shop_values(workspace: Workspace, settings: InboxSettings, language: str) -> dict[str, str]:
    """What an answer may say about the shop, in the customer's language."""
    return {
        "shop": workspace.name,
        "opening_hours": hours_text(settings.opening_hours or {}, language),
        "address": settings.shop_address,
        "phone": settings.shop_phone,
        "website": settings.website,
    }


def order_status_text(event: CustomerEvent | None, language: str) -> tuple[str, bool]:
    """The order's status in words, and whether that answers the customer.

    No order, or a status we have no words for, is said politely and left for staff.
    """
    texts = ORDER_TEXTS.get(language, ORDER_TEXTS["en"])
    if event is None:
        return texts["none"], False
    data = event.data if isinstance(event.data, dict) else {}
    number = next((str(data[k]).strip() for k in ORDER_NUMBER_KEYS if data.get(k)), "")
    step = event.type.rsplit(".", 1)[-1]
    step = ORDER_ALIASES.get(step, step)
    known = step in texts and step not in ("unknown", "none", "number", "tracking")
    text = texts[step if known else "unknown"].format(
        number=texts["number"].format(number[:40]) if number else ""
    )
    if step == "shipped" and data.get("tracking_url"):
        text += texts["tracking"].format(str(data["tracking_url"])[:200])
    return text, known


def rule_match(text: str, rules: Iterable[AutoAnswer]) -> AutoAnswer | None:
    """The first enabled rule with a keyword found as whole words in `text`."""
    padded = f" {normalize(text)} "
    for rule in rules:
        keywords = rule.keywords if isinstance(rule.keywords, list) else []
        if rule.enabled and any(
            f" {normalize(k)} " in padded for k in keywords if isinstance(k, str) and k
        ):
            return rule
    return None


def _reserved_words(workspace: Workspace) -> dict[str, Any]:
    """STOP, AIDE, INFO…: the compliance rules answer those, an auto-answer never may."""
    extra = WorkspaceKeyword.objects.filter(workspace=workspace).values_list("word", "kind")
    return keyword_table(BUILT_IN, extra)


def keywords_clean(workspace: Workspace, keywords: Sequence[str] | str) -> list[str]:
    """Normalised, distinct keywords; a comma- or line-separated string is accepted too."""
    if isinstance(keywords, str):
        keywords = keywords.replace("\n", ",").split(",")
        keywords = [k for k in keywords if k.strip()]
    if not isinstance(keywords, Sequence) or not keywords:
        raise ValidationError(_("Give at least one keyword, like HORAIRES."), field="keywords")
    reserved = _reserved_words(workspace)
    clean: list[str] = []
    for index, raw in enumerate(keywords):
        where = f"keywords.{index}"
        word = normalize(raw) if isinstance(raw, str) else ""
        if not word:
            raise ValidationError(
                _("%(raw)r has no letters or digits to match.") % {"raw": raw}, field=where
            )
        if len(word) > MAX_KEYWORD_CHARS or len(word.split()) > MAX_KEYWORD_WORDS:
            raise ValidationError(
                _("A keyword is at most %(words)d words and %(chars)d characters.")
                % {"words": MAX_KEYWORD_WORDS, "chars": MAX_KEYWORD_CHARS},
                field=where,
            )
        if word in reserved:
            raise ValidationError(
                _("%(word)s is a compliance keyword (%(kind)s), answered by the opt-out rules.")
                % {"word": word.upper(), "kind": reserved[word]},
                field=where,
            )
        if word not in clean:
            clean.append(word)
    return clean


def _answer_clean(workspace: Workspace, answer: str, topic: str) -> str:
    answer = (answer or "").strip()
    if not answer:
        raise ValidationError(_("Write the answer to send."), field="answer")
    template_check(answer, variables_for(topic), field="answer")
    said = {p.name for p in placeholders(answer, field="answer")}
    if topic == ORDER_STATUS and ORDER_STATUS not in said:
        raise ValidationError(_("An order-status answer must say {order_status}."), field="answer")
    if analyze(answer).segments > workspace.segment_cap:
        raise ValidationError(
            _("The answer is longer than %(max)d SMS parts.") % {"max": workspace.segment_cap},
            field="answer",
        )
    return answer


def _name_clean(name: str) -> str:
    name = (name or "").strip()
    longest = AutoAnswer._meta.get_field("name").max_length or 100
    if not name or len(name) > longest:
        raise ValidationError(
            _("Give the rule a name of 1 to %(max)d characters.") % {"max": longest}, field="name"
        )
    return name


def auto_answer_save(
    *,
    workspace: Workspace,
    name: str,
    keywords: Sequence[str] | str,
    answer: str,
    topic: str = "",
    enabled: bool = True,
    position: int | None = None,
    auto_answer: AutoAnswer | None = None,
) -> AutoAnswer:
    """Create a rule, or change `auto_answer`; every field is checked, naming the field.

    `position` None puts a new rule last and leaves an existing one where it is.
    """
    if auto_answer is not None and auto_answer.workspace_id != workspace.id:
        raise NotFound(_("No such auto-answer in this workspace."), field="id")
    if topic not in TOPICS:
        raise ValidationError(
            _("Unknown topic %(topic)r: use %(topics)s.")
            % {"topic": topic, "topics": ", ".join(repr(t) for t in TOPICS)},
            field="topic",
        )
    if position is not None and not 0 <= position <= 32767:
        raise ValidationError(_("The position is a number from 0 to 32767."), field="position")
    rule = auto_answer or AutoAnswer(workspace=workspace)
    rule.name = _name_clean(name)
    rule.keywords = keywords_clean(workspace, keywords)
    rule.answer = _answer_clean(workspace, answer, topic)
    rule.topic, rule.enabled = topic, bool(enabled)
    if position is not None:
        rule.position = position
    elif auto_answer is None:
        last = AutoAnswer.objects.for_workspace(workspace).aggregate(last=Max("position"))["last"]
        rule.position = 0 if last is None else min(last + 1, 32767)
    rule.save()
    return rule


def auto_answers_seed(workspace: Workspace) -> list[AutoAnswer]:
    """The default rules in the workspace's language, once: never over the shop's own."""
    if AutoAnswer.objects.for_workspace(workspace).exists():
        return []
    defaults = DEFAULT_RULES.get(workspace.language, DEFAULT_RULES["en"])
    with transaction.atomic():
        return [
            auto_answer_save(
                workspace=workspace,
                name=rule.name,
                keywords=rule.keywords,
                answer=rule.answer,
                topic=rule.topic,
                position=index,
            )
            for index, rule in enumerate(defaults)
        ]


def seed_on_settings_created(
    sender: type[InboxSettings], instance: InboxSettings, created: bool, **kwargs: Any
) -> None:
    """post_save of InboxSettings: a workspace's first inbox settings bring its default rules.

    A signal rather than a call in inbox_settings(): the seed follows the row however it
    is created (the settings page, the admin, a fixture-free test), and only then.
    """
    if created and not kwargs.get("raw"):
        auto_answers_seed(instance.workspace)
