"""The automations pages (owners only): rules to list, edit and switch on or off, and the
runs planned and sent, with the demo's "run due now" and "send now" buttons.

Thin views over comptoir.automations.rules and .firing. Row toggles answer an htmx
request with the refreshed list, and work as plain posts without it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages as flash
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from comptoir.automations.firing import run_send_now, runs_fire_due
from comptoir.automations.forms import RuleForm
from comptoir.automations.models import AutomationRule, ScheduledRun
from comptoir.automations.planning import birthdays_plan
from comptoir.automations.rules import offset_format, offset_parse, rule_enable, rule_save
from comptoir.core.errors import ComptoirError
from comptoir.inbox.settings_views import owner_view
from comptoir.workspaces.models import Workspace

RUNS_SHOWN = 100


def _rules(workspace: Workspace) -> list[AutomationRule]:
    rows = list(AutomationRule.objects.for_workspace(workspace).order_by("created_at", "id"))
    for rule in rows:
        rule.offset_text = offset_format(rule.offset_minutes)  # type: ignore[attr-defined]
    return rows


def _save(form: RuleForm, workspace: Workspace, rule: AutomationRule | None) -> bool:
    data = form.cleaned_data
    try:
        rule_save(
            workspace=workspace,
            rule=rule,
            name=data["name"],
            enabled=data["enabled"],
            trigger_type=data["trigger_type"],
            trigger=data["trigger"],
            offset_minutes=offset_parse(data["offset"]),
            at_time=data["at_time"],
            purpose=data["purpose"],
            channel=data["channel"],
            templates=form.templates(),
            conditions=data["conditions"],
            fallback=data["fallback"],
        )
    except ComptoirError as exc:
        form.service_error(exc)
        return False
    return True


@owner_view
def rules_page(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    form = RuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and _save(form, workspace, None):
        flash.success(request, _("Rule “%(name)s” added.") % {"name": form.cleaned_data["name"]})
        return redirect("automations:rules")
    context = {"rules": _rules(workspace), "form": form, "section": "rules"}
    return render(request, "automations/rules.html", context)


def rule_or_404(workspace: Workspace, rule_id: Any) -> AutomationRule:
    rule = AutomationRule.objects.for_workspace(workspace).filter(id=rule_id).first()
    if rule is None:
        raise Http404(_("Not found in this workspace."))
    return rule


@owner_view
def rule_edit(request: HttpRequest, workspace: Workspace, rule_id: Any) -> HttpResponse:
    rule = rule_or_404(workspace, rule_id)
    form = RuleForm(request.POST or None, initial=RuleForm.initial_for(rule))
    if request.method == "POST" and form.is_valid() and _save(form, workspace, rule):
        flash.success(request, _("Saved."))
        return redirect("automations:rules")
    return render(
        request, "automations/rule.html", {"rule": rule, "form": form, "section": "rules"}
    )


@owner_view
@require_POST
def rule_toggle(request: HttpRequest, workspace: Workspace, rule_id: Any) -> HttpResponse:
    rule_enable(rule=rule_or_404(workspace, rule_id), enabled=request.POST.get("enabled") == "1")
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "automations/_rules.html", {"rules": _rules(workspace)})
    return redirect("automations:rules")


@owner_view
def runs_page(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    runs = (
        ScheduledRun.objects.for_workspace(workspace)
        .select_related("rule", "contact", "appointment")
        .order_by("-due_at")[:RUNS_SHOWN]
    )
    return render(request, "automations/runs.html", {"runs": runs, "section": "runs"})


@owner_view
@require_POST
def run_due_now(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    """The demo's button: what `comptoir automations run-due` does, now."""
    birthdays_plan(workspaces=[workspace])
    report = runs_fire_due(workspace=workspace)
    flash.success(
        request,
        _("%(sent)d sent, %(skipped)d skipped, %(cancelled)d cancelled.")
        % {"sent": report.sent, "skipped": report.skipped, "cancelled": report.cancelled},
    )
    return redirect("automations:runs")


@owner_view
@require_POST
def run_send_now_view(request: HttpRequest, workspace: Workspace, run_id: Any) -> HttpResponse:
    try:
        run = run_send_now(workspace=workspace, run_id=run_id)
    except ComptoirError as exc:
        flash.error(request, exc.message)
    else:
        flash.success(request, _("Run: %(status)s.") % {"status": run.get_status_display()})
    return redirect("automations:runs")
