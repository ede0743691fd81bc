"""Profiling question pages, under /segments/questions/: create a question, send it to a
segment, see the answers per option. Thin: the work is in `segments.questions`."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages as flash
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from comptoir.core.errors import ComptoirError
from comptoir.inbox.settings_views import is_owner, owner_view
from comptoir.segments.models import ProfilingQuestion, Segment
from comptoir.segments.profiling import profiling_question_create
from comptoir.segments.questions import (
    options_from_text,
    profiling_send_to_segment,
    question_results,
)
from comptoir.web.views import staff_view
from comptoir.workspaces.models import Workspace


def _question(workspace: Workspace, question_id: Any) -> ProfilingQuestion:
    question = ProfilingQuestion.objects.for_workspace(workspace).filter(id=question_id).first()
    if question is None:
        raise Http404(_("Not found in this workspace."))
    return question


@staff_view
def question_list(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    """The questions, and (owners) the form for a new one."""
    form = {"name": "", "text": "", "options": "", "answer_days": "7"}
    error: ComptoirError | None = None
    status = 200
    if request.method == "POST":
        if not is_owner(request.user, workspace):
            raise Http404(_("Not found in this workspace."))
        form = {k: request.POST.get(k, "") for k in form}
        try:
            days = int(form["answer_days"] or 0)
        except ValueError:
            days = 0
        try:
            question = profiling_question_create(
                workspace=workspace,
                name=form["name"],
                text=form["text"],
                options=options_from_text(form["options"]),
                answer_days=days,
            )
        except ComptoirError as exc:
            error, status = exc, 422
        else:
            flash.success(request, _("Question “%(name)s” saved.") % {"name": question.name})
            return redirect("segments:question", question_id=question.id)
    questions = ProfilingQuestion.objects.for_workspace(workspace).order_by("name", "id")
    context = {
        "questions": questions,
        "form": form,
        "error": error,
        "is_owner": is_owner(request.user, workspace),
    }
    return render(request, "segments/questions.html", context, status=status)


@staff_view
def question_detail(request: HttpRequest, workspace: Workspace, question_id: Any) -> HttpResponse:
    """A question: its text, its options with the answers counted, the send form."""
    question = _question(workspace, question_id)
    context = {
        "question": question,
        "results": question_results(question),
        "segments": Segment.objects.for_workspace(workspace).order_by("name", "id"),
        "is_owner": is_owner(request.user, workspace),
    }
    return render(request, "segments/question.html", context)


@owner_view
@require_POST
def question_send(request: HttpRequest, workspace: Workspace, question_id: Any) -> HttpResponse:
    """Text the question to a segment (marketing: consent and legal hours apply)."""
    question = _question(workspace, question_id)
    try:
        segment_id = uuid.UUID(request.POST.get("segment", ""))
    except ValueError:
        chosen = None
    else:
        chosen = Segment.objects.for_workspace(workspace).filter(id=segment_id).first()
    if chosen is None:
        flash.error(request, _("Choose one of this shop's segments."))
        return redirect("segments:question", question_id=question.id)
    try:
        queued = profiling_send_to_segment(question=question, segment=chosen)
    except ComptoirError as exc:
        flash.error(request, exc.message)
    else:
        flash.success(
            request,
            _("Sent to %(n)d customers of “%(segment)s” (the others may not get marketing).")
            % {"n": queued, "segment": chosen.name},
        )
    return redirect("segments:question", question_id=question.id)
