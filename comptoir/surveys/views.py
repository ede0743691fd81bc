"""The surveys page (owners): scores per month as a bar chart, per store, and each
survey's settings. Thin over comptoir.surveys.selectors and .services."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages as flash
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from comptoir.automations.models import AutomationRule
from comptoir.automations.views import rule_or_404
from comptoir.core.errors import ComptoirError
from comptoir.inbox.settings_views import owner_view
from comptoir.surveys.forms import SurveyForm
from comptoir.surveys.models import Survey
from comptoir.surveys.selectors import survey_results, surveys_list
from comptoir.surveys.services import survey_remove, survey_save
from comptoir.workspaces.models import Workspace


@owner_view
def results_page(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    make = request.GET.get("make", "")
    if make:  # "Make a rule a survey": its settings page
        try:
            rule = rule_or_404(workspace, uuid.UUID(make))
        except ValueError as exc:
            raise Http404(_("Not found in this workspace.")) from exc
        return redirect("surveys:edit", rule_id=rule.id)
    surveys = surveys_list(workspace)
    chosen = None
    wanted = request.GET.get("survey", "")
    if wanted:
        chosen = next((s for s in surveys if str(s.id) == wanted), None)
        if chosen is None:
            raise Http404(_("Not found in this workspace."))
    results = survey_results(workspace, survey=chosen)
    others = (
        AutomationRule.objects.for_workspace(workspace)
        .filter(survey__isnull=True)
        .order_by("created_at", "id")
    )
    context = {
        "surveys": surveys,
        "chosen": chosen,
        "results": results,
        "rules": others,
        "scores": (1, 2, 3, 4, 5),
    }
    return render(request, "surveys/results.html", context)


@owner_view
def survey_edit(request: HttpRequest, workspace: Workspace, rule_id: Any) -> HttpResponse:
    """A rule's survey settings; saving a rule that is not a survey yet makes it one."""
    rule = rule_or_404(workspace, rule_id)
    survey = Survey.objects.for_workspace(workspace).filter(rule=rule).first()
    form = SurveyForm(request.POST or None, initial=SurveyForm.initial_for(survey))
    if request.method == "POST" and request.POST.get("remove") == "1" and survey is not None:
        survey_remove(workspace=workspace, rule_id=rule.id)
        flash.success(request, _("“%(name)s” is no longer a survey.") % {"name": rule.name})
        return redirect("surveys:results")
    if request.method == "POST" and form.is_valid():
        try:
            survey_save(workspace=workspace, rule_id=rule.id, **form.cleaned_data)
        except ComptoirError as exc:
            form.service_error(exc)
        else:
            flash.success(request, _("Saved."))
            return redirect("surveys:results")
    context = {"rule": rule, "survey": survey, "form": form}
    return render(request, "surveys/survey.html", context, status=422 if form.errors else 200)
