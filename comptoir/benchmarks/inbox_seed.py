"""The inbox benchmark's workspace: a busy shop's customers, each with a conversation.

The workspace is seeded with bulk inserts in the state the inbound path and the inbox's
services would have left it: one conversation per customer with its counters
(unread, unanswered, waiting_since), its score (comptoir.inbox.priority) and the last
message's preview; 20 messages per customer spread over months, both directions.
`comptoir.benchmarks.inbox` times the staff's pages on it.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from comptoir.channels.models import Channel
from comptoir.contacts.models import Contact, Tag
from comptoir.core.bulk import insert_objects
from comptoir.core.ids import uuid7
from comptoir.inbox.models import Conversation, ConversationEvent, ConversationStatus, EventKind
from comptoir.inbox.priority import base_points, rank_at, urgent_word_in, urgent_words
from comptoir.inbox.services import PREVIEW, inbox_settings
from comptoir.messaging.encoding import analyze
from comptoir.messaging.models import PRIORITY, Direction, Message, Purpose, Status
from comptoir.workspaces.models import Membership, Role, Workspace
from comptoir.workspaces.services import workspace_create

FIRST_NAMES = (
    "Camille", "Léa", "Hugo", "Louis", "Chloé", "Manon", "Nathan", "Emma",
    "Jules", "Inès", "Lucas", "Sarah", "Thomas", "Julie", "Paul", "Thi Mai",
)  # fmt: skip
LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "Nguyen", "Tran",
)  # fmt: skip
CUSTOMER_TEXTS = (
    "Bonjour, mes lunettes sont-elles prêtes ?",
    "Merci beaucoup, à samedi !",
    "Est-ce que je peux passer demain vers 17h ?",
    "Vous avez bien reçu ma commande de lentilles ?",
    "D'accord, parfait.",
    "Bonjour, je voudrais prendre rendez-vous pour un examen de vue la semaine prochaine.",
    "Ok merci",
    "C",
)
URGENT_TEXTS = (
    "Urgent : j'ai cassé mes lunettes, vous pouvez les réparer aujourd'hui ?",
    "Ma monture est cassée, au plus vite svp",
    "J'ai perdu mes lentilles, c'est urgent",
)
SHOP_TEXTS = (
    ("Bonjour, oui elles sont prêtes, passez quand vous voulez (9h-19h).", Purpose.CONVERSATIONAL),
    ("C'est noté, à demain !", Purpose.CONVERSATIONAL),
    (
        "Optique Lumière : rappel de votre RDV demain à 10h30. Répondez C pour confirmer, "
        "A pour annuler.",
        Purpose.TRANSACTIONAL,
    ),
    ("Optique Lumière : votre commande est arrivée en boutique.", Purpose.TRANSACTIONAL),
    ("-20% sur les montures solaires jusqu'à dimanche. STOP au 36xxx", Purpose.MARKETING),
)
# Share of conversations in each status, and of the rest of the mix.
STATUS_SHARES = ((ConversationStatus.OPEN, 0.2), (ConversationStatus.WAITING, 0.3))
PROSPECT_SHARE = 0.1
VIP_SHARE = 0.05
URGENT_SHARE = 0.15  # of open conversations
ASSIGNED_SHARE = 0.4
STAFF = 3
BATCH = 20_000


@dataclass
class Seeded:
    """What was written, counted from what was generated (the test checks it in the db)."""

    workspace: Workspace
    staff: list[Any]
    statuses: Counter[str] = field(default_factory=Counter)
    assigned: int = 0
    prospects: int = 0
    vip: int = 0
    urgent: int = 0
    messages: int = 0
    events: int = 0
    seconds: float = 0.0

    @property
    def conversations(self) -> int:
        return sum(self.statuses.values())


def _status(rng: random.Random) -> str:
    roll = rng.random()
    for status, share in STATUS_SHARES:
        if roll < share:
            return status
        roll -= share
    return ConversationStatus.CLOSED


class _History:
    """A customer's messages, oldest first as the thread shows them, and their encodings."""

    def __init__(self, rng: random.Random, now: dt.datetime, words: Sequence[str]) -> None:
        self.rng, self.now, self.words = rng, now, words
        self.encodings: dict[str, tuple[str, int]] = {}

    def encoding(self, body: str) -> tuple[str, int]:
        if body not in self.encodings:
            info = analyze(body, smart=False)
            self.encodings[body] = (info.encoding.value, info.segments)
        return self.encodings[body]

    def plan(self, status: str, count: int) -> tuple[list[tuple[str, str, dt.datetime]], int]:
        """(direction, body, at) oldest first, and how many trailing messages are unanswered."""
        rng, unanswered = self.rng, 0
        if status == ConversationStatus.OPEN:
            latest = self.now - dt.timedelta(minutes=rng.uniform(1, 48 * 60))
            unanswered = min(count, rng.choice((1, 1, 1, 2, 3)))
        elif status == ConversationStatus.WAITING:
            latest = self.now - dt.timedelta(hours=rng.uniform(1, 14 * 24))
        else:
            latest = self.now - dt.timedelta(days=rng.uniform(1, 90))
        urgent = status == ConversationStatus.OPEN and rng.random() < URGENT_SHARE
        rows: list[tuple[str, str, dt.datetime]] = []
        at = latest
        for index in range(count):  # newest first
            body: str | None = None
            if index < unanswered:  # the customer's messages nobody answered yet
                direction = Direction.IN
                if urgent and index == unanswered - 1:
                    body = rng.choice(URGENT_TEXTS)
            elif index == unanswered and status != ConversationStatus.CLOSED:
                direction = Direction.OUT  # the shop's last answer
            else:
                direction = rng.choice((Direction.IN, Direction.OUT))
            if body is None:
                body = (
                    rng.choice(CUSTOMER_TEXTS)
                    if direction == Direction.IN
                    else rng.choice(SHOP_TEXTS)[0]
                )
            rows.append((direction, body, at))
            at -= dt.timedelta(minutes=rng.uniform(10, 3 * 24 * 60))
        rows.reverse()
        return rows, unanswered

    def urgent_word(self, bodies: Sequence[str]) -> str:
        return next((w for w in (urgent_word_in(b, self.words) for b in bodies) if w), "")


def _staff(workspace: Workspace, count: int) -> list[Any]:
    """Staff members with no usable password: the benchmark signs in without one."""
    users = []
    for index in range(count):
        user = get_user_model().objects.create_user(
            username=f"bench-{uuid.uuid4().hex[:10]}-{index}", password=None
        )
        Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
        users.append(user)
    return users


def _contacts(workspace: Workspace, rng: random.Random, count: int) -> list[Contact]:
    now = timezone.now()
    contacts = []
    for index in range(count):
        prospect = rng.random() < PROSPECT_SHARE
        contacts.append(
            Contact(
                id=uuid7(),
                workspace=workspace,
                phone=f"+336{10_000_000 + index:08d}",
                number_type="mobile",
                first_name="" if prospect else rng.choice(FIRST_NAMES),
                last_name="" if prospect else rng.choice(LAST_NAMES),
                language="fr",
                is_prospect=prospect,
                created_at=now,
                updated_at=now,
            )
        )
    insert_objects(contacts)
    return contacts


def _message(
    workspace: Workspace, channel: Channel, contact: Contact, plan: tuple[str, str, dt.datetime],
    number: int, author: Any, history: _History,
) -> Message:  # fmt: skip
    direction, body, at = plan
    encoding, segments = history.encoding(body)
    incoming = direction == Direction.IN
    purpose = next((p for text, p in SHOP_TEXTS if text == body), Purpose.CONVERSATIONAL)
    return Message(
        id=uuid7(),
        workspace=workspace,
        channel=channel,
        contact=contact,
        direction=direction,
        address=contact.phone,
        body=body,
        purpose=purpose,
        priority=PRIORITY[purpose],
        status=Status.RECEIVED if incoming else Status.DELIVERED,
        send_at=at,
        encoding=encoding,
        segments=segments,
        # In insertion order (numbers increase, then the message's place): cheap to index.
        provider_id=f"SB{contact.phone[1:]}-{number:03d}",
        author=None if incoming or purpose != Purpose.CONVERSATIONAL else author,
        sent_at=None if incoming else at,
        delivered_at=None if incoming else at + dt.timedelta(seconds=3),
        created_at=at,
        updated_at=at,
    )


@transaction.atomic  # one commit: in autocommit, SQLite commits each row of an executemany
def seed(
    *, conversations: int, messages_per_contact: int, staff: int = STAFF, seed_value: int = 7
) -> Seeded:
    """A new workspace with this many customers, each with one conversation and its history."""
    start = time.perf_counter()
    rng = random.Random(seed_value)
    workspace = workspace_create(name=f"Inbox benchmark {time.strftime('%Y-%m-%d %H:%M:%S')}")
    channel = Channel.objects.get(workspace=workspace, provider="sandbox")
    seeded = Seeded(workspace=workspace, staff=_staff(workspace, staff))
    now = timezone.now()
    words = urgent_words({"fr", "en"}, inbox_settings(workspace).urgent_words)
    history = _History(rng, now, words)
    vip_tag = Tag.objects.create(workspace=workspace, name=inbox_settings(workspace).vip_tag)
    contacts = _contacts(workspace, rng, conversations)
    vips: list[Any] = []
    rows: list[Conversation] = []
    messages: list[Message] = []
    events: list[ConversationEvent] = []
    for contact in contacts:
        status = _status(rng)
        plan, unanswered = history.plan(status, messages_per_contact)
        vip = not contact.is_prospect and rng.random() < VIP_SHARE
        if vip:
            vips.append(Contact.tags.through(contact_id=contact.id, tag_id=vip_tag.id))
        assignee = (
            rng.choice(seeded.staff)
            if status != ConversationStatus.CLOSED and rng.random() < ASSIGNED_SHARE
            else None
        )
        conversation = _conversation(workspace, contact, status, plan, unanswered, vip, history)
        conversation.assignee = assignee
        rows.append(conversation)
        messages.extend(
            _message(workspace, channel, contact, p, n, assignee or seeded.staff[0], history)
            for n, p in enumerate(plan)
        )
        if assignee is not None:
            events.append(_event(conversation, EventKind.ASSIGNED, assignee, plan[-1][2]))
        seeded.statuses[status] += 1
        seeded.assigned += assignee is not None
        seeded.prospects += contact.is_prospect
        seeded.vip += vip
        seeded.urgent += bool(conversation.urgent_word or conversation.flag)
        if len(messages) >= BATCH:
            insert_objects(messages)
            seeded.messages += len(messages)
            messages = []
    insert_objects(messages)
    seeded.messages += len(messages)
    insert_objects(vips)
    insert_objects(rows)
    ConversationEvent.objects.bulk_create(events, batch_size=1000)
    seeded.events = len(events)
    seeded.seconds = time.perf_counter() - start
    return seeded


def _conversation(
    workspace: Workspace, contact: Contact, status: str, plan: Sequence[tuple[str, str, Any]],
    unanswered: int, vip: bool, history: _History,
) -> Conversation:  # fmt: skip
    """The counters and score conversation_receive / conversation_answered would have set."""
    direction, body, latest = plan[-1]
    waiting = plan[-unanswered:] if unanswered else []
    waiting_since = waiting[0][2] if waiting else None
    word = history.urgent_word([b for _, b, _ in waiting])
    base = base_points(vip=vip, urgent=bool(word), unanswered=unanswered)
    return Conversation(
        id=uuid7(),
        workspace=workspace,
        contact=contact,
        status=status,
        last_message_at=latest,
        last_preview=body[:PREVIEW],
        last_direction=direction,
        unanswered=unanswered,
        waiting_since=waiting_since,
        unread=unanswered,
        vip=vip,
        urgent_word=word,
        score_base=base,
        rank_at=rank_at(waiting_since=waiting_since, base=base)
        if status == ConversationStatus.OPEN
        else None,
        created_at=plan[0][2],
        updated_at=latest,
    )


def _event(conversation: Conversation, kind: str, author: Any, at: dt.datetime) -> Any:
    return ConversationEvent(
        conversation=conversation,
        kind=kind,
        author=author,
        data={"assignee": author.get_username()},
        at=at,
    )
