"""The privacy pages for a workspace's owners: a contact's consent, export and erasure;
the shop's keywords; the sending policy; the audit log.

Thin views over the compliance services (consent, gdpr, keywords, policy), owners only
like the inbox's settings. Every read goes through the workspace: another workspace's
contact or keyword is a 404. A form that fails is shown again with the error on its
field; small changes (a consent event, a keyword removed) answer an htmx request with
the refreshed fragment and work as plain posts without it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from typing import Any

from django.contrib import messages as flash
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from comptoir.compliance.consent import consent_record
from comptoir.compliance.countries import is_holiday, policy_for
from comptoir.compliance.export import contact_export
from comptoir.compliance.forms import (
    RETENTION_MODES,
    WEEKDAYS,
    AuditFilterForm,
    ConsentChangeForm,
    ContactEraseForm,
    ContactSearchForm,
    KeywordForm,
    PolicyForm,
)
from comptoir.compliance.gdpr import consent_history, contact_erase, contact_get
from comptoir.compliance.keywords import (
    BUILT_IN,
    KIND_LABELS,
    languages_understood,
    workspace_keyword_add,
    workspace_keyword_remove,
)
from comptoir.compliance.models import AuditEntry, ConsentPurpose, ConsentSource, WorkspaceKeyword
from comptoir.compliance.policy import workspace_policy_update
from comptoir.compliance.retention import retention_days, retention_mode
from comptoir.contacts.models import Contact
from comptoir.contacts.phones import parse_phone
from comptoir.core.errors import ComptoirError, NotFound
from comptoir.inbox.forms import LANGUAGE_NAMES
from comptoir.inbox.settings_views import owner_view
from comptoir.workspaces.models import Workspace

AUDIT_PAGE = 50
SEARCH_LIMIT = 20
UNPROCESSABLE = 422  # a refused form, shown again (htmx swaps it in, see base.html)


def _page(
    request: HttpRequest, template: str, *, status: int = 200, **context: Any
) -> HttpResponse:
    context.setdefault("section", template.rsplit("/", 1)[-1].split(".")[0])
    return render(request, f"compliance/{template}", context, status=status)


def _contact(workspace: Workspace, contact_id: Any) -> Contact:
    try:
        return contact_get(workspace=workspace, contact_id=contact_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


# -- contacts ----------------------------------------------------------------------------


@owner_view
def index(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    """Find the contact a request is about, by number or name."""
    form = ContactSearchForm(request.GET)
    found: list[Contact] | None = None
    if form.is_valid() and form.cleaned_data["q"].strip():
        typed = form.cleaned_data["q"].strip()
        match = Q(first_name__icontains=typed) | Q(last_name__icontains=typed)
        with contextlib.suppress(ComptoirError):  # not a number: the name alone
            match |= Q(phone=parse_phone(typed, region=workspace.region).e164)
        rows = Contact.objects.for_workspace(workspace).filter(match)
        found = list(rows.order_by("last_name", "first_name", "phone")[:SEARCH_LIMIT])
    return _page(request, "index.html", form=form, found=found, limit=SEARCH_LIMIT)


def _consent_context(contact: Contact) -> dict[str, Any]:
    """The history (oldest first) and the state each purpose is in now, per family of
    channels: texts and calls share theirs, email has its own once it has any event.

    The state is the latest event of each (purpose, family), in the history's order (time,
    then insertion), which is how the sending rules read it (consent.consent_state).
    """
    history = consent_history(contact=contact)
    latest = {(e.purpose, _family(e.channel)): e.action for e in history}
    families = [("phone", _("texts and calls"))]
    if any(family == "email" for _purpose, family in latest):
        families.append(("email", _("email")))
    current = [
        {"purpose": label, "family": family_label, "action": latest.get((value, family), "")}
        for family, family_label in families
        for value, label in ConsentPurpose.choices
    ]
    return {"history": history, "current": current}


def _family(channel: str) -> str:
    return "email" if channel == "email" else "phone"


def _contact_page(
    request: HttpRequest,
    workspace: Workspace,
    contact: Contact,
    *,
    consent_form: ConsentChangeForm | None = None,
    erase_form: ContactEraseForm | None = None,
    status: int = 200,
) -> HttpResponse:
    return _page(
        request,
        "contact.html",
        status=status,
        section="index",
        contact=contact,
        consent_form=consent_form or ConsentChangeForm(),
        erase_form=erase_form or ContactEraseForm(phone=contact.phone, region=workspace.region),
        **_consent_context(contact),
    )


@owner_view
def contact(request: HttpRequest, workspace: Workspace, contact_id: uuid.UUID) -> HttpResponse:
    return _contact_page(request, workspace, _contact(workspace, contact_id))


@owner_view
@require_POST
def contact_consent(
    request: HttpRequest, workspace: Workspace, contact_id: uuid.UUID
) -> HttpResponse:
    """Staff record what a customer told them; earlier events are never changed."""
    found = _contact(workspace, contact_id)
    form = ConsentChangeForm(request.POST)
    recorded = form.is_valid()
    if recorded:
        data = form.cleaned_data
        consent_record(
            contact=found,
            purposes=[data["purpose"]],
            action=data["action"],
            source=ConsentSource.STAFF,
            proof={"note": data["note"]},
            actor=request.user,
            channel=data["channel"],
        )
    if request.htmx:  # type: ignore[attr-defined]
        context = {
            "contact": found,
            "consent_form": ConsentChangeForm() if recorded else form,
            "recorded": recorded,
            **_consent_context(found),
        }
        status = 200 if recorded else UNPROCESSABLE
        return render(request, "compliance/_consent.html", context, status=status)
    if not recorded:
        return _contact_page(request, workspace, found, consent_form=form, status=UNPROCESSABLE)
    flash.success(request, _("Consent change recorded."))
    return redirect("privacy:contact", contact_id=found.id)


@owner_view
@require_POST
def contact_export_view(
    request: HttpRequest, workspace: Workspace, contact_id: uuid.UUID
) -> HttpResponse:
    """The zip of everything held on the contact (a post: the export is audited)."""
    found = _contact(workspace, contact_id)
    archive = contact_export(workspace=workspace, contact_id=found.id, actor=request.user)
    response = HttpResponse(archive, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="contact-{found.id}.zip"'
    return response


@owner_view
@require_POST
def contact_erase_view(
    request: HttpRequest, workspace: Workspace, contact_id: uuid.UUID
) -> HttpResponse:
    found = _contact(workspace, contact_id)
    form = ContactEraseForm(request.POST, phone=found.phone, region=workspace.region)
    if not form.is_valid():
        return _contact_page(request, workspace, found, erase_form=form, status=UNPROCESSABLE)
    contact_erase(workspace=workspace, contact_id=found.id, actor=request.user)
    flash.success(
        request,
        _("%(name)s was erased. Only a hash of the number is kept, so it is never texted again.")
        % {"name": found.display_name},
    )
    return redirect("privacy:index")


# -- keywords ----------------------------------------------------------------------------


def _keywords_context(workspace: Workspace) -> dict[str, Any]:
    understood = languages_understood(workspace.language)
    builtin = [
        {
            "language": language,
            "name": LANGUAGE_NAMES.get(language, language),
            "understood": language in understood,
            "kinds": [(KIND_LABELS[kind], words) for kind, words in kinds.items()],
        }
        for language, kinds in BUILT_IN.items()
    ]
    own = list(WorkspaceKeyword.objects.filter(workspace=workspace).order_by("kind", "word"))
    for keyword in own:
        keyword.kind_label = KIND_LABELS.get(keyword.kind, keyword.kind)  # type: ignore[attr-defined,call-overload]
    return {"builtin": builtin, "own": own}


@owner_view
def keywords(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    form = KeywordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            added = workspace_keyword_add(
                workspace=workspace,
                word=form.cleaned_data["word"],
                kind=form.cleaned_data["kind"],
                actor=request.user,
            )
        except ComptoirError as exc:
            form.service_error(exc)
        else:
            flash.success(request, _("Keyword “%(word)s” added.") % {"word": added.word.upper()})
            return redirect("privacy:keywords")
    status = UNPROCESSABLE if form.is_bound and form.errors else 200
    return _page(request, "keywords.html", status=status, form=form, **_keywords_context(workspace))


@owner_view
@require_POST
def keyword_delete(request: HttpRequest, workspace: Workspace, keyword_id: int) -> HttpResponse:
    try:
        removed = workspace_keyword_remove(
            workspace=workspace, keyword_id=keyword_id, actor=request.user
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "compliance/_own_keywords.html", _keywords_context(workspace))
    flash.success(request, _("Keyword “%(word)s” removed.") % {"word": removed.word.upper()})
    return redirect("privacy:keywords")


# -- sending policy ----------------------------------------------------------------------


def _upcoming_holidays(country: str, today: dt.date, count: int = 3) -> list[dt.date]:
    days = (today + dt.timedelta(days=n) for n in range(400))
    return [day for day in days if is_holiday(country, day)][:count]


@owner_view
def policy(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    """The policy in force for the shop's own country, and the form of its overrides."""
    country = workspace.region
    base = policy_for(country, default_country=country, overrides={})
    current = policy_for(country, default_country=country, overrides=workspace.policy or {})
    form = PolicyForm(
        request.POST or None,
        base=base,
        current=current,
        retention=(retention_days(workspace), retention_mode(workspace)),
        base_retention=(retention_days(None), retention_mode(None)),
        timezone_name=workspace.timezone,
    )
    if request.method == "POST" and form.is_valid():
        try:
            changed = workspace_policy_update(
                workspace=workspace,
                overrides=form.overrides(),
                timezone_name=form.cleaned_data["timezone"],
                actor=request.user,
            )
        except ComptoirError as exc:
            form.service_error(exc)
        else:
            flash.success(request, _("Saved.") if changed else _("Nothing changed."))
            return redirect("privacy:policy")
    window = current.marketing_window
    schedule = [
        (name, f"{window.start:%H:%M} - {window.end:%H:%M}" if day in window.days else "")
        for day, name in WEEKDAYS
    ]
    today = timezone.localdate(timezone=workspace.tz)
    return _page(
        request,
        "policy.html",
        status=UNPROCESSABLE if form.is_bound and form.errors else 200,
        form=form,
        country=country or "",
        known_country=bool(base.country),
        current=current,
        schedule=schedule,
        holidays=_upcoming_holidays(country, today) if window.skip_holidays else [],
        retention=(retention_days(workspace), retention_mode(workspace)),
        retention_mode_label=RETENTION_MODES.get(retention_mode(workspace), ""),
        overridden=sorted(workspace.policy or {}),
    )


# -- audit log ---------------------------------------------------------------------------


@owner_view
def audit_log(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    entries = AuditEntry.objects.for_workspace(workspace)
    actions = sorted(set(entries.values_list("action", flat=True).distinct()))
    actors = sorted(set(entries.values_list("actor_label", flat=True).distinct()))
    form = AuditFilterForm(request.GET, actions=actions, actors=actors)
    chosen = form.cleaned_data if form.is_valid() else {}
    if chosen.get("action"):
        entries = entries.filter(action=chosen["action"])
    if chosen.get("actor"):
        entries = entries.filter(actor_label=chosen["actor"])
    page = Paginator(entries.order_by("-at", "-id"), AUDIT_PAGE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    # A target that is a contact still here links to its privacy page (one query a page).
    targets = {t for t in (_uuid(e.target) for e in rows) if t is not None}
    alive = set(
        Contact.objects.for_workspace(workspace).filter(id__in=targets).values_list("id", flat=True)
    )
    for entry in rows:
        entry.contact_id = _uuid(entry.target) if _uuid(entry.target) in alive else None  # type: ignore[attr-defined]
    query = request.GET.copy()
    query.pop("page", None)
    template = "compliance/_audit.html" if request.htmx else "compliance/audit.html"  # type: ignore[attr-defined]
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "query": query.urlencode(),
        "section": "audit",
    }
    return render(request, template, context)


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None
