"""Campaign pages and API: composer, counter partial, launch, results, CSV, segments."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import Iterator

import pytest
import time_machine
from django.test import Client

from comptoir.campaigns.models import Campaign, CampaignStatus
from comptoir.campaigns.services import campaign_save
from comptoir.channels.models import Channel
from comptoir.contacts.models import Contact
from comptoir.contacts.services import contact_create
from comptoir.segments.services import segment_create
from comptoir.workspaces.models import Workspace
from tests.conftest import ApiClient, grant_marketing

OPEN = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)  # Tuesday 11:00 in Paris


@pytest.fixture(autouse=True)
def clock() -> Iterator[None]:
    with time_machine.travel(OPEN, tick=True):
        yield


@pytest.fixture
def audience(workspace: Workspace) -> list[Contact]:
    contacts = [
        contact_create(workspace=workspace, phone=f"+3361200010{i}", first_name=name)
        for i, name in enumerate(["Léa", "Bob", "Cyd"])
    ]
    grant_marketing(workspace, [c.phone for c in contacts])
    return contacts


def form(channel: Channel, **values: str) -> dict[str, str]:
    data = {
        "name": "Soldes",
        "body": "Bonjour {first_name}, -20 % : https://optique.example/soldes",
        "audience_kind": "all",
        "channel": str(channel.id),
    }
    data.update(values)
    return data


def test_composer_saves_a_draft_and_names_an_unknown_variable(
    staff_client: Client, channel: Channel, audience: list[Contact]
) -> None:
    page = staff_client.get("/campaigns/new/")
    assert page.status_code == 200 and b'id="composer"' in page.content
    refused = staff_client.post("/campaigns/new/", form(channel, body="Bonjour {prenom}"))
    assert refused.status_code == 422
    assert "Unknown variable {prenom}" in refused.content.decode()
    assert not Campaign.objects.exists()
    saved = staff_client.post("/campaigns/new/", form(channel))
    campaign = Campaign.objects.get()
    assert saved["Location"] == f"/campaigns/{campaign.id}/"
    assert staff_client.get(saved["Location"]).status_code == 200
    tested = staff_client.post(
        f"/campaigns/{campaign.id}/test/", {"phones": "06 99 00 00 01"}, follow=True
    )
    assert 'id="tests"' in tested.content.decode() and "+33699000001" in tested.content.decode()


def test_counter_partial_shows_longest_text_segments_and_cost(
    staff_client: Client, channel: Channel, audience: list[Contact]
) -> None:
    answer = staff_client.post("/campaigns/measure/", form(channel, body="Hé {first_name} ✨"))
    html = answer.content.decode()
    assert 'data-encoding="ucs2"' in html
    assert "Hé Léa ✨ STOP SMS : STOP" in html  # Léa and Bob and Cyd: all three letters
    assert "3 recipients" in html and "0.14 EUR" in html
    assert "no GSM-7 equivalent" in html
    bad = staff_client.post("/campaigns/measure/", form(channel, body="Voir ftp://x.fr"))
    assert 'id="composer-error"' in bad.content.decode()


def test_launch_from_the_page_then_results_and_csv(
    staff_client: Client,
    channel: Channel,
    audience: list[Contact],
    django_capture_on_commit_callbacks: object,
) -> None:
    Contact.objects.filter(first_name="Léa").update(first_name="=HYPERLINK(1)")
    staff_client.post("/campaigns/new/", form(channel))
    campaign = Campaign.objects.get()
    past = staff_client.post(
        f"/campaigns/{campaign.id}/launch/",
        {"when": "later", "at": "2026-11-01T10:00"},
        follow=True,
    )
    assert "in the past" in past.content.decode()
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        launched = staff_client.post(f"/campaigns/{campaign.id}/launch/", {"when": "now"})
    assert launched["Location"] == f"/campaigns/{campaign.id}/results/"
    page = staff_client.get(launched["Location"]).content.decode()
    assert 'id="kpi-sent">3<' in page and "<svg" in page and "Funnel" in page
    exported = b"".join(staff_client.get(f"/campaigns/{campaign.id}/export.csv").streaming_content)
    rows = list(csv.DictReader(io.StringIO(exported.decode())))
    assert sorted(r["first_name"] for r in rows) == ["'=HYPERLINK(1)", "Bob", "Cyd"]
    assert {r["phone"][:4] for r in rows} == {"+336"}  # numbers are left as they are
    assert {r["message_status"] for r in rows} == {"sent"}


def test_schedule_from_the_page_in_the_shops_time_zone(
    staff_client: Client, channel: Channel, audience: list[Contact]
) -> None:
    staff_client.post("/campaigns/new/", form(channel))
    campaign = Campaign.objects.get()
    staff_client.post(
        f"/campaigns/{campaign.id}/launch/", {"when": "later", "at": "2026-11-25T09:30"}
    )
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED
    assert campaign.scheduled_at == dt.datetime(2026, 11, 25, 8, 30, tzinfo=dt.UTC)  # Paris is +1


def test_other_workspace_campaign_is_404(staff_client: Client, other_workspace: Workspace) -> None:
    contact_create(workspace=other_workspace, phone="+33612000200")
    theirs = campaign_save(workspace=other_workspace, name="Theirs", body="Hello")
    for path in ["", "results/", "export.csv"]:
        assert staff_client.get(f"/campaigns/{theirs.id}/{path}").status_code == 404
    assert staff_client.post(f"/campaigns/{theirs.id}/pause/").status_code == 404


def test_segment_audience(
    workspace: Workspace,
    channel: Channel,
    audience: list[Contact],
    django_capture_on_commit_callbacks: object,
) -> None:
    from comptoir.campaigns.services import campaign_launch

    lea = audience[0]
    lea.attributes = {"city": "Lyon"}
    lea.save()
    segment = segment_create(
        workspace=workspace,
        name="Lyon",
        definition=[{"kind": "attribute", "key": "city", "value": "Lyon"}],
    )
    campaign = campaign_save(
        workspace=workspace,
        name="Lyon",
        body="{city|} {first_name}",
        audience_kind="segment",
        segment=segment,
    )
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        campaign_launch(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.recipients_count == 1
    assert lea.messages.get().body == "Lyon Léa STOP SMS : STOP"


def test_api_lists_campaigns_and_gives_results(
    api: ApiClient,
    workspace: Workspace,
    channel: Channel,
    audience: list[Contact],
    django_capture_on_commit_callbacks: object,
    django_assert_max_num_queries: object,
) -> None:
    from comptoir.campaigns.services import campaign_launch

    campaign = campaign_save(workspace=workspace, name="Soldes", body="Bonjour {first_name}")
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        campaign_launch(campaign=campaign)
    listed = api.get("/api/v1/campaigns").json()
    assert [c["id"] for c in listed] == [str(campaign.id)]
    with django_assert_max_num_queries(25):  # type: ignore[operator]
        detail = api.get(f"/api/v1/campaigns/{campaign.id}").json()
    assert detail["status"] == "sent"
    assert detail["results"]["sent"] == 3
    assert detail["results"]["recipients"] == 3
    assert api.get(f"/api/v1/campaigns/{uuid.uuid4()}").status_code == 404


def test_agents_cannot_reach_campaigns(workspace: Workspace) -> None:
    from comptoir.workspaces.models import Role
    from comptoir.workspaces.services import staff_add

    staff_add(workspace=workspace, username="agent", password="correct horse", role=Role.AGENT)
    client = Client()
    assert client.login(username="agent", password="correct horse")
    assert client.get("/campaigns/").status_code == 403
    assert client.post("/campaigns/measure/", {"body": "Hello"}).status_code == 403
