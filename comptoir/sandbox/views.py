"""The phone simulator: play a customer's handset on the sandbox network (SIMULATED)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from comptoir.channels.models import Channel
from comptoir.contacts.models import Contact
from comptoir.contacts.phones import parse_phone
from comptoir.core.errors import ValidationError
from comptoir.inbox.models import ConversationEvent, EventKind
from comptoir.sandbox.carrier import (
    customer_calls,
    customer_texts,
    handset_answers,
    handset_hangs_up,
    handset_presses,
    handset_thread,
)
from comptoir.web.views import staff_view
from comptoir.workspaces.models import Workspace

# What the simulator offers, and how a voice provider reports each ending of the call.
CALL_OUTCOMES = {
    "no-answer": ("no-answer", _lazy("No answer"), _lazy("nobody answered")),
    "busy": ("busy", _lazy("Busy"), _lazy("the line was busy")),
    "answered": ("completed", _lazy("Answered"), _lazy("the shop answered")),
}
CALLS_SHOWN = 50


@dataclass(frozen=True)
class HandsetItem:
    """A line of the handset's screen: a text (mt/mo) or a call this phone made."""

    direction: str
    body: str
    submitted_at: dt.datetime
    medium: str = "text"
    call_id: str = ""  # a call the shop placed to this handset
    call_state: str = ""  # ringing, answered, ended
    gather_digits: int = 0
    digits: str = ""


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


def _call_text(status: str) -> str:
    for provider_status, _label, said in CALL_OUTCOMES.values():
        if provider_status == status:
            return _("📞 You called the shop: %(what)s.") % {"what": said}
    return _("📞 You called the shop.")


def handset_items(channel: Channel, number: str) -> list[HandsetItem]:
    """The handset's texts and the calls it made to the shop's line, oldest first."""
    if not number:
        return []
    items = [
        HandsetItem(
            m.direction,
            m.body,
            m.submitted_at,
            medium=m.medium,
            call_id=m.provider_id if m.medium == "voice" else "",
            call_state=m.call_state,
            gather_digits=m.gather_digits,
            digits=m.digits,
        )
        for m in handset_thread(channel=channel, number=number)
    ]
    calls = ConversationEvent.objects.filter(
        conversation__workspace_id=channel.workspace_id,
        channel=channel,
        kind__in=(EventKind.CALL_MISSED, EventKind.CALL_ANSWERED),
        data__from=number,
    ).order_by("-at")[:CALLS_SHOWN]
    items += [HandsetItem("call", _call_text(c.data.get("status", "")), c.at) for c in calls]
    return sorted(items, key=lambda i: i.submitted_at)


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
            "thread": handset_items(channel, number),
            "outcomes": [(key, label) for key, (_status, label, _said) in CALL_OUTCOMES.items()],
        },
    )


def _thread(
    request: HttpRequest, channel: Channel, number: str, *, error: str = "", status: int = 200
) -> HttpResponse:
    context = {"thread": handset_items(channel, number), "number": number, "error": error}
    return render(request, "sandbox/_thread.html", context, status=status)


@staff_view
def thread(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    channel = _sandbox_channel(workspace)
    return _thread(request, channel, _number(request, workspace, request.GET.get("number", "")))


def _back(request: HttpRequest, channel: Channel, number: str, error: str = "") -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        # The number is in the form, not the query string: the thread is the posted one's.
        return _thread(request, channel, number, error=error, status=422 if error else 200)
    return redirect(reverse("sandbox:phone") + "?" + urlencode({"number": number}))


@staff_view
@require_POST
def reply(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    channel = _sandbox_channel(workspace)
    number = _number(request, workspace, request.POST.get("number", ""))
    text = request.POST.get("text", "").strip()
    if number and text:
        # Enters Comptoir exactly as a carrier's webhook would: signed, through /hooks.
        customer_texts(channel=channel, sender=number, text=text)
    return _back(request, channel, number)


@staff_view
@require_POST
def call(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    """This handset calls the shop's line; the network reports how the call ended."""
    channel = _sandbox_channel(workspace)
    number = _number(request, workspace, request.POST.get("number", ""))
    outcome = request.POST.get("outcome", "")
    error = ""
    if not number:
        error = _("Pick a valid phone number to call from.")
    elif outcome not in CALL_OUTCOMES:
        error = _("Unknown call outcome %(outcome)r: use %(choices)s.") % {
            "outcome": outcome,
            "choices": ", ".join(CALL_OUTCOMES),
        }
    else:
        customer_calls(channel=channel, caller=number, outcome=CALL_OUTCOMES[outcome][0])
    return _back(request, channel, number, error)


KEYS = frozenset("0123456789*#")


@staff_view
@require_POST
def pickup(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    """This handset acts on a call from the shop: answer, press keys, decline or hang up."""
    channel = _sandbox_channel(workspace)
    number = _number(request, workspace, request.POST.get("number", ""))
    call_id = request.POST.get("call", "")
    action = request.POST.get("action", "")
    digits = request.POST.get("digits", "")
    error = ""
    if action == "answer":
        done = handset_answers(channel=channel, call_id=call_id)
    elif action == "key" and digits and set(digits) <= KEYS:
        done = handset_presses(channel=channel, call_id=call_id, digits=digits)
    elif action in ("decline", "hangup"):
        done = handset_hangs_up(channel=channel, call_id=call_id)
    else:
        done, error = False, _("Unknown call action %(action)r.") % {"action": action}
    if not done and not error:
        error = _("This call is over.")
    return _back(request, channel, number, error)
