"""Scores replied to a survey: an inbound step, in the transaction that stores the batch.

After the compliance keywords (STOP is never a score) and the appointment replies,
before the inbox files the messages. For a customer whose latest survey message went
out within the survey's reply window and is not answered yet, a clear score (see
comptoir.surveys.parsing) is recorded, once per run:

- a score above the survey's low score marks the message `survey_answer`: handled, it
  waits for nobody in the inbox;
- a low score marks it `survey_low_score`, which the inbox does not count as handled:
  the conversation is flagged "Survey score 2/5" (an urgent word's points) so it shows
  on top, needing an answer, and the goodwill offer goes as marketing (consent applies;
  a refusal is recorded on the response, with its reason).

Anything else (no score, no survey pending, a second reply) goes to the inbox as usual.
A batch costs a few queries per workspace, not a few per message.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from comptoir.automations.models import RunStatus, ScheduledRun
from comptoir.core.bulk import insert_objects, update_objects
from comptoir.core.errors import ComptoirError
from comptoir.core.ids import uuid7
from comptoir.messaging.awaiting import awaited_kind_register, awaiting_filter
from comptoir.messaging.models import Direction, Message, Purpose, Status
from comptoir.messaging.outbox import Enqueued, SendRequest, messages_send
from comptoir.messaging.templating import render
from comptoir.surveys.models import OfferStatus, SurveyResponse
from comptoir.surveys.parsing import score_parse
from comptoir.surveys.services import MAX_REPLY_DAYS
from comptoir.webhooks.services import webhook_event_register, webhooks_emit
from comptoir.workspaces.models import Workspace

ANSWER_KIND = "survey_answer"  # in the inbox's HANDLED_KINDS
LOW_SCORE_KIND = "survey_low_score"  # not handled: staff answer it
OFFER_KIND = "survey_offer"
THANKS_KIND = "survey_thanks"
WEBHOOK_EVENT = "survey.answered"
AUTOMATION_KIND = "automation"  # the kind of the rules' messages (comptoir.automations.firing)


def store_of(run: ScheduledRun) -> str:
    """The store a run's purchase happened in: the event's `store`, else its `place`."""
    data = run.event.data if run.event is not None else {}
    if not isinstance(data, dict):
        return ""
    return str(data.get("store") or data.get("place") or "")[:200]


def _latest_surveys(workspace_id: Any, contact_ids: set[Any], now: dt.datetime) -> dict[Any, Any]:
    """Each contact's latest survey run sent in the longest window, with `answered` (one query)."""
    runs = (
        ScheduledRun.objects.filter(
            workspace_id=workspace_id,
            contact_id__in=contact_ids,
            status=RunStatus.SENT,
            rule__survey__isnull=False,
            fired_at__gte=now - dt.timedelta(days=MAX_REPLY_DAYS),
        )
        .annotate(answered=Exists(SurveyResponse.objects.filter(run_id=OuterRef("pk"))))
        .select_related("rule__survey", "event", "contact")
        .order_by("-fired_at")
    )
    latest: dict[Any, ScheduledRun] = {}
    for run in runs:
        latest.setdefault(run.contact_id, run)
    return latest


def survey_replies_apply(messages: Sequence[Message]) -> None:
    """Inbound step: record the scores replied to surveys, set-based per workspace."""
    now = timezone.now()
    by_workspace: dict[Any, list[tuple[Message, int]]] = defaultdict(list)
    for message in awaiting_filter(messages, now):
        if message.direction != Direction.IN or message.contact_id is None or message.kind:
            continue  # an opt-out, an appointment answer… is never a score
        score = score_parse(message.body)
        if score is not None:
            by_workspace[message.workspace_id].append((message, score))
    for workspace_id, candidates in by_workspace.items():
        latest = _latest_surveys(workspace_id, {m.contact_id for m, _ in candidates}, now)
        responses: list[SurveyResponse] = []
        taken: set[Any] = set()
        for message, score in candidates:
            run = latest.get(message.contact_id)
            if run is None or run.answered or run.id in taken:  # type: ignore[attr-defined]
                continue  # nothing asked, or answered already: for the inbox
            survey = run.rule.survey
            if run.fired_at is None or now - run.fired_at > dt.timedelta(days=survey.reply_days):
                continue
            taken.add(run.id)
            responses.append(
                SurveyResponse(
                    id=uuid7(),
                    workspace_id=workspace_id,
                    survey=survey,
                    run=run,
                    contact=run.contact,
                    message=message,
                    score=score,
                    store=store_of(run),
                    answered_at=now,
                )
            )
        if responses:
            _record(candidates[0][0].workspace, responses)


def _record(workspace: Workspace, responses: list[SurveyResponse]) -> None:
    """Store the responses (a run answered meanwhile by another batch keeps its first
    one), mark the messages, flag the low ones, send offers and thanks, tell the shop."""
    insert_objects(responses, ignore_conflicts=True)
    stored = set(
        SurveyResponse.objects.filter(id__in=[r.id for r in responses]).values_list("id", flat=True)
    )
    responses = [r for r in responses if r.id in stored]
    if not responses:
        return
    low = [r for r in responses if r.score <= r.survey.low_score]
    high = [r for r in responses if r.score > r.survey.low_score]
    with translation.override(workspace.language):
        for response, kind in [(r, LOW_SCORE_KIND) for r in low] + [(r, ANSWER_KIND) for r in high]:
            message = response.message
            assert message is not None
            message.kind = kind
            if kind == LOW_SCORE_KIND:
                # Read by the inbox's filing step: the conversation's priority reason.
                message.priority_reason = _("Survey score %(score)d/5") % {  # type: ignore[attr-defined]
                    "score": response.score
                }
    for kind, group in ((LOW_SCORE_KIND, low), (ANSWER_KIND, high)):
        if group:
            Message.objects.filter(id__in=[r.message_id for r in group]).update(kind=kind)
    _send_follow_ups(workspace, responses, low)
    webhooks_emit(workspace, [(WEBHOOK_EVENT, response_payload(r)) for r in responses])


def _values(response: SurveyResponse, workspace: Workspace) -> dict[str, str]:
    contact = response.run.contact
    return {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "shop": workspace.name,
        "score": str(response.score),
    }


def _request(response: SurveyResponse, workspace: Workspace, kind: str) -> SendRequest:
    message = response.message
    assert message is not None
    survey = response.survey
    offer = kind == OFFER_KIND
    return SendRequest(
        to=str(response.contact_id),
        body=render(
            survey.goodwill_offer if offer else survey.thanks, _values(response, workspace)
        ),
        purpose=Purpose.MARKETING if offer else Purpose.TRANSACTIONAL,
        idempotency_key=f"{kind}:{message.id}",  # a replayed webhook sends once
        kind=kind,
        channel=str(message.channel_id) if message.channel_id else None,
    )


def _send(workspace: Workspace, requests: list[SendRequest]) -> list[Enqueued | ComptoirError]:
    """The messages in one call; when the outbox refuses the batch, each alone."""
    try:
        with transaction.atomic():
            return list(messages_send(workspace=workspace, requests=requests))
    except ComptoirError:
        pass
    results: list[Enqueued | ComptoirError] = []
    for request in requests:
        try:
            with transaction.atomic():
                results.append(messages_send(workspace=workspace, requests=[request])[0])
        except ComptoirError as exc:
            results.append(exc)
    return results


def _send_follow_ups(
    workspace: Workspace, responses: list[SurveyResponse], low: list[SurveyResponse]
) -> None:
    """Goodwill offers after low scores, thanks after every score when the survey has them."""
    planned: list[tuple[SurveyResponse, str]] = [
        (r, OFFER_KIND) for r in low if r.survey.goodwill_offer
    ] + [(r, THANKS_KIND) for r in responses if r.survey.thanks]
    ready: list[tuple[SurveyResponse, str, SendRequest]] = []
    for response, kind in planned:
        try:
            ready.append((response, kind, _request(response, workspace, kind)))
        except ComptoirError as exc:  # a template broken since it was saved
            if kind == OFFER_KIND:
                response.offer_status, response.offer_reason = OfferStatus.REFUSED, exc.code[:40]
    results = _send(workspace, [request for _r, _k, request in ready]) if ready else []
    for (response, kind, _sent), result in zip(ready, results, strict=True):
        if kind != OFFER_KIND:
            continue
        if isinstance(result, ComptoirError):
            response.offer_status, response.offer_reason = OfferStatus.REFUSED, result.code[:40]
            continue
        response.offer_message = result.message
        if result.message.status == Status.BLOCKED:
            response.offer_status = OfferStatus.REFUSED
            response.offer_reason = (result.message.error_code or "blocked")[:40]
        else:
            response.offer_status = OfferStatus.QUEUED
    offered = [r for r in low if r.offer_status]
    update_objects(offered, ("offer_status", "offer_reason", "offer_message_id"))


def response_payload(response: SurveyResponse) -> dict[str, Any]:
    """What the `survey.answered` webhook says."""
    run = response.run
    rule = run.rule
    event = run.event
    contact = run.contact
    return {
        "response_id": response.id,
        "score": response.score,
        "low": response.score <= response.survey.low_score,
        "store": response.store or None,
        "answered_at": response.answered_at,
        "contact": {"id": contact.id, "phone": contact.phone},
        "run_id": run.id,
        "rule": {"id": rule.id, "key": rule.key or None, "name": rule.name},
        "event_id": event.external_id if event is not None else None,
        "order_number": (event.data or {}).get("order_number") if event is not None else None,
        "message_id": response.message_id,
        "offer": response.offer_status or None,
        "offer_reason": response.offer_reason or None,
    }


def register() -> None:
    """The webhook event, the window of replies looked at, and the step (from ready())."""
    from comptoir.inbox.filing import conversations_receive
    from comptoir.messaging.inbound import inbound_step_add

    webhook_event_register(
        WEBHOOK_EVENT, gettext_lazy("A customer replied to a satisfaction survey with a score.")
    )
    awaited_kind_register(AUTOMATION_KIND, dt.timedelta(days=MAX_REPLY_DAYS))
    # Our app is listed after the compliance and automations apps: inserted before the
    # inbox's filing, we come after the keywords and the appointment replies.
    inbound_step_add(survey_replies_apply, before=conversations_receive)
