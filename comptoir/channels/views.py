"""The channel set-up pages: a workspace's channels, adding one, changing one.

Thin views over comptoir.channels.services, for the workspace's owners only (an agent
gets 403), every query scoped to the workspace (another workspace's channel is a 404).
The form is generated from the provider type's `config_fields`; the page of a channel
lists the URLs to paste into the provider's console, from the type's `endpoints`.
Secrets are never sent back to the browser.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages as flash
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from comptoir.channels.forms import ChannelForm
from comptoir.channels.models import Channel
from comptoir.channels.services import channel_create, channel_update
from comptoir.core.errors import ComptoirError
from comptoir.inbox.settings_views import owner_view
from comptoir.providers.base import ProviderType
from comptoir.providers.registry import UnknownProvider, provider_type, provider_types
from comptoir.workspaces.models import Workspace


def _channels(workspace: Workspace) -> QuerySet[Channel]:
    return Channel.objects.for_workspace(workspace).order_by("-is_default", "name", "id")


def _type_or_404(code: str) -> ProviderType:
    try:
        return provider_type(code)
    except UnknownProvider:
        raise Http404(_("This provider is not enabled on this installation.")) from None


def _hooks(channel: Channel, ptype: ProviderType) -> list[dict[str, str]]:
    """What to paste into the provider's console: one URL per declared endpoint."""
    return [
        {
            "action": e.action,
            "method": e.method,
            "description": e.description,
            "url": channel.hook_url(e.action),
        }
        for e in ptype.endpoints
    ]


def _render(request: HttpRequest, template: str, **context: Any) -> HttpResponse:
    context.setdefault("is_owner", True)
    return render(request, f"channels/{template}", context)


@owner_view
def channel_list(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    types = provider_types()
    rows = list(_channels(workspace).select_related("backup"))
    for row in rows:
        known = types.get(row.provider)
        row.provider_name = known.name if known else row.provider  # type: ignore[attr-defined]
    return _render(request, "list.html", channels=rows, types=list(types.values()))


@owner_view
def channel_add(request: HttpRequest, workspace: Workspace, provider: str) -> HttpResponse:
    ptype = _type_or_404(provider)
    backups = list(_channels(workspace).filter(scheme=ptype.schemes[0]))
    form = ChannelForm(request.POST or None, ptype=ptype, backups=backups)
    if request.method == "POST" and form.is_valid():
        try:
            channel = channel_create(
                workspace=workspace, provider=ptype.code, actor=request.user, **form.values()
            )
        except ComptoirError as exc:
            form.service_error(exc)
        else:
            flash.success(
                request,
                _("Channel “%(name)s” added. Paste the URLs below into the provider's console.")
                % {"name": channel.name},
            )
            return redirect("channels:edit", channel_id=channel.id)
    return _render(request, "form.html", form=form, ptype=ptype, channel=None, hooks=[])


@owner_view
def channel_edit(request: HttpRequest, workspace: Workspace, channel_id: Any) -> HttpResponse:
    channel = _channels(workspace).filter(id=channel_id).first()
    if channel is None:
        raise Http404(_("Not found in this workspace."))
    ptype = _type_or_404(channel.provider)
    backups = list(_channels(workspace).filter(scheme=channel.scheme).exclude(id=channel.id))
    form = ChannelForm(request.POST or None, ptype=ptype, backups=backups, channel=channel)
    if request.method == "POST" and form.is_valid():
        try:
            changed = channel_update(channel=channel, actor=request.user, **form.values())
        except ComptoirError as exc:
            form.service_error(exc)
        else:
            flash.success(request, _("Saved.") if changed else _("Nothing changed."))
            return redirect("channels:edit", channel_id=channel.id)
    return _render(
        request, "form.html", form=form, ptype=ptype, channel=channel, hooks=_hooks(channel, ptype)
    )
