"""The alerts page: open alerts for staff (close one when dealt with), and for owners the
rules whose messages are alerts, with their settings. Thin over services and policies."""

from __future__ import annotations

from typing import Any

from django.contrib import messages as flash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from comptoir.alerts.forms import PolicyForm
from comptoir.alerts.policies import policy_delete, policy_get, policy_save, rule_for_alerts
from comptoir.alerts.selectors import alerts_list, policies_list
from comptoir.alerts.services import alert_close
from comptoir.automations.models import AutomationRule
from comptoir.core.errors import ComptoirError, NotFound
from comptoir.inbox.settings_views import is_owner, owner_view
from comptoir.web.views import staff_view
from comptoir.workspaces.models import Workspace


@staff_view
def alerts_page(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    show_all = request.GET.get("status") == "all"
    owner = is_owner(request.user, workspace)
    context = {
        "alerts": alerts_list(workspace, open_only=not show_all),
        "show_all": show_all,
        "is_owner": owner,
        "policies": policies_list(workspace) if owner else [],
        "rules": AutomationRule.objects.for_workspace(workspace).order_by("created_at")
        if owner
        else [],
    }
    return render(request, "alerts/alerts.html", context)


@staff_view
@require_POST
def alert_close_view(request: HttpRequest, workspace: Workspace, alert_id: Any) -> HttpResponse:
    try:
        alert_close(workspace=workspace, alert_id=alert_id)
    except ComptoirError as exc:
        flash.error(request, exc.message)
    else:
        flash.success(request, _("Alert closed."))
    return redirect("alerts:list")


@owner_view
def policy_edit(request: HttpRequest, workspace: Workspace, rule_id: Any) -> HttpResponse:
    try:
        rule = rule_for_alerts(workspace=workspace, rule_id=rule_id)
    except NotFound:
        from django.http import Http404

        raise Http404(_("Not found in this workspace.")) from None
    policy = policy_get(workspace=workspace, rule=rule)
    form = PolicyForm(request.POST or None, initial=PolicyForm.initial_for(policy))
    if request.method == "POST" and request.POST.get("remove") == "1":
        policy_delete(workspace=workspace, rule=rule)
        flash.success(request, _("“%(name)s” no longer sends alerts.") % {"name": rule.name})
        return redirect("alerts:list")
    if request.method == "POST" and form.is_valid():
        try:
            policy_save(
                workspace=workspace,
                rule=rule,
                ack_required=form.cleaned_data["ack_required"],
                settings=form.settings(),
            )
        except ComptoirError as exc:
            form.service_error(exc)
        else:
            flash.success(request, _("Saved."))
            return redirect("alerts:list")
    return render(request, "alerts/policy.html", {"rule": rule, "policy": policy, "form": form})
