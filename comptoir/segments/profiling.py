"""Self-profiling by text: customers answer "1 gold, 2 silver, 3 watches" and become tagged.

A `ProfilingQuestion` is texted with `profiling_send`, which records a `ProfilingSend`
per contact. A reply from one of them within the question's `answer_days` is read by
`answer_parse`; when every word of it names an option ("1 et 3", "1,3", "Or",
"2 silver"), the contact gets the tags `interest:<name>` and the message the kind
`profiling_answer`. Anything else is left alone and reaches the inbox as usual.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.contacts.models import Contact
from comptoir.contacts.services import tags_get_or_create
from comptoir.core.errors import ValidationError
from comptoir.messaging.awaiting import awaited_kind_register, awaiting_filter
from comptoir.messaging.models import Direction, Message, Purpose, Status
from comptoir.messaging.outbox import SendRequest, messages_send
from comptoir.segments.definition import INTEREST_PREFIX, MAX_TEXT
from comptoir.segments.models import ProfilingQuestion, ProfilingSend
from comptoir.workspaces.models import Workspace

ANSWER_KIND = "profiling_answer"
QUESTION_KIND = "profiling_question"
SEND_BATCH = 1000
LONGEST_ANSWER_TIME = dt.timedelta(days=90)  # profiling_question_create's bound
# Words that join options and mean nothing by themselves ("1 et 3", "gold and silver").
FILLERS = frozenset({"et", "and", "y", "e", "und", "puis", "aussi", "also", "plus", "&", "+"})
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True, slots=True)
class Option:
    number: int
    name: str  # the interest: the contact is tagged interest:<name>
    words: frozenset[str]  # the name and its synonyms, normalised ("gold", "or")


def _normal(text: str) -> str:
    """Lower case, accents off, every run of punctuation a space: "Or, Argent!" -> "or argent"."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w&+]+", " ", text).replace("_", " ").split())


def options_clean(raw: Any) -> list[dict[str, Any]]:
    """The options checked: numbers 1 to 99 used once, names and words not shared."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= 20:
        raise ValidationError(_("Give 1 to 20 options."), field="options")
    out: list[dict[str, Any]] = []
    taken: dict[str, int] = {}
    for index, item in enumerate(raw):
        field = f"options.{index}"
        if not isinstance(item, dict) or set(item) - {"number", "name", "words"}:
            raise ValidationError(
                _("Option %(n)d: an object with number, name and words.") % {"n": index + 1},
                field=field,
            )
        number = item.get("number")
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 99:
            raise ValidationError(
                _("Option %(n)d: the number must be 1 to 99.") % {"n": index + 1},
                field=f"{field}.number",
            )
        name = _normal(str(item.get("name") or "")).replace(" ", "-")
        if not NAME.match(name) or len(INTEREST_PREFIX + name) > MAX_TEXT:
            raise ValidationError(
                _("Option %(n)d: give a short name, e.g. gold.") % {"n": index + 1},
                field=f"{field}.name",
            )
        words = item.get("words", [])
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ValidationError(
                _("Option %(n)d: words is a list of texts.") % {"n": index + 1},
                field=f"{field}.words",
            )
        normal = sorted({_normal(w) for w in words if _normal(w)} - {name})
        for word in [str(number), name, *normal]:
            if word in taken and taken[word] != index:
                raise ValidationError(
                    _("Option %(n)d: “%(word)s” already means option %(other)d.")
                    % {"n": index + 1, "word": word, "other": taken[word] + 1},
                    field=field,
                )
            taken[word] = index
        out.append({"number": number, "name": name, "words": normal})
    return out


def _options(raw: Sequence[dict[str, Any]]) -> list[Option]:
    return [
        Option(o["number"], o["name"], frozenset({o["name"], *o.get("words", [])})) for o in raw
    ]


def _by_word(options: Sequence[Option]) -> dict[str, Option]:
    by_word: dict[str, Option] = {}
    for option in options:
        for word in option.words:
            by_word[word] = option
            by_word[word.replace("-", " ")] = option
            if len(word) > 3 and not word.endswith("s"):
                by_word.setdefault(word + "s", option)  # "montres" for "montre"
    return by_word


def _split_digits(token: str, by_number: dict[str, Option]) -> list[Option] | None:
    """ "13" is options 1 and 3 when there is no option 13 and every digit is one."""
    if token in by_number:
        return [by_number[token]]
    if len(by_number) < 10 and all(d in by_number for d in token):
        return [by_number[d] for d in token]
    return None


def answer_parse(text: str, options: Sequence[Option]) -> list[Option] | None:
    """The options a reply names, or None when any part of it is not an option.

    Tolerant of how people write ("1 et 3", "1,3", "13", "Or", "2 silver", "gold and
    silver"), strict about the rest: one unknown word and the reply is a message for the
    shop, not an answer.
    """
    by_number = {str(o.number): o for o in options}
    by_word = _by_word(options)
    tokens = _normal(text).split()
    chosen: list[Option] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        # Phrases first ("white gold"), longest first, then single words.
        for length in (3, 2):
            phrase = " ".join(tokens[i : i + length])
            if length > 1 and i + length <= len(tokens) and phrase in by_word:
                chosen.append(by_word[phrase])
                i += length
                break
        else:
            if token.isdigit():
                found = _split_digits(token, by_number)
                if found is None:
                    return None
                # "2 silver": a number and its own name are one choice; "1 silver" is neither.
                following = by_word.get(tokens[i + 1]) if i + 1 < len(tokens) else None
                if following is not None and len(found) == 1:
                    if following is not found[0]:
                        return None
                    i += 1
                chosen.extend(found)
            elif token in by_word:
                chosen.append(by_word[token])
            elif token not in FILLERS:
                return None
            i += 1
    unique = list(dict.fromkeys(chosen))
    return unique or None


def profiling_question_create(
    *, workspace: Workspace, name: str, text: str, options: Any, answer_days: int = 7
) -> ProfilingQuestion:
    """Save a question; the text is what is sent, the options what answers may name."""
    if not (name or "").strip():
        raise ValidationError(_("Give the question a name."), field="name")
    if not (text or "").strip():
        raise ValidationError(_("The question's text is empty."), field="text")
    if isinstance(answer_days, bool) or not isinstance(answer_days, int):
        raise ValidationError(_("answer_days is a whole number."), field="answer_days")
    if not 1 <= answer_days <= 90:
        raise ValidationError(_("Answers may be awaited 1 to 90 days."), field="answer_days")
    return ProfilingQuestion.objects.create(
        workspace=workspace,
        name=" ".join(name.split())[:100],
        text=text.strip(),
        options=options_clean(options),
        answer_days=answer_days,
    )


def profiling_send(question: ProfilingQuestion, contacts: Iterable[Contact | uuid.UUID]) -> int:
    """Text the question to these contacts (as marketing, so consent and the sending
    window apply) and record who was sent it; returns how many were queued.

    Contacts compliance refused get no record: a reply from them is not an answer.
    """
    workspace = question.workspace
    ids = [c.id if isinstance(c, Contact) else c for c in contacts]
    queued = 0
    for start in range(0, len(ids), SEND_BATCH):
        batch = ids[start : start + SEND_BATCH]
        with transaction.atomic():
            results = messages_send(
                workspace=workspace,
                requests=[
                    SendRequest(
                        str(contact_id),
                        question.text,
                        Purpose.MARKETING,
                        idempotency_key=f"profiling:{question.id}:{contact_id}:{timezone.now():%Y%m%d}",
                        kind=QUESTION_KIND,
                    )
                    for contact_id in batch
                ],
            )
            sends = [
                ProfilingSend(
                    workspace=workspace,
                    question=question,
                    contact_id=contact_id,
                    message=result.message,
                    sent_at=result.message.send_at,
                )
                for contact_id, result in zip(batch, results, strict=True)
                if result.created and result.message.status == Status.QUEUED
            ]
            ProfilingSend.objects.bulk_create(sends)
        queued += len(sends)
    return queued


def _latest_sends(
    workspace_id: Any, contact_ids: Iterable[Any], now: dt.datetime
) -> dict[Any, ProfilingSend]:
    """Per contact, the latest question sent whose answering time is not over (one query)."""
    longest = LONGEST_ANSWER_TIME
    latest: dict[Any, ProfilingSend] = {}
    sends = (
        ProfilingSend.objects.filter(
            workspace_id=workspace_id,
            contact_id__in=list(contact_ids),
            sent_at__gte=now - longest,
            sent_at__lte=now,
        )
        .select_related("question")
        .order_by("sent_at", "id")
    )
    for send in sends:
        if send.sent_at >= now - dt.timedelta(days=send.question.answer_days):
            latest[send.contact_id] = send
    return latest


def profiling_answers_apply(messages: Sequence[Message]) -> None:
    """Inbound step: tag the contacts whose reply answers a question they were sent.

    Runs in the transaction that stores the batch, before the inbox files it; a few
    queries per workspace in the batch. A message another step already classified (a
    STOP) is not an answer.
    """
    now = timezone.now()
    by_workspace: dict[Any, list[Message]] = defaultdict(list)
    for message in awaiting_filter(messages, now):
        if message.direction == Direction.IN and message.contact_id and not message.kind:
            by_workspace[message.workspace_id].append(message)
    for workspace_id, received in by_workspace.items():
        sends = _latest_sends(workspace_id, {m.contact_id for m in received}, now)
        if not sends:
            continue
        answered: dict[ProfilingSend, set[str]] = defaultdict(set)
        answers: list[Message] = []
        for message in received:
            send = sends.get(message.contact_id)
            if send is None:
                continue
            chosen = answer_parse(message.body, _options(send.question.options))
            if chosen is None:
                continue
            answered[send].update(INTEREST_PREFIX + o.name for o in chosen)
            answers.append(message)
        if answers:
            _record(received[0].workspace, answered, answers, now)


def _record(
    workspace: Workspace,
    answered: dict[ProfilingSend, set[str]],
    answers: list[Message],
    now: dt.datetime,
) -> None:
    """Tags on the contacts, the kind on the messages, the answer on the sends: in bulk."""
    names = set().union(*answered.values())
    tags = {t.name: t.id for t in tags_get_or_create(workspace=workspace, names=names)}
    through = Contact.tags.through
    through.objects.bulk_create(
        [
            through(contact_id=send.contact_id, tag_id=tags[name])
            for send, chosen in answered.items()
            for name in sorted(chosen)
        ],
        ignore_conflicts=True,  # an interest already declared stays one tag
    )
    Message.objects.filter(id__in=[m.id for m in answers]).update(kind=ANSWER_KIND)
    for message in answers:
        message.kind = ANSWER_KIND  # the inbox, next in line, reads it from the object
    for send, chosen in answered.items():
        send.answered_at = now
        send.answer_tags = sorted({*send.answer_tags, *chosen})
    ProfilingSend.objects.bulk_update(list(answered), ["answered_at", "answer_tags"])


def register() -> None:
    """Put the answer step before the inbox's filing step (the app's ready() calls it).

    Compliance's keyword step (STOP) runs before ours: its app is listed earlier.
    """
    from comptoir.inbox.filing import conversations_receive
    from comptoir.messaging.inbound import inbound_step_add

    awaited_kind_register(QUESTION_KIND, LONGEST_ANSWER_TIME)
    inbound_step_add(profiling_answers_apply, before=conversations_receive)
