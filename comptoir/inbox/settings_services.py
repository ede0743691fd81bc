"""What the inbox's settings pages change: the settings row, saved replies, teams.

Each service validates everything before it writes, and names the field at fault, so a
page (or the admin, or a later API) can show the error next to the input and nothing
stored is touched. Auto-answer rules have their own module (comptoir.inbox.autoanswers);
their order and on/off switch are kept here with the other page actions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from comptoir.compliance.audit import AuditAction, audit_record
from comptoir.compliance.keywords import normalize
from comptoir.contacts.models import Contact
from comptoir.contacts.phones import parse_phone
from comptoir.contacts.services import contacts_for_phones
from comptoir.core.errors import ValidationError
from comptoir.inbox.calls import TEXTBACK_VARIABLES
from comptoir.inbox.hours import hours_validate
from comptoir.inbox.models import AutoAnswer, InboxSettings, SavedReply, Team, TeamMember
from comptoir.inbox.services import inbox_settings, workspace_staff
from comptoir.messaging.templating import template_check
from comptoir.workspaces.memo import memo_forget, workspace_memo_set
from comptoir.workspaces.models import Workspace

# What a saved reply may say about the customer it is sent to.
SAVED_REPLY_VARIABLES = frozenset({"first_name", "last_name", "shop"})
TEXTBACK_PERIOD = (1, 168)  # hours: at least one text an hour, at most one a week
# Settings an audit entry lists as changed without copying their text.
LONG_TEXTS = frozenset({"textback_open", "textback_closed"})
URGENT_WORD_LENGTH = 64  # Conversation.urgent_word
_TEXT_LIMITS = {"vip_tag": 64, "shop_address": 300, "shop_phone": 40, "website": 200}
_BOOLEANS = ("textback_enabled", "auto_answers_enabled")


def _model_fields() -> frozenset[str]:
    return frozenset(f.name for f in InboxSettings._meta.concrete_fields) - {"workspace"}


def _check_text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError(_("This must be text."), field=name)
    limit = _TEXT_LIMITS.get(name)
    if limit is not None and len(value.strip()) > limit:
        raise ValidationError(
            _("At most %(n)d characters (this is %(len)d).")
            % {"n": limit, "len": len(value.strip())},
            field=name,
        )
    return value.strip()


def _check_period(value: Any) -> int:
    low, high = TEXTBACK_PERIOD
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(
            _("The period is a whole number of hours from %(low)d to %(high)d (a week).")
            % {"low": low, "high": high},
            field="textback_period_hours",
        )
    return value


def hours_check(hours: Any) -> dict[str, list[list[str]]]:
    """hours_validate, plus: two ranges of one day may not overlap. Returns a clean copy."""
    hours_validate(hours)
    clean: dict[str, list[list[str]]] = {}
    for day, ranges in hours.items():
        pairs = [(dt.time.fromisoformat(str(a)), dt.time.fromisoformat(str(b))) for a, b in ranges]
        ordered = sorted(range(len(pairs)), key=lambda i: pairs[i])
        for before, after in pairwise(ordered):
            if pairs[after][0] < pairs[before][1]:
                raise ValidationError(
                    _("This range overlaps %(start)s-%(end)s on the same day.")
                    % {"start": _hhmm(pairs[before][0]), "end": _hhmm(pairs[before][1])},
                    field=f"opening_hours.{day}.{after}",
                )
        if pairs:
            clean[day] = [[_hhmm(a), _hhmm(b)] for a, b in sorted(pairs)]
    return clean


def _hhmm(moment: dt.time) -> str:
    return moment.isoformat(timespec="minutes" if not moment.second else "seconds")


def urgent_words_check(words: Any) -> dict[str, list[str]]:
    """{language: [word, ...]}: each word has a letter or digit and fits a conversation."""
    if not isinstance(words, Mapping):
        raise ValidationError(_("Urgent words are listed per language."), field="urgent_words")
    clean: dict[str, list[str]] = {}
    for language, listed in words.items():
        where = f"urgent_words.{language}"
        if not isinstance(listed, list | tuple) or not all(isinstance(w, str) for w in listed):
            raise ValidationError(_("A language's urgent words are a list of words."), field=where)
        kept: list[str] = []
        for word in (w.strip() for w in listed):
            if not word:
                continue
            if not normalize(word):
                raise ValidationError(
                    _("%(word)r has no letter or digit to match.") % {"word": word}, field=where
                )
            if len(normalize(word)) > URGENT_WORD_LENGTH:
                raise ValidationError(
                    _("%(word)r is longer than %(n)d characters.")
                    % {"word": word[:20] + "…", "n": URGENT_WORD_LENGTH},
                    field=where,
                )
            if word not in kept:
                kept.append(word)
        if kept:
            clean[str(language)] = kept
    return clean


def inbox_settings_validate(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values cleaned, or ValidationError naming the first field at fault."""
    known = _model_fields()
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if name not in known:
            raise ValidationError(_("Unknown setting %(name)r.") % {"name": name}, field=name)
        if name in _BOOLEANS:
            if not isinstance(value, bool):
                raise ValidationError(_("This must be on or off."), field=name)
            clean[name] = value
        elif name in LONG_TEXTS:
            clean[name] = _check_text(name, value)
            template_check(clean[name], TEXTBACK_VARIABLES, field=name)
        elif name == "textback_period_hours":
            clean[name] = _check_period(value)
        elif name == "opening_hours":
            clean[name] = hours_check(value)
        elif name == "urgent_words":
            clean[name] = urgent_words_check(value)
        else:
            clean[name] = _check_text(name, value)
    return clean


def inbox_settings_update(
    *, workspace: Workspace, values: Mapping[str, Any], actor: Any = None
) -> list[str]:
    """Change some settings and write who changed what in the audit log.

    Returns the names of the fields that really changed (none: nothing written). The
    audit entry keeps old and new values, except for the text-back texts, which are only
    named: they are long and may quote a customer's name.
    """
    clean = inbox_settings_validate(values)
    with transaction.atomic():
        inbox_settings(workspace)  # the row exists (created with defaults on first use)
        row = InboxSettings.objects.select_for_update().get(workspace=workspace)
        changed = sorted(name for name, value in clean.items() if getattr(row, name) != value)
        if not changed:
            return []
        old = {n: getattr(row, n) for n in changed if n not in LONG_TEXTS}
        for name in changed:
            setattr(row, name, clean[name])
        row.save(update_fields=changed)
        audit_record(
            workspace=workspace,
            action=AuditAction.SETTINGS_CHANGED,
            actor=actor,
            target="inbox settings",
            details={
                "changed": changed,
                "old": old,
                "new": {n: clean[n] for n in changed if n not in LONG_TEXTS},
            },
        )
    workspace_memo_set(workspace, "inbox_settings", row)
    return changed


def saved_reply_save(
    *, workspace: Workspace, title: str, body: str, reply: SavedReply | None = None
) -> SavedReply:
    """Create a saved reply, or change `reply`; the body may only use the reply's variables."""
    title, body = (title or "").strip(), (body or "").strip()
    if not title:
        raise ValidationError(_("Give the reply a title."), field="title")
    if len(title) > 100:
        raise ValidationError(_("At most 100 characters."), field="title")
    if not body:
        raise ValidationError(_("The reply is empty."), field="body")
    template_check(body, SAVED_REPLY_VARIABLES, field="body")
    if reply is None:
        return SavedReply.objects.create(workspace=workspace, title=title, body=body)
    if reply.workspace_id != workspace.id:
        raise ValidationError(_("This reply belongs to another workspace."), field="reply")
    reply.title, reply.body = title, body
    reply.save(update_fields=["title", "body", "updated_at"])
    return reply


def auto_answer_enable(*, rule: AutoAnswer, enabled: bool) -> AutoAnswer:
    """Switch one rule on or off without touching its text."""
    if rule.enabled != enabled:
        rule.enabled = enabled
        rule.save(update_fields=["enabled", "updated_at"])
    return rule


def auto_answer_move(*, rule: AutoAnswer, offset: int) -> list[AutoAnswer]:
    """Move a rule up (-1) or down (+1); the first matching rule answers, so order matters.

    Positions are renumbered 0, 1, 2… under a lock, so two owners reordering at once
    cannot leave two rules on the same position.
    """
    if offset not in (-1, 1):
        raise ValidationError(_("A rule moves one place up or down."), field="offset")
    with transaction.atomic():
        rules = list(
            AutoAnswer.objects.for_workspace(rule.workspace_id)
            .select_for_update()
            .order_by("position", "name", "id")
        )
        index = next(i for i, r in enumerate(rules) if r.id == rule.id)
        target = index + offset
        if 0 <= target < len(rules):
            rules[index], rules[target] = rules[target], rules[index]
        for position, each in enumerate(rules):
            each.position = position
        AutoAnswer.objects.bulk_update(rules, ["position"])
        memo_forget()  # no signal for a bulk update
    return rules


def team_create(*, workspace: Workspace, name: str) -> Team:
    """A new staff team; names are unique in a workspace."""
    name = (name or "").strip()
    if not name:
        raise ValidationError(_("Give the team a name."), field="name")
    if len(name) > 100:
        raise ValidationError(_("At most 100 characters."), field="name")
    if Team.objects.for_workspace(workspace).filter(name__iexact=name).exists():
        raise ValidationError(
            _("There is already a team called %(name)s.") % {"name": name}, field="name"
        )
    try:
        with transaction.atomic():
            return Team.objects.create(workspace=workspace, name=name)
    except IntegrityError:  # created meanwhile by another owner
        raise ValidationError(
            _("There is already a team called %(name)s.") % {"name": name}, field="name"
        ) from None


def _staff_user(workspace: Workspace, user_id: Any) -> Any:
    if user_id in (None, ""):
        return None
    try:
        user = workspace_staff(workspace).filter(id=int(user_id)).first()
    except (TypeError, ValueError):
        user = None
    if user is None:
        raise ValidationError(
            _("No staff member %(id)s in this workspace.") % {"id": user_id}, field="user"
        )
    return user


def _name_employee(contact: Contact, first_name: str, last_name: str) -> None:
    """An employee is no prospect; a typed name fills a contact that had none."""
    fields = []
    if (first_name or last_name) and not (contact.first_name or contact.last_name):
        contact.first_name, contact.last_name = first_name, last_name
        fields += ["first_name", "last_name"]
    if contact.is_prospect:
        contact.is_prospect = False
        fields.append("is_prospect")
    if fields:
        contact.save(update_fields=[*fields, "updated_at"])


def team_member_add(
    *,
    team: Team,
    phone: str,
    first_name: str = "",
    last_name: str = "",
    user_id: Any = None,
) -> TeamMember:
    """Add an employee by phone number (read in the workspace's region) to a team.

    The number becomes (or is) a contact of the workspace, so the employee's replies are
    recognised and filed in the team's conversation. A number that cannot receive texts
    is refused: a broadcast could never reach it.
    """
    workspace = team.workspace
    first_name, last_name = (first_name or "").strip(), (last_name or "").strip()
    for field, value in (("first_name", first_name), ("last_name", last_name)):
        if len(value) > 100:
            raise ValidationError(_("At most 100 characters."), field=field)
    parsed = parse_phone(phone, region=workspace.region, field="phone")
    if not parsed.textable:
        raise ValidationError(
            _("%(phone)s is a %(kind)s number: it cannot receive texts.")
            % {"phone": parsed.e164, "kind": parsed.number_type.replace("_", " ")},
            field="phone",
        )
    user = _staff_user(workspace, user_id)
    with transaction.atomic():
        contact = contacts_for_phones(workspace=workspace, phones=[parsed])[parsed.e164]
        if TeamMember.objects.filter(team=team, contact=contact).exists():
            raise ValidationError(
                _("%(phone)s is already in this team.") % {"phone": parsed.e164}, field="phone"
            )
        contact = Contact.objects.get(id=contact.id)  # every field, to name it below
        _name_employee(contact, first_name, last_name)
        try:
            with transaction.atomic():
                return TeamMember.objects.create(team=team, contact=contact, user=user)
        except IntegrityError:  # added meanwhile by another owner
            raise ValidationError(
                _("%(phone)s is already in this team.") % {"phone": parsed.e164}, field="phone"
            ) from None


def team_member_remove(*, member: TeamMember) -> None:
    """Take an employee out of a team; their contact and past messages stay."""
    member.delete()


def team_delete(*, team: Team) -> None:
    """Delete a team with its conversation's notes; the texts stay with each contact."""
    team.delete()
