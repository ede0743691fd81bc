"""Campaigns: composer checks, the counter, short links, test sends, launch, control, results."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
import time_machine
from django.test import Client

from comptoir.campaigns.audience import audience_queryset
from comptoir.campaigns.composer import composer_measure
from comptoir.campaigns.fanout import campaign_settle
from comptoir.campaigns.links import CODE_LENGTH, new_codes, short_base
from comptoir.campaigns.models import (
    AgentClass,
    Campaign,
    LinkClick,
    ShortLink,
)
from comptoir.campaigns.results import campaign_results
from comptoir.campaigns.services import (
    campaign_launch,
    campaign_save,
    campaign_test_send,
)
from comptoir.channels.models import Channel
from comptoir.contacts.models import Contact
from comptoir.contacts.services import contact_create
from comptoir.core.errors import ValidationError
from comptoir.messaging.models import Message, Purpose
from comptoir.workspaces.models import Workspace
from tests.conftest import grant_marketing

# Tuesday 24 November 2026, 11:00 in Paris: inside the marketing window.
OPEN = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
PHONES = ["+33612000001", "+33612000002", "+33612000003"]


@pytest.fixture(autouse=True)
def clock() -> Iterator[None]:
    with time_machine.travel(OPEN, tick=True):
        yield


def customers(workspace: Workspace, names: list[str], *, consent: bool = True) -> list[Contact]:
    contacts = [
        contact_create(workspace=workspace, phone=f"+336120000{i + 1:02d}", first_name=name)
        for i, name in enumerate(names)
    ]
    if consent:
        grant_marketing(workspace, [c.phone for c in contacts])
    return contacts


def draft(
    workspace: Workspace, body: str = "Bonjour {first_name|à vous}, -20 % ce samedi"
) -> Campaign:
    return campaign_save(workspace=workspace, name="Soldes", body=body)


def launch(campaign: Campaign, django_capture_on_commit_callbacks: object) -> Campaign:
    """Launch now and run what commits trigger: the fan-out, then the dispatcher."""
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        campaign_launch(campaign=campaign)
    campaign.refresh_from_db()
    campaign_settle(campaign)  # the minute tick's job, once the dispatcher is done
    return campaign


# -- composer ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("Bonjour {firstname}", "Unknown variable {firstname}"),
        ("Bonjour {first_name", "Unmatched '{'"),
        ("Bonjour {first name}", "is not a variable"),
        ("Voir ftp://example.com/promo", "ftp: link"),
        ("Cliquez javascript:alert(1)", "javascript: link"),
        ("Voir http://", "not a valid web address"),
        ("   ", "empty"),
    ],
)
def test_composer_refuses_bad_text_before_saving(
    workspace: Workspace, body: str, says: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        draft(workspace, body)
    assert says in caught.value.message
    assert caught.value.field == "body"
    assert not Campaign.objects.exists()


def test_attribute_variables_are_known_from_the_contacts(workspace: Workspace) -> None:
    contact_create(workspace=workspace, phone=PHONES[0], attributes={"store": "Lyon Part-Dieu"})
    campaign = draft(workspace, "Votre boutique {store|ici} vous attend")
    measure = composer_measure(
        workspace=workspace,
        body=campaign.body,
        audience=audience_queryset(workspace=workspace, kind="all"),
    )
    assert "Lyon Part-Dieu" in measure.text


def test_counter_includes_mention_sender_name_and_longest_value(workspace: Workspace) -> None:
    workspace.policy = {"sender_name": "Optique"}
    workspace.save()
    customers(workspace, ["Al", "Marie-Charlotte-Eugénie", ""])
    body = "Bonjour {first_name|à vous}, -20 % ce samedi"
    measure = composer_measure(
        workspace=workspace, body=body, audience=audience_queryset(workspace=workspace, kind="all")
    )
    expected = "Optique : Bonjour Marie-Charlotte-Eugénie, -20 % ce samedi STOP SMS : STOP"
    assert measure.text == expected
    assert measure.chars == len(expected)
    assert measure.encoding == "gsm7"  # é is in the GSM-7 alphabet
    assert measure.segments == 1
    assert measure.added_mention
    assert measure.recipients == 3
    assert measure.cost == Decimal("0.14")  # 3 recipients, 1 SMS each, 0.045 EUR
    assert sorted(p.text.split(",")[0] for p in measure.previews) == [
        "Optique : Bonjour Al",
        "Optique : Bonjour Marie-Charlotte-Eugénie",
        "Optique : Bonjour à vous",
    ]


def test_counter_takes_a_default_longer_than_every_name(workspace: Workspace) -> None:
    customers(workspace, ["Al", ""])
    body = "Bonjour {first_name|chère cliente fidèle} !"
    measure = composer_measure(
        workspace=workspace, body=body, audience=audience_queryset(workspace=workspace, kind="all")
    )
    assert measure.text == "Bonjour chère cliente fidèle ! STOP SMS : STOP"


def test_counter_tips_into_a_second_segment_on_the_longest_name(workspace: Workspace) -> None:
    # 160 characters with a short name: the longest name must make it two segments.
    customers(workspace, ["Léa", "Bartholomew-Alexandre"])
    mention = " STOP SMS : STOP"
    body = "Bonjour {first_name}, " + "x" * (160 - len("Bonjour Léa, ") - len(mention))
    measure = composer_measure(
        workspace=workspace, body=body, audience=audience_queryset(workspace=workspace, kind="all")
    )
    assert measure.segments == 2
    assert "Bartholomew-Alexandre" in measure.text


def test_counter_counts_links_at_their_final_size(workspace: Workspace) -> None:
    customers(workspace, ["Léa"])
    body = "Nouvelle collection : https://optique.example/collection?utm=sms ."
    measure = composer_measure(
        workspace=workspace, body=body, audience=audience_queryset(workspace=workspace, kind="all")
    )
    link = short_base() + "x" * CODE_LENGTH
    assert measure.text == f"Nouvelle collection : {link} . STOP SMS : STOP"
    assert measure.link_length == len(link)
    assert measure.chars == len(measure.text)


def test_counter_suggests_gsm7_replacements(workspace: Workspace) -> None:
    customers(workspace, ["Léa"])
    audience = audience_queryset(workspace=workspace, kind="all")
    forced = composer_measure(
        workspace=workspace, body="Fête des mères ✨ ce week-end", audience=audience
    )
    assert forced.encoding == "ucs2"
    suggested = {s.char: s.replacement for s in forced.suggestions}
    assert suggested == {"ê": "e", "✨": None}
    automatic = composer_measure(
        workspace=workspace, body="L\u2019offre « spéciale »", audience=audience
    )
    assert automatic.encoding == "gsm7"
    assert {s.char for s in automatic.suggestions} == {"\u2019", "«", "»"}
    assert all(s.automatic for s in automatic.suggestions)


def test_new_codes_are_unguessable_base62() -> None:
    codes = new_codes(2000)
    assert len(set(codes)) == 2000
    assert all(len(c) == CODE_LENGTH and c.isalnum() and c.isascii() for c in codes)
    assert len({ch for c in codes for ch in c}) == 62


# -- short links and test sends -----------------------------------------------------------


def test_short_link_redirects_records_click_and_unknown_is_404(
    workspace: Workspace, channel: Channel, django_capture_on_commit_callbacks: object
) -> None:
    lea, bob = customers(workspace, ["Léa", "Bob"])
    body = "Soldes : https://optique.example/soldes"
    campaign = launch(draft(workspace, body), django_capture_on_commit_callbacks)
    link = ShortLink.objects.get(campaign=campaign, contact=lea)
    assert Message.objects.get(contact=lea).body.startswith(f"Soldes : {short_base()}{link.code}")
    client = Client()
    iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
    for _ in range(2):
        answer = client.get(f"/l/{link.code}", HTTP_USER_AGENT=iphone)
        assert answer.status_code == 302
        assert answer["Location"] == "https://optique.example/soldes"
    client.get(f"/l/{link.code}", HTTP_USER_AGENT="WhatsApp/2.23.20 A")  # a link preview
    assert list(LinkClick.objects.values_list("agent_class", flat=True).order_by("id")) == [
        AgentClass.MOBILE,
        AgentClass.MOBILE,
        AgentClass.BOT,
    ]
    for unknown in ["A" * CODE_LENGTH, link.code[:-1], link.code + "x", "../admin"]:
        assert client.get(f"/l/{unknown}").status_code == 404
    results = campaign_results(campaign)
    assert (results.clicks, results.unique_clicks) == (2, 1)
    assert sum(row["sent"] for row in results.timeline) == 2
    assert sum(row["clicks"] for row in results.timeline) == 2  # the preview left out
    assert ShortLink.objects.filter(campaign=campaign).count() == 2
    assert bob.id in set(ShortLink.objects.values_list("contact_id", flat=True))


def test_test_send_goes_through_the_pipeline_and_is_not_counted(
    workspace: Workspace, channel: Channel, django_capture_on_commit_callbacks: object
) -> None:
    customers(workspace, ["Léa"])
    campaign = draft(workspace, "Bonjour {first_name|à vous} https://optique.example/soldes")
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        [message] = campaign_test_send(campaign=campaign, phones=["06 99 00 00 01"])
    message.refresh_from_db()
    assert (message.kind, message.purpose, message.status) == (
        "campaign_test",
        Purpose.CONVERSATIONAL,
        "sent",
    )
    assert message.body.startswith(f"Bonjour à vous {short_base()}")
    assert message.body.endswith("STOP SMS : STOP")
    assert ShortLink.objects.get(campaign=campaign).is_test
    # A test is not capped, and never counts: the campaign still reaches Léa afterwards.
    launched = launch(Campaign.objects.get(id=campaign.id), django_capture_on_commit_callbacks)
    results = campaign_results(launched)
    assert (results.recipients, results.sent) == (1, 1)
    with pytest.raises(ValidationError):
        campaign_test_send(campaign=campaign, phones=["not a number"])
