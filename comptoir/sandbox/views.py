"""The phone simulator: play a customer's handset on the sandbox network (SIMULATED)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from comptoir.channels.models import Channel
from comptoir.contacts.models import Contact
from comptoir.contacts.phones import parse_phone
from comptoir.core.errors import ValidationError
from comptoir.sandbox.carrier import customer_texts, handset_thread
from comptoir.web.views import staff_view
from comptoir.workspaces.models import Workspace


def _sandbox_channel(workspace: Workspace) -> Channel:
    channel = Channel.objects.for_workspace(workspace).filter(provider="sandbox").first()
    if channel is None:
        raise Http404(_("This workspace has no sandbox channel."))
    return channel


def _number(request: HttpRequest, workspace: Workspace, raw: str) -> str:
    if not raw:
        return ""
    try:
        return parse_phone(raw, region=workspace.region, field="number").e164
    except ValidationError:
        return ""


@staff_view
def phone(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    channel = _sandbox_channel(workspace)
    number = _number(request, workspace, request.GET.get("number", ""))
    contacts = Contact.objects.for_workspace(workspace).order_by("last_name", "first_name")[:200]
    return render(
        request,
        "sandbox/phone.html",
        {
            "channel": channel,
            "number": number,
            "typed": request.GET.get("number", ""),
            "contacts": contacts,
            "thread": handset_thread(channel=channel, number=number) if number else [],
        },
    )


def _thread(request: HttpRequest, channel: Channel, number: str) -> HttpResponse:
    items = handset_thread(channel=channel, number=number) if number else []
    return render(request, "sandbox/_thread.html", {"thread": items, "number": number})


@staff_view
def thread(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    channel = _sandbox_channel(workspace)
    return _thread(request, channel, _number(request, workspace, request.GET.get("number", "")))


@staff_view
@require_POST
def reply(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    channel = _sandbox_channel(workspace)
    number = _number(request, workspace, request.POST.get("number", ""))
    text = request.POST.get("text", "").strip()
    if number and text:
        # Enters Comptoir exactly as a carrier's webhook would: signed, through /hooks.
        customer_texts(channel=channel, sender=number, text=text)
    if request.htmx:  # type: ignore[attr-defined]
        # The number is in the form, not the query string: the thread is the posted one's.
        return _thread(request, channel, number)
    return redirect(reverse("sandbox:phone") + "?" + urlencode({"number": number}))
