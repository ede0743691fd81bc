"""The inbox's settings pages: settings, saved replies, auto-answer rules, staff teams."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django import forms
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from comptoir.compliance.audit import AuditAction
from comptoir.compliance.models import AuditEntry
from comptoir.contacts.models import Contact
from comptoir.contacts.services import contact_create
from comptoir.inbox.calls import TEXTBACK
from comptoir.inbox.forms import InboxSettingsForm
from comptoir.inbox.models import (
    AutoAnswer,
    Conversation,
    InboxSettings,
    SavedReply,
    Team,
    TeamMember,
)
from comptoir.inbox.services import conversation_for, inbox_settings
from comptoir.messaging.models import Message
from comptoir.sandbox.carrier import customer_calls, customer_texts
from comptoir.workspaces.models import Role
from comptoir.workspaces.services import staff_add

PARIS_OPEN = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)  # Monday 11:00 in Paris
OWNER_PAGES = ["inbox:settings", "inbox:auto_answers", "inbox:teams"]


@pytest.fixture
def agent_client(workspace: Any) -> Client:
    staff_add(workspace=workspace, username="bob", password="correct horse", role=Role.AGENT)
    client = Client()
    assert client.login(username="bob", password="correct horse")
    return client


def settings_data(workspace: Any, **changes: Any) -> dict[str, Any]:
    """The settings form as the page shows it, with `changes` typed in (False unticks)."""
    form = InboxSettingsForm(workspace=workspace, current=inbox_settings(workspace))
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return data


def errors_of(response: Any) -> dict[str, list[str]]:
    """The errors of every form on the page, by field name."""
    found: dict[str, list[str]] = {}
    for key in ("form", "member_form", "broadcast_form"):
        form = response.context.get(key) if response.context else None
        if form is not None and form.is_bound:
            for name, errors in form.errors.items():
                found.setdefault(name, []).extend(errors)
    return found


# -- who sees what ------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*OWNER_PAGES, "inbox:saved_replies"])
def test_an_owner_opens_every_settings_page(staff_client, name):
    response = staff_client.get(reverse(name))
    assert response.status_code == 200
    assert b"<form" in response.content


@pytest.mark.parametrize("name", OWNER_PAGES)
def test_an_agent_gets_403_on_owner_pages_and_changes_nothing(agent_client, workspace, name):
    before = settings_data(workspace)
    assert agent_client.get(reverse(name)).status_code == 403
    post = {**before, "vip_tag": "gold", "name": "Boutique"}
    assert agent_client.post(reverse(name), post).status_code == 403
    assert inbox_settings(workspace).vip_tag == "vip"
    assert not Team.objects.exists()


def test_an_agent_cannot_touch_a_team_or_a_rule(agent_client, workspace):
    team = Team.objects.create(workspace=workspace, name="Boutique")
    inbox_settings(workspace)  # the default rules come with the settings
    rule = AutoAnswer.objects.for_workspace(workspace).first()
    assert rule is not None
    assert agent_client.get(reverse("inbox:team", args=[team.id])).status_code == 403
    add = reverse("inbox:team_member_add", args=[team.id])
    assert agent_client.post(add, {"phone": "0611110001"}).status_code == 403
    toggle = reverse("inbox:auto_answer_toggle", args=[rule.id])
    assert agent_client.post(toggle, {"enabled": "0"}).status_code == 403
    rule.refresh_from_db()
    assert rule.enabled and not TeamMember.objects.exists()


def test_an_agent_edits_saved_replies(agent_client, workspace):
    response = agent_client.post(
        reverse("inbox:saved_replies"),
        {"title": "Lunettes prêtes", "body": "Bonjour {first_name|}, vos lunettes sont prêtes."},
    )
    assert response.status_code == 302
    reply = SavedReply.objects.get(workspace=workspace)
    assert reply.body.startswith("Bonjour {first_name|}")
    page = agent_client.get(reverse("inbox:saved_replies"))
    assert b"Lunettes pr\xc3\xaates" in page.content
    assert b"inbox/settings/teams" not in page.content  # no link to owner pages


def test_signed_out_visitors_are_sent_to_the_login_page(client):
    response = client.get(reverse("inbox:saved_replies"))
    assert response.status_code == 302 and "/login/" in response["Location"]


# -- inbox settings -------------------------------------------------------------------------


def test_the_page_shows_the_default_texts_and_the_stored_hours(staff_client, workspace):
    response = staff_client.get(reverse("inbox:settings"))
    html = response.content.decode()
    assert "rappelons très vite" in html  # the French default, as a placeholder
    assert 'name="hours_mon_0_open"' in html and 'value="09:00"' in html
    assert 'name="urgent_words_fr"' in html and 'name="urgent_words_en"' in html


def test_saving_settings_stores_them_and_audits_what_changed(staff_client, workspace):
    data = settings_data(
        workspace,
        textback_open="Ici {shop} : on vous rappelle, {first_name|}.",
        textback_period_hours=48,
        hours_sat_0_open="",
        hours_sat_0_close="",
        hours_mon_0_close="12:30",
        hours_mon_1_open="14:00",
        hours_mon_1_close="19:00",
        urgent_words_fr="monture cassée, au secours",
        vip_tag="fidèle",
        auto_answers_enabled=False,
    )
    response = staff_client.post(reverse("inbox:settings"), data)
    assert response.status_code == 302, errors_of(response)
    saved = InboxSettings.objects.get(workspace=workspace)
    assert saved.textback_open == "Ici {shop} : on vous rappelle, {first_name|}."
    assert saved.textback_period_hours == 48
    assert saved.opening_hours["mon"] == [["09:00", "12:30"], ["14:00", "19:00"]]
    assert "sat" not in saved.opening_hours
    assert saved.urgent_words == {"fr": ["monture cassée", "au secours"]}
    assert (saved.vip_tag, saved.auto_answers_enabled) == ("fidèle", False)
    entry = AuditEntry.objects.get(workspace=workspace, action=AuditAction.SETTINGS_CHANGED)
    assert entry.actor_label == "staff anne"
    assert entry.details["changed"] == [
        "auto_answers_enabled",
        "opening_hours",
        "textback_open",
        "textback_period_hours",
        "urgent_words",
        "vip_tag",
    ]
    assert entry.details["old"]["textback_period_hours"] == 24
    assert entry.details["new"]["vip_tag"] == "fidèle"
    # Long texts are named, never copied into the log.
    assert "textback_open" not in entry.details["old"]
    assert "textback_open" not in entry.details["new"]


def test_saving_without_a_change_writes_no_audit_entry(staff_client, workspace):
    response = staff_client.post(reverse("inbox:settings"), settings_data(workspace))
    assert response.status_code == 302
    assert not AuditEntry.objects.filter(action=AuditAction.SETTINGS_CHANGED).exists()


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"textback_open": "Bonjour {prenom}"}, "textback_open", "Unknown variable {prenom}"),
        ({"textback_closed": "Ouvert {next_opening"}, "textback_closed", "Unmatched"),
        ({"textback_closed": "Bonjour {order_status}"}, "textback_closed", "Unknown variable"),
        ({"textback_period_hours": "0"}, "textback_period_hours", "greater than or equal to 1"),
        ({"textback_period_hours": "169"}, "textback_period_hours", "less than or equal to 168"),
        ({"textback_period_hours": "un jour"}, "textback_period_hours", "whole number"),
        ({"hours_tue_0_close": ""}, "hours_tue_0_close", "both the opening and the closing"),
        ({"hours_wed_0_open": "25:00"}, "hours_wed_0_open", "valid time"),
        ({"hours_thu_0_close": "08:00"}, "hours_thu_0_open", "close after it opens"),
        (
            {"hours_fri_1_open": "18:00", "hours_fri_1_close": "20:00"},
            "hours_fri_1_open",
            "overlaps 09:00-19:00",
        ),
        ({"urgent_words_en": "help, !!!"}, "urgent_words_en", "no letter or digit"),
        ({"urgent_words_fr": "x" * 70}, "urgent_words_fr", "longer than 64"),
        ({"vip_tag": "v" * 65}, "vip_tag", "at most 64"),
    ],
)
def test_a_bad_setting_is_refused_on_its_field_and_nothing_is_saved(
    staff_client, workspace, changes, field, says
):
    before = {
        f.name: getattr(inbox_settings(workspace), f.name)
        for f in InboxSettings._meta.concrete_fields
    }
    data = settings_data(workspace, **{"vip_tag": "or", **changes})
    response = staff_client.post(reverse("inbox:settings"), data)
    assert response.status_code == 200
    errors = errors_of(response)
    assert list(errors) == [field], errors
    assert says.lower() in " ".join(errors[field]).lower()
    assert f'id="error-{field}"' in response.content.decode()
    saved = InboxSettings.objects.get(workspace=workspace)
    assert {n: getattr(saved, n) for n in before} == before
    assert not AuditEntry.objects.filter(action=AuditAction.SETTINGS_CHANGED).exists()


def test_a_day_with_three_ranges_keeps_all_three(staff_client, workspace):
    settings = inbox_settings(workspace)
    three = [["08:00", "10:00"], ["11:00", "13:00"], ["15:00", "18:00"]]
    settings.opening_hours = {"mon": three}
    settings.save()
    response = staff_client.post(reverse("inbox:settings"), settings_data(workspace, vip_tag="or"))
    assert response.status_code == 302
    assert InboxSettings.objects.get(workspace=workspace).opening_hours == {"mon": three}


def test_urgent_words_of_other_languages_are_kept(staff_client, workspace):
    settings = inbox_settings(workspace)
    settings.urgent_words = {"vi": ["gấp lắm"], "fr": ["vite"]}
    settings.save()
    data = settings_data(workspace, urgent_words_fr="brisée", urgent_words_en="smashed")
    assert staff_client.post(reverse("inbox:settings"), data).status_code == 302
    saved = InboxSettings.objects.get(workspace=workspace).urgent_words
    assert saved == {"vi": ["gấp lắm"], "fr": ["brisée"], "en": ["smashed"]}


def test_saved_settings_drive_the_text_back_and_the_priority(staff_client, workspace, channel):
    data = settings_data(
        workspace, textback_open="{shop} vous rappelle vite !", urgent_words_fr="rayure"
    )
    assert staff_client.post(reverse("inbox:settings"), data).status_code == 302
    workspace.refresh_from_db()  # drop the cached settings, as a new request would
    with time_machine.travel(PARIS_OPEN, tick=False):
        customer_calls(channel=channel, caller="+33611111111", outcome="no-answer")
        customer_texts(channel=channel, sender="+33622222222", text="Une RAYURE sur le verre")
    assert Message.objects.get(kind=TEXTBACK).body == "Optique Test vous rappelle vite !"
    urgent = Conversation.objects.get(contact__phone="+33622222222")
    assert urgent.urgent_word == "rayure"


# -- saved replies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        ({"title": "", "body": "Bonjour"}, "title", "required"),
        ({"title": "Prêtes", "body": ""}, "body", "required"),
        ({"title": "Prêtes", "body": "Bonjour {prenom}"}, "body", "Unknown variable {prenom}"),
        ({"title": "Prêtes", "body": "Total {order_status}"}, "body", "Unknown variable"),
        ({"title": "Prêtes", "body": "Bonjour {first_name"}, "body", "Unmatched"),
        ({"title": "t" * 101, "body": "Bonjour"}, "title", "at most 100"),
    ],
)
def test_a_bad_saved_reply_is_refused_on_its_field(staff_client, workspace, data, field, says):
    response = staff_client.post(reverse("inbox:saved_replies"), data)
    assert response.status_code == 200
    errors = errors_of(response)
    assert list(errors) == [field] and says.lower() in errors[field][0].lower()
    assert not SavedReply.objects.exists()


def test_a_saved_reply_is_edited_and_deleted(staff_client, workspace):
    reply = SavedReply.objects.create(workspace=workspace, title="Prêtes", body="Bonjour")
    edit = reverse("inbox:saved_reply_edit", args=[reply.id])
    assert b"Bonjour" in staff_client.get(edit).content
    bad = staff_client.post(edit, {"title": "Prêtes", "body": "Bonjour {nom}"})
    assert list(errors_of(bad)) == ["body"]
    reply.refresh_from_db()
    assert reply.body == "Bonjour"  # the refused edit changed nothing
    good = staff_client.post(edit, {"title": "Prêtes !", "body": "Bonjour {last_name|}"})
    assert good.status_code == 302
    reply.refresh_from_db()
    assert (reply.title, reply.body) == ("Prêtes !", "Bonjour {last_name|}")
    staff_client.post(reverse("inbox:saved_reply_delete", args=[reply.id]))
    assert not SavedReply.objects.exists()


def test_another_workspaces_saved_reply_is_404(staff_client, other_workspace):
    theirs = SavedReply.objects.create(workspace=other_workspace, title="X", body="Y")
    edit = reverse("inbox:saved_reply_edit", args=[theirs.id])
    assert staff_client.get(edit).status_code == 404
    assert staff_client.post(edit, {"title": "Mine", "body": "Z"}).status_code == 404
    delete = reverse("inbox:saved_reply_delete", args=[theirs.id])
    assert staff_client.post(delete).status_code == 404
    theirs.refresh_from_db()
    assert (theirs.title, theirs.body) == ("X", "Y")


# -- auto-answer rules -----------------------------------------------------------------------


def rules(workspace: Any) -> list[str]:
    return list(
        AutoAnswer.objects.for_workspace(workspace)
        .order_by("position", "name")
        .values_list("name", flat=True)
    )


def test_a_new_rule_is_added_last_with_normalised_keywords(staff_client, workspace, channel):
    staff_client.get(reverse("inbox:auto_answers"))  # the default rules are seeded
    defaults = rules(workspace)
    response = staff_client.post(
        reverse("inbox:auto_answers"),
        {
            "name": "Parking",
            "keywords": "Parking, Où se garer",
            "answer": "{shop} : parking gratuit derrière la boutique.",
            "topic": "",
            "enabled": "on",
        },
    )
    assert response.status_code == 302, errors_of(response)
    rule = AutoAnswer.objects.get(workspace=workspace, name="Parking")
    assert rule.keywords == ["parking", "ou se garer"]
    assert rules(workspace) == [*defaults, "Parking"]
    customer_texts(channel=channel, sender="+33611111111", text="Où se garer svp ?")
    answer = Message.objects.get(direction="out", kind="auto_answer")
    assert answer.body == "Optique Test : parking gratuit derrière la boutique."


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"keywords": ""}, "keywords", "required"),
        ({"keywords": "  ,  "}, "keywords", "at least one keyword"),
        ({"keywords": "parking, ???"}, "keywords", "no letters or digits"),
        ({"keywords": "STOP"}, "keywords", "compliance keyword"),
        ({"answer": "Bonjour {prenom}"}, "answer", "Unknown variable {prenom}"),
        ({"answer": "Votre commande : {order_status}"}, "answer", "Unknown variable"),
        ({"topic": "order_status", "answer": "Bonjour"}, "answer", "{order_status}"),
        ({"topic": "weather"}, "topic", "valid choice"),
        ({"name": ""}, "name", "required"),
    ],
)
def test_a_bad_rule_is_refused_on_its_field(staff_client, workspace, changes, field, says):
    staff_client.get(reverse("inbox:auto_answers"))
    before = rules(workspace)
    data = {"name": "Parking", "keywords": "parking", "answer": "Derrière", "enabled": "on"}
    response = staff_client.post(reverse("inbox:auto_answers"), {**data, **changes})
    assert response.status_code == 200
    errors = errors_of(response)
    assert list(errors) == [field] and says.lower() in " ".join(errors[field]).lower(), errors
    assert rules(workspace) == before


def test_rules_are_edited_switched_moved_and_deleted(staff_client, workspace):
    staff_client.get(reverse("inbox:auto_answers"))
    first, second, third = rules(workspace)
    rule = AutoAnswer.objects.get(workspace=workspace, name=second)
    edit = reverse("inbox:auto_answer_edit", args=[rule.id])
    data = {"name": "Adresse", "keywords": "adresse, ou etes vous", "answer": "Au {address}"}
    assert staff_client.post(edit, data).status_code == 302
    rule.refresh_from_db()
    assert (rule.keywords, rule.enabled) == (["adresse", "ou etes vous"], False)
    toggle = reverse("inbox:auto_answer_toggle", args=[rule.id])
    staff_client.post(toggle, {"enabled": "1"})
    rule.refresh_from_db()
    assert rule.enabled
    move = reverse("inbox:auto_answer_move", args=[rule.id])
    staff_client.post(move, {"direction": "up"})
    assert rules(workspace) == ["Adresse", first, third]
    staff_client.post(move, {"direction": "up"})  # already first: stays
    assert rules(workspace) == ["Adresse", first, third]
    # With htmx, the answer is the refreshed list alone.
    response = staff_client.post(move, {"direction": "down"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b'<div id="rules">' in response.content
    assert b"<html" not in response.content
    assert rules(workspace) == [first, "Adresse", third]
    positions = AutoAnswer.objects.for_workspace(workspace).values_list("position", flat=True)
    assert sorted(positions) == [0, 1, 2]
    staff_client.post(reverse("inbox:auto_answer_delete", args=[rule.id]))
    assert rules(workspace) == [first, third]
    # Who changed what the shop answers automatically is in the audit log.
    entries = AuditEntry.objects.filter(
        workspace=workspace, action=AuditAction.AUTO_ANSWER_CHANGED, target=str(rule.id)
    ).order_by("at", "id")
    assert [(e.details["change"], e.actor_label) for e in entries] == [
        ("edited", "staff anne"),
        ("enabled", "staff anne"),
        ("deleted", "staff anne"),
    ]


def test_a_switched_off_rule_does_not_answer(staff_client, workspace, channel):
    staff_client.get(reverse("inbox:auto_answers"))
    for rule in AutoAnswer.objects.for_workspace(workspace):
        staff_client.post(reverse("inbox:auto_answer_toggle", args=[rule.id]), {"enabled": "0"})
    customer_texts(channel=channel, sender="+33611111111", text="Vos horaires ?")
    assert not Message.objects.filter(kind="auto_answer").exists()


def test_another_workspaces_rule_is_404(staff_client, other_workspace):
    inbox_settings(other_workspace)
    theirs = AutoAnswer.objects.for_workspace(other_workspace).first()
    for name in ("inbox:auto_answer_toggle", "inbox:auto_answer_move", "inbox:auto_answer_delete"):
        assert staff_client.post(reverse(name, args=[theirs.id])).status_code == 404
    assert staff_client.get(reverse("inbox:auto_answer_edit", args=[theirs.id])).status_code == 404
    assert AutoAnswer.objects.filter(id=theirs.id, enabled=True).exists()


# -- teams ---------------------------------------------------------------------------------


@pytest.fixture
def team(workspace: Any) -> Team:
    return Team.objects.create(workspace=workspace, name="Boutique")


def add_member(client: Client, team: Team, **data: Any) -> Any:
    return client.post(reverse("inbox:team_member_add", args=[team.id]), data)


def test_a_team_is_created_and_its_name_is_unique(staff_client, workspace):
    response = staff_client.post(reverse("inbox:teams"), {"name": "Atelier"})
    created = Team.objects.get(workspace=workspace, name="Atelier")
    assert response["Location"] == reverse("inbox:team", args=[created.id])
    again = staff_client.post(reverse("inbox:teams"), {"name": "atelier"})
    assert "already a team" in errors_of(again)["name"][0]
    empty = staff_client.post(reverse("inbox:teams"), {"name": "   "})
    assert list(errors_of(empty)) == ["name"]
    assert Team.objects.count() == 1


def test_a_member_is_added_by_a_national_number(staff_client, workspace, team):
    anne = get_user_model().objects.get(username="anne")
    response = add_member(
        staff_client, team, phone="06 11 11 00 01", first_name="Léa", user=str(anne.id)
    )
    assert response.status_code == 302, errors_of(response)
    member = TeamMember.objects.select_related("contact").get(team=team)
    assert member.contact.phone == "+33611110001"
    assert (member.contact.first_name, member.contact.is_prospect) == ("Léa", False)
    assert member.user == anne
    page = staff_client.get(reverse("inbox:team", args=[team.id]))
    assert b"+33611110001" in page.content and b"L\xc3\xa9a" in page.content


def test_an_existing_customer_keeps_their_name_when_added(staff_client, workspace, team):
    contact_create(workspace=workspace, phone="+33611110001", first_name="Marie")
    assert add_member(staff_client, team, phone="+33611110001", first_name="X").status_code == 302
    assert Contact.objects.get(phone="+33611110001").first_name == "Marie"


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        ({"phone": "06 12"}, "phone", "not a valid number"),
        ({"phone": "bonjour"}, "phone", "no digits"),
        ({"phone": ""}, "phone", "required"),
        ({"phone": "01 99 00 00 01"}, "phone", "cannot receive texts"),
        ({"phone": "0611110001", "user": "999999"}, "user", "valid choice"),
        ({"phone": "0611110001", "first_name": "L" * 101}, "first_name", "at most 100"),
    ],
)
def test_a_bad_member_is_refused_on_its_field(staff_client, workspace, team, data, field, says):
    response = add_member(staff_client, team, **data)
    assert response.status_code == 200
    errors = errors_of(response)
    assert list(errors) == [field] and says.lower() in errors[field][0].lower(), errors
    assert not TeamMember.objects.exists()
    assert not Contact.objects.exists()


def test_the_same_number_twice_in_a_team_is_refused(staff_client, team):
    add_member(staff_client, team, phone="0611110001")
    again = add_member(staff_client, team, phone="+33 6 11 11 00 01")
    assert "already in this team" in errors_of(again)["phone"][0]
    assert TeamMember.objects.count() == 1


def test_a_member_is_removed_but_stays_a_contact(staff_client, team):
    add_member(staff_client, team, phone="0611110001")
    member = TeamMember.objects.get()
    remove = reverse("inbox:team_member_remove", args=[team.id, member.id])
    assert staff_client.post(remove).status_code == 302
    assert not TeamMember.objects.exists()
    assert Contact.objects.filter(phone="+33611110001").exists()


def test_a_broadcast_texts_each_member_and_replies_land_in_the_team_thread(
    staff_client, workspace, channel, team
):
    add_member(staff_client, team, phone="0611110001", first_name="Léa")
    add_member(staff_client, team, phone="0611110002", first_name="Hugo")
    broadcast = reverse("inbox:team_broadcast", args=[team.id])
    assert staff_client.post(broadcast, {"body": "Réunion à 9h demain"}).status_code == 302
    sent = Message.objects.filter(kind="team_broadcast")
    assert sorted(sent.values_list("address", flat=True)) == ["+33611110001", "+33611110002"]
    assert {m.body for m in sent} == {"Réunion à 9h demain"}
    assert {m.author.username for m in sent} == {"anne"}
    conversation = conversation_for(workspace, team=team)
    page = staff_client.get(reverse("inbox:team", args=[team.id]))
    assert reverse("inbox:conversation", args=[conversation.id]).encode() in page.content
    customer_texts(channel=channel, sender="+33611110002", text="Je serai là")
    reply = Message.objects.get(direction="in")
    assert reply.kind == "team_reply"
    conversation.refresh_from_db()
    assert (conversation.unread, conversation.last_preview) == (1, "Je serai là")
    assert not Conversation.objects.filter(contact__phone="+33611110002").exists()


def test_a_broadcast_needs_members_and_a_text(staff_client, team):
    broadcast = reverse("inbox:team_broadcast", args=[team.id])
    nobody = staff_client.post(broadcast, {"body": "Bonjour"})
    assert "no members" in errors_of(nobody)["__all__"][0]
    add_member(staff_client, team, phone="0611110001")
    empty = staff_client.post(broadcast, {"body": "  "})
    assert list(errors_of(empty)) == ["body"]
    assert not Message.objects.exists()


def test_deleting_a_team_keeps_its_members_contacts(staff_client, team):
    add_member(staff_client, team, phone="0611110001")
    assert staff_client.post(reverse("inbox:team_delete", args=[team.id])).status_code == 302
    assert not Team.objects.exists() and Contact.objects.count() == 1


def test_another_workspaces_team_and_members_are_404(staff_client, workspace, other_workspace):
    theirs = Team.objects.create(workspace=other_workspace, name="Eux")
    member = TeamMember.objects.create(
        team=theirs, contact=contact_create(workspace=other_workspace, phone="+33611110009")
    )
    mine = Team.objects.create(workspace=workspace, name="Nous")
    assert staff_client.get(reverse("inbox:team", args=[theirs.id])).status_code == 404
    for name, args in [
        ("inbox:team_member_add", [theirs.id]),
        ("inbox:team_broadcast", [theirs.id]),
        ("inbox:team_delete", [theirs.id]),
        ("inbox:team_member_remove", [theirs.id, member.id]),
        ("inbox:team_member_remove", [mine.id, member.id]),  # not a member of my team
    ]:
        response = staff_client.post(reverse(name, args=args), {"phone": "0611110001", "body": "x"})
        assert response.status_code == 404, name
    assert TeamMember.objects.filter(id=member.id).exists()
    assert not Message.objects.exists()
    assert Team.objects.filter(id=theirs.id).exists()


# -- the admin ------------------------------------------------------------------------------


@pytest.fixture
def admin_client_of(workspace: Any) -> Client:
    get_user_model().objects.create_superuser("root", password="correct horse")
    client = Client()
    assert client.login(username="root", password="correct horse")
    return client


def test_the_admin_audits_a_settings_change_and_refuses_a_bad_template(admin_client_of, workspace):
    settings = inbox_settings(workspace)
    url = reverse("admin:inbox_inboxsettings_change", args=[settings.pk])
    page = admin_client_of.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {n: form.initial.get(n) for n in form.fields}
    data.update(
        workspace=str(workspace.pk),
        opening_hours='{"mon": [["09:00", "18:00"]]}',
        urgent_words="{}",
        textback_open="{prenom}",
        textback_period_hours="24",
    )
    data = {k: v for k, v in data.items() if v not in (None, False)}
    data["textback_enabled"] = "on"
    refused = admin_client_of.post(url, data)
    assert refused.status_code == 200
    assert "textback_open" in refused.context["adminform"].form.errors
    data["textback_open"] = "{shop} rappelle"
    assert admin_client_of.post(url, data).status_code == 302
    entry = AuditEntry.objects.get(action=AuditAction.SETTINGS_CHANGED)
    assert entry.details["changed"] == ["opening_hours", "textback_open"]
    assert entry.details["new"]["opening_hours"] == {"mon": [["09:00", "18:00"]]}
    assert entry.actor_label == "staff root"


def test_list_pages_use_the_same_queries_for_one_row_or_many(staff_client, workspace, team):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert staff_client.get(url).status_code == 200
        return len(queries)

    def grow(start: int, end: int) -> None:
        for i in range(start, end):
            Team.objects.create(workspace=workspace, name=f"Équipe {i}")
            SavedReply.objects.create(workspace=workspace, title=f"R{i}", body="Bonjour")
            add_member(staff_client, team, phone=f"+3361111{i:04d}", first_name=f"M{i}")

    pages = [
        reverse("inbox:teams"),
        reverse("inbox:team", args=[team.id]),
        reverse("inbox:saved_replies"),
        reverse("inbox:auto_answers"),
    ]
    grow(0, 1)
    inbox_settings(workspace)  # created (with its default rules) once, not per page view
    few = [count(url) for url in pages]
    grow(1, 7)
    many = [count(url) for url in pages]
    assert many == few
