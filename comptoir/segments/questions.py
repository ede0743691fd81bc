"""The profiling questions' staff pages, their reads and writes (issue 5, item 4).

`options_from_text` reads the options as staff type them ("1 gold or doré, 2 silver
argent"); `profiling_send_to_segment` texts a question to a saved segment through
`profiling.profiling_send` (the outbox: consent, opt-outs, the cap and the legal hours
apply, as for any marketing text); `question_results` counts the answers per option.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from comptoir.core.errors import ValidationError
from comptoir.segments.definition import INTEREST_PREFIX
from comptoir.segments.models import ProfilingQuestion, ProfilingSend, Segment
from comptoir.segments.profiling import profiling_send
from comptoir.segments.query import segment_queryset

_OPTION = re.compile(r"^(\d{1,2})[\s.):=-]*(\S+)(.*)$")


def options_from_text(text: str) -> list[dict[str, Any]]:
    """ "1 gold or doré, 2 silver argent" -> options: a number, a name, then its synonyms.

    Options are separated by commas or new lines. The options are then checked by the
    profiling service (numbers used once, names and words not shared).
    """
    parts = [p.strip() for p in re.split(r"[,;\n]", text or "") if p.strip()]
    if not parts:
        raise ValidationError(_("Give the options, e.g. “1 gold, 2 silver”."), field="options")
    options = []
    for index, part in enumerate(parts):
        match = _OPTION.match(part)
        if match is None:
            raise ValidationError(
                _("Option %(n)d (“%(text)s”): start with its number, then its name, e.g. “1 gold”.")
                % {"n": index + 1, "text": part[:40]},
                field="options",
            )
        number, name, words = match.groups()
        options.append({"number": int(number), "name": name, "words": words.split()})
    return options


def profiling_send_to_segment(*, question: ProfilingQuestion, segment: Segment) -> int:
    """Text the question to the segment's customers (prospects left out); how many queued."""
    if segment.workspace_id != question.workspace_id:
        raise ValidationError(_("Choose one of this shop's segments."), field="segment")
    contacts = segment_queryset(segment, question.workspace).filter(is_prospect=False)
    ids = list(contacts.order_by().values_list("id", flat=True).distinct())
    if not ids:
        raise ValidationError(_("This segment has no one in it today."), field="segment")
    return profiling_send(question, ids)


@dataclass(frozen=True)
class OptionCount:
    number: int
    name: str
    words: list[str]
    answers: int


@dataclass(frozen=True)
class QuestionResults:
    sent: int
    answered: int
    options: list[OptionCount]


def question_results(question: ProfilingQuestion) -> QuestionResults:
    """Sent, answered, and the answers per option (an answer may name several)."""
    sends = ProfilingSend.objects.filter(workspace=question.workspace, question=question)
    sent = sends.count()
    chosen: Counter[str] = Counter()
    answered = 0
    # Only the answered sends' tag lists are read; JSON list membership has no portable SQL.
    for tags in sends.filter(answered_at__isnull=False).values_list("answer_tags", flat=True):
        answered += 1
        chosen.update(set(tags or []))
    return QuestionResults(
        sent=sent,
        answered=answered,
        options=[
            OptionCount(
                o["number"], o["name"], o.get("words", []), chosen[INTEREST_PREFIX + o["name"]]
            )
            for o in question.options
        ],
    )
