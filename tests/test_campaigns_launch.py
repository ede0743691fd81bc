"""Campaigns: launch and fan-out, schedule, pause/resume/cancel, cap, refusals, results."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError

from comptoir.campaigns import fanout
from comptoir.campaigns.fanout import HELD, campaign_fanout, campaign_messages
from comptoir.campaigns.models import Campaign, CampaignRecipient, CampaignStatus
from comptoir.campaigns.results import campaign_results
from comptoir.campaigns.services import (
    campaign_cancel,
    campaign_launch,
    campaign_pause,
    campaign_resume,
    campaign_save,
)
from comptoir.campaigns.tasks import campaign_fanout_task
from comptoir.channels.models import Channel
from comptoir.compliance.consent import consent_record
from comptoir.contacts.services import contact_create, tags_get_or_create
from comptoir.core.errors import Conflict, ValidationError
from comptoir.dispatch.dispatcher import dispatch_channel
from comptoir.messaging.models import Message, Status
from comptoir.workspaces.models import Workspace
from tests.test_campaigns import OPEN, clock, customers, draft, launch

__all__ = ["clock"]  # the autouse clock fixture, shared with the composer tests


# -- launch -------------------------------------------------------------------------------


def test_launch_fans_out_with_compliance_and_personalisation(
    workspace: Workspace, channel: Channel, django_capture_on_commit_callbacks: object
) -> None:
    lea, bob, _cyd = customers(workspace, ["Léa", "Bob", "Cyd"])
    consent_record(contact=bob, purposes=["marketing"], action="revoked", source="keyword")
    nobody = contact_create(workspace=workspace, phone="+33612000009", first_name="Dan")
    campaign = launch(draft(workspace), django_capture_on_commit_callbacks)
    assert campaign.recipients_count == 4
    assert (campaign.queued_count, campaign.skipped_count) == (2, 2)
    skipped = dict(
        CampaignRecipient.objects.filter(campaign=campaign, status="skipped").values_list(
            "contact_id", "skip_code"
        )
    )
    assert skipped == {bob.id: "opted_out", nobody.id: "no_consent"}
    message = Message.objects.get(contact=lea)
    assert message.body == "Bonjour Léa, -20 % ce samedi STOP SMS : STOP"
    assert (message.purpose, message.kind, message.status) == ("marketing", "campaign", "sent")
    assert campaign.status == CampaignStatus.SENT  # everything went (the sandbox took it)


def test_a_launched_campaign_never_reaches_a_contact_twice(
    workspace: Workspace, channel: Channel, django_capture_on_commit_callbacks: object
) -> None:
    customers(workspace, ["Léa", "Bob", "Cyd"])
    campaign = launch(draft(workspace), django_capture_on_commit_callbacks)
    # Even a fan-out that forgot everything (audience frozen again, no cursor) cannot send
    # twice: the (campaign, contact) constraint refuses the batch.
    Campaign.objects.filter(id=campaign.id).update(
        status="sending", fanned_out_at=None, audience_frozen_at=None, fanout_cursor=None
    )
    with pytest.raises(IntegrityError):
        campaign_fanout(campaign.id)
    assert CampaignRecipient.objects.filter(campaign=campaign).count() == 3
    assert campaign_messages(campaign).count() == 3
    with pytest.raises(Conflict):
        campaign_launch(campaign=Campaign.objects.get(id=campaign.id))


def test_fanout_resumes_after_a_crash_mid_way(
    workspace: Workspace, channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    contacts = customers(workspace, ["A", "B", "C", "D", "E"])
    campaign = draft(workspace)
    campaign_launch(campaign=campaign)  # commit callbacks not run: the task is ours to run
    real_batch = fanout._batch
    calls = {"n": 0}

    def dies_on_the_second_batch(*args: object) -> tuple[int, int]:  # fault injection
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real_batch(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(fanout, "_batch", dies_on_the_second_batch)
    with pytest.raises(RuntimeError):
        campaign_fanout(campaign.id, batch=2)
    assert CampaignRecipient.objects.filter(campaign=campaign).count() == 2  # the first batch
    monkeypatch.setattr(fanout, "_batch", real_batch)
    report = campaign_fanout(campaign.id, batch=2)
    assert (report.queued, report.done) == (3, True)
    assert sorted(campaign_messages(campaign).values_list("contact_id", flat=True)) == sorted(
        c.id for c in contacts
    )


def test_schedule_in_the_past_and_empty_audience_are_refused(
    workspace: Workspace, channel: Channel
) -> None:
    customers(workspace, ["Léa"])
    campaign = draft(workspace)
    with pytest.raises(ValidationError) as past:
        campaign_launch(campaign=campaign, at=OPEN - dt.timedelta(minutes=5))
    assert past.value.field == "scheduled_at" and "in the past" in past.value.message
    [vip] = tags_get_or_create(workspace=workspace, names=["vip"])
    empty = campaign_save(
        workspace=workspace, name="VIP", body="Hello", audience_kind="tag", tag=vip
    )
    with pytest.raises(ValidationError) as nobody:
        campaign_launch(campaign=empty)
    assert nobody.value.field == "audience" and "no one" in nobody.value.message


def test_scheduled_campaign_starts_at_its_time(
    workspace: Workspace, channel: Channel, django_capture_on_commit_callbacks: object
) -> None:
    from comptoir.campaigns.tasks import campaigns_tick

    customers(workspace, ["Léa"])
    campaign = draft(workspace)
    campaign_launch(campaign=campaign, at=OPEN + dt.timedelta(hours=1))
    campaigns_tick.call_local()
    assert Campaign.objects.get(id=campaign.id).status == CampaignStatus.SCHEDULED
    with time_machine.travel(OPEN + dt.timedelta(hours=1, minutes=1)):
        with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
            campaigns_tick.call_local()  # starts it; the fan-out wakes the dispatcher
        campaigns_tick.call_local()  # and the next tick sees it all sent
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert campaign_messages(campaign).get().status == Status.SENT


def test_pause_holds_queued_messages_resume_sends_cancel_blocks(
    workspace: Workspace, channel: Channel
) -> None:
    customers(workspace, ["A", "B", "C"])
    campaign = draft(workspace)
    campaign_launch(campaign=campaign)
    campaign_fanout(campaign.id)  # messages queued, the dispatcher not run yet
    assert campaign_pause(campaign=campaign) == 3
    assert set(campaign_messages(campaign).values_list("status", flat=True)) == {HELD}
    assert dispatch_channel(channel.id).claimed == 0  # held messages are not claimed
    assert campaign_resume(campaign=campaign) == 3
    assert dispatch_channel(channel.id, batch=1, budget=0.0).claimed == 0  # no time budget
    report = dispatch_channel(channel.id, batch=1)
    assert report.sent >= 1
    left = campaign_messages(campaign).filter(status=Status.QUEUED).count()
    assert campaign_cancel(campaign=campaign) == left
    results = campaign_results(Campaign.objects.get(id=campaign.id))
    assert {r.code: r.count for r in results.skipped_by_reason}.get("campaign_cancelled", 0) == left
    with pytest.raises(Conflict):
        campaign_resume(campaign=campaign)


def test_pause_during_fanout_stops_between_batches_and_resume_finishes(
    workspace: Workspace,
    channel: Channel,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: object,
) -> None:
    customers(workspace, ["A", "B", "C", "D"])
    campaign = draft(workspace)
    campaign_launch(campaign=campaign)
    real_batch = fanout._batch

    def owner_pauses_meanwhile(*args: object) -> tuple[int, int]:
        done = real_batch(*args)  # type: ignore[arg-type]
        campaign_pause(campaign=Campaign.objects.get(id=campaign.id))
        return done

    monkeypatch.setattr(fanout, "_batch", owner_pauses_meanwhile)
    report = campaign_fanout(campaign.id, batch=2)
    assert (report.batches, report.stopped) == (1, "paused")
    assert CampaignRecipient.objects.filter(campaign=campaign).count() == 2
    assert set(campaign_messages(campaign).values_list("status", flat=True)) == {HELD}
    monkeypatch.setattr(fanout, "_batch", real_batch)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        campaign_resume(campaign=Campaign.objects.get(id=campaign.id))
    assert CampaignRecipient.objects.filter(campaign=campaign).count() == 4
    assert set(campaign_messages(campaign).values_list("status", flat=True)) == {Status.SENT}


def test_cap_across_two_campaigns(
    workspace: Workspace, channel: Channel, django_capture_on_commit_callbacks: object
) -> None:
    customers(workspace, ["Léa", "Bob"])
    launch(draft(workspace), django_capture_on_commit_callbacks)
    with time_machine.travel(OPEN + dt.timedelta(days=3)):
        second = launch(
            campaign_save(workspace=workspace, name="Noël", body="Joyeux Noël {first_name}"),
            django_capture_on_commit_callbacks,
        )
        results = campaign_results(second)
    assert second.skipped_count == 2
    [capped] = results.skipped_by_reason
    assert (capped.code, capped.count) == ("frequency_cap", 2)
    assert "already got 1 marketing message(s) in 30 days" in capped.reason
    assert results.sent == 0


def test_refusals_summed_per_campaign_with_their_sentence(
    workspace: Workspace, channel: Channel, django_capture_on_commit_callbacks: object
) -> None:
    contacts = customers(workspace, ["A", "B", "C", "D", "E"])
    for contact in contacts[:2]:
        consent_record(contact=contact, purposes=["marketing"], action="revoked", source="keyword")
    for i in range(3):
        contact_create(workspace=workspace, phone=f"+3361200005{i}", first_name="Sans")
    campaign = launch(draft(workspace), django_capture_on_commit_callbacks)
    results = campaign_results(campaign)
    assert [(r.code, r.count) for r in results.skipped_by_reason] == [
        ("no_consent", 3),
        ("opted_out", 2),
    ]
    assert (
        results.skipped_by_reason[0].reason == "No marketing consent is recorded for this customer."
    )
    assert (results.recipients, results.sent, results.skipped) == (8, 3, 5)


def test_replies_and_opt_outs_after_the_campaign_are_counted(
    workspace: Workspace, channel: Channel, django_capture_on_commit_callbacks: object
) -> None:
    from comptoir.sandbox.carrier import customer_texts

    lea, bob, _cyd = customers(workspace, ["Léa", "Bob", "Cyd"])
    campaign = launch(draft(workspace), django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        customer_texts(channel=channel, sender=lea.phone, text="Merci, je passe samedi")
        customer_texts(channel=channel, sender=bob.phone, text="STOP")
    results = campaign_results(campaign)
    assert (results.replies, results.opt_outs) == (2, 1)
    # Bob's STOP came after: the next campaign skips him as opted out, not as capped.
    with time_machine.travel(OPEN + dt.timedelta(days=40)):
        second = launch(draft(workspace), django_capture_on_commit_callbacks)
        reasons = {r.code: r.count for r in campaign_results(second).skipped_by_reason}
    assert reasons == {"opted_out": 1}


def test_the_minute_tick_restarts_a_fanout_whose_worker_died(
    workspace: Workspace, channel: Channel, django_capture_on_commit_callbacks: object
) -> None:
    from comptoir.campaigns.tasks import campaigns_tick

    customers(workspace, ["Léa", "Bob"])
    campaign = draft(workspace)
    campaign_launch(campaign=campaign)  # the task never ran: its worker died
    campaigns_tick.call_local()
    assert not CampaignRecipient.objects.filter(campaign=campaign).exists()  # not stale yet
    with time_machine.travel(OPEN + dt.timedelta(minutes=3)):
        with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
            campaigns_tick.call_local()
        campaigns_tick.call_local()
    campaign.refresh_from_db()
    assert (campaign.status, campaign.queued_count) == (CampaignStatus.SENT, 2)


def test_a_recipient_whose_text_is_too_long_is_skipped_with_the_reason(
    workspace: Workspace, channel: Channel, django_capture_on_commit_callbacks: object
) -> None:
    workspace.max_segments = 1
    workspace.save()
    customers(workspace, ["Léa", "Marie-Charlotte-Eugénie-Antoinette"])
    filler = "x" * (160 - len("Bonjour Léa,  STOP SMS : STOP"))
    campaign = launch(
        campaign_save(workspace=workspace, name="Long", body="Bonjour {first_name}, " + filler),
        django_capture_on_commit_callbacks,
    )
    [skipped] = campaign_results(campaign).skipped_by_reason
    assert (skipped.code, skipped.count) == ("too_long", 1)
    assert "more than 1 SMS" in skipped.reason
    assert campaign_messages(campaign).get().body.startswith("Bonjour Léa, x")


def test_a_fanout_task_for_a_deleted_campaign_does_nothing(workspace: Workspace) -> None:
    campaign = draft(workspace)
    campaign_id = str(campaign.id)
    campaign.delete()
    campaign_fanout_task.call_local(campaign_id)  # a task queued before the deletion
    assert not Campaign.objects.filter(id=campaign_id).exists()
