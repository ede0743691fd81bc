"""The fan-out's batch made ahead (PostgreSQL, outside a transaction) and core.bulk's COPY.

The campaign tests run inside a test transaction, where the fan-out makes its batches
one after the other; these run committed (`transaction=True`) so that, on PostgreSQL,
the next batch is made in a thread while the current one commits, and check it gives
the same result: every recipient decided once, in order, and a crash mid-way resumed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from comptoir.campaigns import fanout
from comptoir.campaigns.fanout import campaign_fanout, campaign_messages
from comptoir.campaigns.models import Campaign, CampaignRecipient, ShortLink
from comptoir.campaigns.services import campaign_launch, campaign_start_due
from comptoir.compliance.consent import consent_record
from comptoir.contacts.models import Tag
from comptoir.core.bulk import COPY_MIN_ROWS, insert_rows, update_objects
from comptoir.core.ids import uuid7
from comptoir.workspaces.models import Workspace
from tests.test_campaigns import customers, draft

pytestmark = pytest.mark.django_db(transaction=True)

TAG_COLUMNS = ("id", "created_at", "updated_at", "workspace_id", "name")
BODY = "Bonjour {first_name|à vous} : https://optique.example/soldes"


def _launched(workspace: Workspace, count: int) -> Campaign:
    contacts = customers(workspace, [f"Client{i}" for i in range(count)])
    for contact in contacts[:2]:
        consent_record(contact=contact, purposes=["marketing"], action="revoked", source="keyword")
    campaign = draft(workspace, BODY)
    # Scheduled, then started as the minute tick does: the fan-out is ours to run (a launch
    # "now" would run it at once, committed, with the default batch).
    at = timezone.now() + dt.timedelta(hours=1)
    campaign_launch(campaign=campaign, at=at)
    assert campaign_start_due(now=at) == [campaign.id]
    return campaign


def test_batches_made_ahead_decide_everyone_once(workspace: Workspace) -> None:
    campaign = _launched(workspace, 23)
    report = campaign_fanout(campaign.id, batch=5)
    assert (report.queued, report.skipped, report.batches, report.done) == (21, 2, 5, True)
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    assert recipients.count() == 23
    assert recipients.values("contact_id").distinct().count() == 23
    assert ShortLink.objects.filter(campaign=campaign).count() == 21
    bodies = list(campaign_messages(campaign).values_list("body", flat=True))
    assert all("/l/" in body and body.startswith("Bonjour Client") for body in bodies)
    if connection.vendor == "postgresql":  # the thread did the reading and deciding
        assert (
            report.timings["wait for the batch"]
            < sum(report.timings[s] for s in ("read audience", "compliance", "personalise")) + 1.0
        )


def test_a_crash_with_a_batch_made_ahead_resumes_from_the_cursor(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign = _launched(workspace, 12)
    real_batch = fanout._batch
    calls = {"n": 0}

    def dies_on_the_second_batch(*args: Any) -> tuple[int, int]:  # fault injection
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real_batch(*args)

    monkeypatch.setattr(fanout, "_batch", dies_on_the_second_batch)
    with pytest.raises(RuntimeError):
        campaign_fanout(campaign.id, batch=5)
    assert CampaignRecipient.objects.filter(campaign=campaign).count() == 5
    monkeypatch.setattr(fanout, "_batch", real_batch)
    report = campaign_fanout(campaign.id, batch=5)
    assert (report.queued + report.skipped, report.done) == (7, True)
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    assert recipients.values("contact_id").distinct().count() == recipients.count() == 12


def test_bulk_writes_outside_a_transaction_are_one_transaction_each(
    workspace: Workspace,
) -> None:
    """In autocommit an `executemany` would commit row by row (and a bad row would leave
    the rows before it written): insert_rows and update_objects make one transaction."""
    now = timezone.now()
    rows = [(uuid7(), now, now, workspace.id, f"tag{i}") for i in range(5)]
    with pytest.raises(IntegrityError):
        insert_rows(Tag, TAG_COLUMNS, [*rows, (uuid7(), now, now, workspace.id, "tag0")])
    assert not Tag.objects.filter(workspace=workspace).exists()
    insert_rows(Tag, TAG_COLUMNS, rows)
    tags = list(Tag.objects.filter(workspace=workspace).order_by("name"))
    for tag in tags:
        tag.name = f"{tag.name}-renamed"
    tags[-1].name = tags[0].name  # the unique name breaks on the last row
    with pytest.raises(IntegrityError):
        update_objects(tags, ["name"])
    assert sorted(Tag.objects.filter(workspace=workspace).values_list("name", flat=True)) == [
        f"tag{i}" for i in range(5)
    ]


def test_bulk_insert_of_many_rows_is_all_or_nothing_with_django_errors(
    workspace: Workspace,
) -> None:
    """From COPY_MIN_ROWS rows PostgreSQL gets a COPY: a duplicate is still an
    IntegrityError and the statement writes nothing."""
    names = [f"tag{i}" for i in range(COPY_MIN_ROWS + 10)]
    now = timezone.now()
    rows = [(uuid7(), now, now, workspace.id, name) for name in names]
    twice = (uuid7(), now, now, workspace.id, names[0])
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(Tag, TAG_COLUMNS, [*rows, twice])
    assert not Tag.objects.filter(workspace=workspace).exists()
    insert_rows(Tag, TAG_COLUMNS, rows)
    assert sorted(Tag.objects.filter(workspace=workspace).values_list("name", flat=True)) == sorted(
        names
    )
