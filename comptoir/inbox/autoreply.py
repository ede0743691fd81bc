"""Answering customers' questions automatically, and the loop guard that keeps it safe.

An inbound step: it runs inside the transaction that stores the messages, after the
inbox filed each one in its conversation (`message.conversation`). For each message the
guards below are asked in order; the first that applies skips the message, with its
reason logged at debug. Cheap checks come first, and the queries (the rules, the
contact's recent messages) are made only when a message gets that far.

An answer goes through the outbox like any message (compliance still decides), keyed by
the inbound message, so a replayed webhook answers once. It counts as the shop's answer
only when it really answers (an order with a known status, not "we found no order") and
the customer asked nothing else that is still waiting.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.db import transaction
from django.utils import timezone

from comptoir.automations.services import latest_order_event
from comptoir.compliance.keywords import normalize
from comptoir.contacts.models import Contact
from comptoir.contacts.phones import TEXTABLE_TYPES
from comptoir.core.errors import ComptoirError
from comptoir.inbox.autoanswers import ORDER_STATUS, order_status_text, rule_match, shop_values
from comptoir.inbox.models import AutoAnswer, Conversation, InboxSettings
from comptoir.inbox.services import (
    TEAM_REPLY,
    conversation_answered,
    handled_by_system,
    inbox_settings,
)
from comptoir.messaging.models import Direction, Message, Purpose, Status
from comptoir.messaging.outbox import Enqueued, SendRequest, messages_send
from comptoir.messaging.templating import placeholders, render
from comptoir.workspaces.memo import workspace_memo
from comptoir.workspaces.models import Workspace

log = logging.getLogger(__name__)

KIND = "auto_answer"
SAME_RULE_WINDOW = dt.timedelta(minutes=10)
HOURLY_CAP = 3
REPEAT_WINDOW = dt.timedelta(minutes=5)
# What the loop guards read of a contact's recent messages: more than this many in an
# hour is a loop the hourly cap has stopped long before.
RECENT_WINDOW, RECENT_ROWS = dt.timedelta(hours=1), 200
# Normalised phrases that mark a message written by a machine (an auto-reply, a no-reply
# notification): answering one could start two robots talking to each other for ever.
AUTOMATED_PHRASES = (
    "ne pas repondre",
    "ne repondez pas",
    "message automatique",
    "reponse automatique",
    "do not reply",
    "dont reply",
    "donotreply",
    "noreply",
    "no reply",
    "auto reply",
    "autoreply",
    "automatic reply",
    "automated message",
    "out of office",
)
# Shop details an answer cannot go without: better no answer than "we are at ."
DETAILS = ("address", "phone", "website")


def auto_answer_rules(workspace: Workspace) -> list[AutoAnswer]:
    """The workspace's enabled rules, in the order they are tried (kept in its memo)."""
    return workspace_memo(
        workspace,
        "auto_answers",
        lambda: list(AutoAnswer.objects.for_workspace(workspace).filter(enabled=True)),
    )


@dataclass
class Attempt:
    """One customer message and what the guards need to know about it, looked up lazily."""

    message: Message
    conversation: Conversation
    now: dt.datetime = field(default_factory=timezone.now)

    @property
    def contact(self) -> Contact | None:
        return self.message.contact

    @cached_property
    def settings(self) -> InboxSettings:
        return inbox_settings(self.conversation.workspace)

    @cached_property
    def language(self) -> str:
        contact_language = self.contact.language if self.contact else ""
        language = contact_language or self.conversation.workspace.language or "en"
        return language.split("-")[0].lower()

    @cached_property
    def rule(self) -> AutoAnswer | None:
        return rule_match(self.message.body, auto_answer_rules(self.conversation.workspace))

    @cached_property
    def values(self) -> dict[str, str]:
        values = shop_values(self.conversation.workspace, self.settings, self.language)
        values["first_name"] = self.contact.first_name if self.contact else ""
        return values

    @cached_property
    def recent(self) -> list[tuple[str, str, str, dt.datetime, str]]:
        """The contact's messages of the last hour, latest first, as (direction, kind,
        idempotency key, created_at, body): one query for the guards that follow."""
        rows = (
            Message.objects.for_workspace(self.conversation.workspace_id)
            .filter(contact=self.contact, created_at__gte=self.now - RECENT_WINDOW)
            .order_by("-created_at")
            .values_list("direction", "kind", "idempotency_key", "created_at", "body")
        )
        return [(d, kind, key or "", at, body) for d, kind, key, at, body in rows[:RECENT_ROWS]]

    @cached_property
    def previous_text(self) -> str | None:
        """The customer's message before this one, if it came within REPEAT_WINDOW."""
        for direction, _kind, _key, at, body in self.recent:
            if direction == Direction.IN and at < self.message.created_at:
                return body if at >= self.now - REPEAT_WINDOW else None
        return None

    @cached_property
    def recent_answers(self) -> list[tuple[str, str, dt.datetime]]:
        """The last hour's auto-answers and ordinary (staff-written) texts, latest first."""
        return [
            (kind, key, at)
            for direction, kind, key, at, _body in self.recent
            if direction == Direction.OUT and kind in (KIND, "")
        ]


def _disabled(attempt: Attempt) -> bool:
    return not attempt.settings.auto_answers_enabled


def _not_a_person(attempt: Attempt) -> bool:
    """A sender name ("AMAZON"), a short code, a toll-free or premium line: no one to answer."""
    contact = attempt.contact
    return contact is None or contact.number_type not in TEXTABLE_TYPES


def _system_message(attempt: Attempt) -> bool:
    """STOP / HELP (already answered by compliance) and employees' replies to their team."""
    kind = attempt.message.kind
    return (
        handled_by_system(attempt.message)
        or kind == TEAM_REPLY
        or not attempt.conversation.replyable
    )


def _looks_automated(attempt: Attempt) -> bool:
    padded = f" {normalize(attempt.message.body)} "
    return any(f" {phrase} " in padded for phrase in AUTOMATED_PHRASES)


def _no_rule(attempt: Attempt) -> bool:
    return attempt.rule is None


def _missing_detail(attempt: Attempt) -> bool:
    """The answer says {address} (or phone, website) and the shop has not filled it in."""
    assert attempt.rule is not None
    try:
        said = placeholders(attempt.rule.answer, field="answer")
    except ComptoirError:
        return False  # a rule broken outside auto_answer_save: sending logs why
    return any(p.name in DETAILS and not attempt.values.get(p.name) and not p.default for p in said)


def _repeated_text(attempt: Attempt) -> bool:
    """The same text again within minutes: a robot repeating itself, or a double send."""
    previous = attempt.previous_text
    return previous is not None and normalize(previous) == normalize(attempt.message.body)


def rule_of(idempotency_key: str) -> str:
    """The rule an auto-answer came from: its key is auto_answer:<message>:<rule>."""
    parts = idempotency_key.split(":")
    return parts[2] if len(parts) == 3 else ""


def _same_rule_again(attempt: Attempt) -> bool:
    """This rule was the last thing the customer got, minutes ago, with no one writing since."""
    assert attempt.rule is not None
    for kind, key, at in attempt.recent_answers:
        if at < attempt.now - SAME_RULE_WINDOW or kind != KIND:
            return False  # too long ago, or a person wrote to them since
        return rule_of(key) == str(attempt.rule.id)
    return False


def _hourly_cap(attempt: Attempt) -> bool:
    return sum(1 for kind, _key, _at in attempt.recent_answers if kind == KIND) >= HOURLY_CAP


Guard = Callable[[Attempt], bool]
# In order: the first that applies decides. Queries only from "no_rule" on.
GUARDS: tuple[tuple[str, Guard], ...] = (
    ("disabled", _disabled),
    ("not_a_person", _not_a_person),
    ("system_message", _system_message),
    ("looks_automated", _looks_automated),
    ("no_rule", _no_rule),
    ("missing_detail", _missing_detail),
    ("repeated_text", _repeated_text),
    ("same_rule_again", _same_rule_again),
    ("hourly_cap", _hourly_cap),
)


def skip_reason(attempt: Attempt) -> str | None:
    """Why this message gets no auto-answer, or None when it should get one."""
    for reason, applies in GUARDS:
        if applies(attempt):
            return reason
    return None


def _only_question(conversation: Conversation) -> bool:
    # Read again: a batch may have filed more of this customer's messages since. The row
    # is locked by this transaction (conversation_receive), so the count is current.
    pending = Conversation.objects.filter(id=conversation.id).values_list("unanswered", flat=True)
    return (pending.first() or 0) <= 1


def _answer_request(attempt: Attempt) -> tuple[SendRequest, bool]:
    """The answer to send, and whether it really answers (an order found, say)."""
    rule, contact, message = attempt.rule, attempt.contact, attempt.message
    assert rule is not None and contact is not None
    values, answers = dict(attempt.values), True
    if rule.topic == ORDER_STATUS:
        event = latest_order_event(attempt.conversation.workspace, contact)
        values[ORDER_STATUS], answers = order_status_text(event, attempt.language)
    request = SendRequest(
        to=str(contact.id),
        body=render(rule.answer, values, field="answer"),
        purpose=Purpose.CONVERSATIONAL,
        idempotency_key=f"{KIND}:{message.id}:{rule.id}",
        kind=KIND,
    )
    return request, answers


def _queue(workspace: Any, requests: list[SendRequest]) -> list[Enqueued | None]:
    """Queue the answers together; if the outbox refuses the call (one bad answer refuses
    all), each alone. A failure never undoes the stored messages (savepoints)."""
    try:
        with transaction.atomic():
            return list(messages_send(workspace=workspace, requests=requests))
    except ComptoirError:
        pass
    sent: list[Enqueued | None] = []
    for request in requests:
        try:
            with transaction.atomic():
                sent.append(messages_send(workspace=workspace, requests=[request])[0])
        except ComptoirError as exc:
            log.warning("auto-answer %s not sent: %s", request.idempotency_key, exc.message)
            sent.append(None)
    return sent


def auto_answers_send(attempts: Sequence[Attempt]) -> list[Enqueued | None]:
    """Send the matched rules' answers of one workspace in one call; a conversation counts
    as answered when its answer really answers and nothing else waits."""
    ready: list[tuple[Attempt, SendRequest, bool]] = []
    for attempt in attempts:
        try:
            request, answers = _answer_request(attempt)
        except ComptoirError as exc:  # a rule broken outside auto_answer_save
            log.warning("auto-answer for message %s not sent: %s", attempt.message.id, exc.message)
            continue
        ready.append((attempt, request, answers))
    if not ready:
        return []
    workspace = ready[0][0].conversation.workspace
    sent = _queue(workspace, [request for _a, request, _answers in ready])
    for (attempt, _request, answers), result in zip(ready, sent, strict=True):
        if result is None:
            continue
        if result.message.status == Status.BLOCKED:
            log.debug(
                "auto-answer for %s blocked: %s", attempt.message.id, result.message.error_code
            )
        elif result.created and answers and _only_question(attempt.conversation):
            conversation_answered(attempt.conversation, result.message)
    return sent


def auto_answers_reply(messages: Sequence[Message]) -> None:
    """Inbound step: answer the customers' messages a rule of the shop answers.

    The guards run message by message; the answers of the batch are queued together, so
    the guards also count the answers chosen earlier in the batch (not yet in the table).
    """
    chosen: dict[Any, list[Attempt]] = defaultdict(list)
    in_batch: dict[Any, list[Any]] = defaultdict(list)  # contact → rules answered here
    for message in messages:
        conversation: Conversation | None = getattr(message, "conversation", None)
        if conversation is None:
            continue  # not filed by the inbox: nothing to answer in
        attempt = Attempt(message=message, conversation=conversation)
        reason = skip_reason(attempt) or _batch_reason(attempt, in_batch[message.contact_id])
        if reason is not None:
            log.debug("no auto-answer for message %s: %s", message.id, reason)
            continue
        assert attempt.rule is not None
        in_batch[message.contact_id].append(attempt.rule.id)
        chosen[conversation.workspace_id].append(attempt)
    for attempts in chosen.values():
        auto_answers_send(attempts)


def _batch_reason(attempt: Attempt, rules: list[Any]) -> str | None:
    """The loop guard for answers chosen earlier in this batch (queued at its end)."""
    if not rules:
        return None
    assert attempt.rule is not None
    if rules[-1] == attempt.rule.id:
        return "same_rule_again"
    earlier = sum(1 for kind, _key, _at in attempt.recent_answers if kind == KIND)
    return "hourly_cap" if earlier + len(rules) >= HOURLY_CAP else None
