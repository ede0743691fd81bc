"""Retention: 3 years from the last contact coming from the customer, then purge or anonymise."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from comptoir.automations.models import Appointment
from comptoir.compliance import retention
from comptoir.compliance.consent import consent_record
from comptoir.compliance.models import AuditEntry, ConsentEvent, Suppression
from comptoir.compliance.retention import (
    RETENTION_DAYS,
    retention_candidates,
    retention_purge,
)
from comptoir.compliance.tasks import retention_task
from comptoir.contacts.models import Contact, Purchase
from comptoir.contacts.services import contact_create
from comptoir.core.errors import ValidationError
from comptoir.messaging.inbound import events_store
from comptoir.messaging.models import Message, MessageTransition
from comptoir.messaging.outbox import message_send
from comptoir.providers.base import InboundMessage

NOW = dt.datetime(2026, 11, 23, 11, 0, tzinfo=dt.UTC)  # a Monday, noon in Paris
PHONE = "+33612345678"


def ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def customer(workspace, days_ago: float, phone=PHONE, **fields) -> Contact:
    """A contact first recorded `days_ago`."""
    with time_machine.travel(ago(days_ago), tick=False):
        return contact_create(workspace=workspace, phone=phone, **fields)


def texts_us(channel, phone, days_ago: float, body="Bonjour, vous êtes ouverts ?"):
    with time_machine.travel(ago(days_ago), tick=False):
        events_store(
            channel=channel,
            events=[InboundMessage(f"in-{uuid.uuid4()}", phone, channel.address, body)],
        )


def candidates(workspace) -> set[str]:
    with time_machine.travel(NOW, tick=False):
        return {c.phone for c in retention_candidates(workspace=workspace)}


@pytest.fixture(autouse=True)
def _at_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.parametrize(
    ("days_ago", "purged"),
    [
        (RETENTION_DAYS - 1, False),  # 3 years minus a day
        (RETENTION_DAYS - 1 / 24, False),  # an hour short
        (RETENTION_DAYS + 1, True),  # 3 years plus a day
    ],
)
def test_a_contact_with_nothing_since_creation_goes_after_3_years(workspace, days_ago, purged):
    customer(workspace, days_ago)
    assert candidates(workspace) == ({PHONE} if purged else set())
    assert retention_purge(workspace=workspace) == int(purged)
    assert Contact.objects.filter(phone=PHONE).exists() is not purged


@pytest.mark.parametrize(
    ("days_ago", "purged"), [(RETENTION_DAYS - 1, False), (RETENTION_DAYS + 1, True)]
)
def test_a_purchase_counts_from_its_day(workspace, days_ago, purged):
    contact = customer(workspace, 5 * 365)
    Purchase.objects.create(
        workspace=workspace, contact=contact, purchased_on=ago(days_ago).date(), amount=10
    )
    assert candidates(workspace) == ({PHONE} if purged else set())


def test_a_message_from_the_customer_2_years_ago_keeps_an_old_customer(workspace, channel):
    customer(workspace, 5 * 365)
    texts_us(channel, PHONE, 2 * 365)
    assert candidates(workspace) == set()
    assert retention_purge(workspace=workspace) == 0


def test_a_message_to_the_customer_does_not_count(workspace, channel):
    contact = customer(workspace, 5 * 365)
    with time_machine.travel(ago(2 * 365), tick=False):
        message_send(workspace=workspace, to=str(contact.id), body="Vos lunettes sont prêtes")
    assert Message.objects.filter(contact=contact, direction="out").count() == 1
    assert candidates(workspace) == {PHONE}


@pytest.mark.parametrize(
    ("source", "kept"),
    [("import", False), ("form", True), ("keyword", True), ("staff", True), ("api", True)],
)
def test_consent_counts_unless_it_came_from_an_import(workspace, source, kept):
    contact = customer(workspace, 5 * 365)
    consent_record(
        contact=contact, purposes=["marketing"], action="granted", source=source, at=ago(365)
    )
    assert candidates(workspace) == (set() if kept else {PHONE})


@pytest.mark.parametrize(
    ("starts_days_ago", "status", "kept"),
    [
        (365, "confirmed", True),  # a visit a year ago
        (-30, "booked", True),  # coming next month
        (365, "cancelled", False),
        (RETENTION_DAYS + 1, "confirmed", False),
    ],
)
def test_a_visit_counts_unless_cancelled(workspace, starts_days_ago, status, kept):
    contact = customer(workspace, 5 * 365)
    Appointment.objects.create(
        workspace=workspace, contact=contact, starts_at=ago(starts_days_ago), status=status
    )
    assert candidates(workspace) == (set() if kept else {PHONE})


def test_the_dry_run_lists_with_the_last_activity_and_changes_nothing(workspace, channel):
    old = customer(workspace, 6 * 365)
    texts_us(channel, PHONE, 4 * 365)
    with time_machine.travel(ago(2 * 365), tick=False):  # ours, not theirs
        message_send(workspace=workspace, to=str(old.id), body="Vos lunettes sont prêtes")
    Purchase.objects.create(
        workspace=workspace, contact=old, purchased_on=ago(5 * 365).date(), amount=10
    )
    customer(workspace, 10, phone="+33687654321")

    [listed] = retention_candidates(workspace=workspace)
    assert listed.id == old.id
    assert listed.last_activity == ago(4 * 365)  # the inbound message
    assert retention_purge(workspace=workspace, dry_run=True) == 1
    assert Contact.objects.count() == 2
    assert not AuditEntry.objects.filter(action="retention.purged").exists()


def test_the_candidate_list_is_one_query_however_many(workspace, django_assert_num_queries):
    for n in range(5):
        customer(workspace, 4 * 365, phone=f"+3361234567{n}")
    with django_assert_num_queries(1):
        assert len(list(retention_candidates(workspace=workspace))) == 5


def _old_customer_with_everything(workspace, channel, phone=PHONE):
    contact = customer(
        workspace,
        6 * 365,
        phone=phone,
        first_name="Émilie",
        last_name="Durand",
        email="emilie@example.fr",
        birthday=dt.date(1980, 1, 2),
        attributes={"card": "OL1"},
        tags=["VIP"],
        timezone_name="Europe/Paris",
    )
    texts_us(channel, phone, 5 * 365)
    consent_record(
        contact=contact, purposes=["marketing"], action="granted", source="form", at=ago(5 * 365)
    )
    Purchase.objects.create(
        workspace=workspace,
        contact=contact,
        purchased_on=ago(4 * 365).date(),
        amount=Decimal("249.90"),
        product_type="lunettes",
    )
    Appointment.objects.create(workspace=workspace, contact=contact, starts_at=ago(4 * 365))
    return contact


def test_erase_mode_deletes_everything_but_adds_no_suppression(workspace, channel):
    gone = _old_customer_with_everything(workspace, channel)
    kept = customer(workspace, 10, phone="+33687654321")

    assert retention_purge(workspace=workspace) == 1

    assert list(Contact.objects.values_list("id", flat=True)) == [kept.id]
    for model in (Message, ConsentEvent, Purchase, Appointment):
        assert not model.objects.filter(contact_id=gone.id).exists(), model
    assert not MessageTransition.objects.exists()
    assert not Contact.tags.through.objects.exists()
    assert not Suppression.objects.exists()  # they may be texted again if they come back
    entry = AuditEntry.objects.get(action="retention.purged")
    assert entry.actor_label == "system: retention"
    assert entry.details["count"] == 1
    assert entry.details["mode"] == "erase"
    assert entry.details["retention_days"] == RETENTION_DAYS
    assert entry.details["deleted"]["contacts.Contact"] == 1
    assert PHONE not in str(entry.details)


def test_anonymise_mode_keeps_purchases_and_nothing_personal(workspace, channel):
    first = _old_customer_with_everything(workspace, channel)
    second = _old_customer_with_everything(workspace, channel, phone="+33687654321")

    assert retention_purge(workspace=workspace, mode="anonymise") == 2

    first.refresh_from_db()
    second.refresh_from_db()
    for contact in (first, second):
        assert contact.phone.startswith("anon:")
        assert len(contact.phone) <= 20
        assert (contact.first_name, contact.last_name, contact.email) == ("", "", "")
        assert (contact.birthday, contact.attributes, contact.timezone) == (None, {}, "")
        assert contact.purchases.get().amount == Decimal("249.90")
        for model in (Message, ConsentEvent, Appointment):
            assert not model.objects.filter(contact_id=contact.id).exists(), model
    assert first.phone != second.phone
    assert not MessageTransition.objects.exists()
    assert AuditEntry.objects.get(action="retention.purged").details["mode"] == "anonymise"
    # Anonymised contacts are not purged again on the next day.
    with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
        assert retention_purge(workspace=workspace) == 0
    assert Contact.objects.count() == 2


def test_a_purge_touches_only_its_workspace(workspace, other_workspace):
    customer(workspace, 4 * 365)
    customer(other_workspace, 4 * 365)
    assert retention_purge(workspace=workspace) == 1
    assert Contact.objects.filter(workspace=other_workspace).count() == 1


def test_the_period_can_be_set_by_the_operator(workspace, settings):
    settings.COMPTOIR_RETENTION_DAYS = 30
    customer(workspace, 31)
    assert candidates(workspace) == {PHONE}


def test_an_unknown_mode_is_refused_with_the_field(workspace):
    customer(workspace, 4 * 365)
    with pytest.raises(ValidationError) as caught:
        retention_purge(workspace=workspace, mode="shred")
    assert caught.value.field == "mode"
    assert Contact.objects.count() == 1


def test_every_purge_run_is_logged_even_when_nothing_went(workspace):
    assert retention_purge(workspace=workspace) == 0
    assert AuditEntry.objects.get(action="retention.purged").details["count"] == 0


def test_the_daily_task_purges_every_workspace(workspace, other_workspace, monkeypatch):
    customer(workspace, 4 * 365)
    customer(other_workspace, 4 * 365)
    retention_task.call_local()
    assert not Contact.objects.exists()
    assert AuditEntry.objects.filter(action="retention.purged").count() == 2


def test_one_failing_workspace_does_not_stop_the_others(workspace, other_workspace, monkeypatch):
    customer(workspace, 4 * 365)
    customer(other_workspace, 4 * 365)
    real = retention.retention_purge

    def failing(*, workspace, **kwargs):
        if workspace.id == other_workspace.id:
            raise RuntimeError("database hiccup")
        return real(workspace=workspace, **kwargs)

    monkeypatch.setattr(retention, "retention_purge", failing)
    assert retention.retention_purge_all() == {str(workspace.id): 1}
    assert Contact.objects.filter(workspace=other_workspace).count() == 1


def test_the_daily_task_runs_at_half_past_three():
    task = retention_task.task_class()
    assert task.validate_datetime(dt.datetime(2026, 11, 23, 3, 30))
    assert not task.validate_datetime(dt.datetime(2026, 11, 23, 4, 30))
    assert not task.validate_datetime(dt.datetime(2026, 11, 23, 3, 31))


def test_the_daily_task_uses_the_configured_mode(workspace, channel, settings):
    settings.COMPTOIR_RETENTION_MODE = "anonymise"
    contact = _old_customer_with_everything(workspace, channel)
    retention_task.call_local()
    contact.refresh_from_db()
    assert contact.phone.startswith("anon:")


# ---------------------------------------------------------------------------------------
# The `purge` command
# ---------------------------------------------------------------------------------------


def _purge(*args: str) -> str:
    out = StringIO()
    call_command("purge", *args, stdout=out)
    return out.getvalue()


def test_purge_dry_run_prints_the_count_and_the_list(workspace):
    old = customer(workspace, 4 * 365, first_name="Émilie", last_name="Durand")
    customer(workspace, 10, phone="+33687654321")
    output = _purge("--workspace", str(workspace.id), "--dry-run")
    lines = output.splitlines()
    assert lines[0].startswith("1 contact(s) would be purged (erase)")
    assert str(old.id) in lines[1]
    assert PHONE in lines[1]
    assert "Émilie Durand" in lines[1]
    assert f"last activity {ago(4 * 365):%Y-%m-%d}" in lines[1]
    assert Contact.objects.count() == 2


def test_purge_prints_the_count(workspace):
    customer(workspace, 4 * 365)
    assert _purge("--workspace", str(workspace.id)) == "1 contact(s) purged (erase).\n"
    assert not Contact.objects.exists()
    entry = AuditEntry.objects.get(action="retention.purged")
    assert entry.actor_label == "system: purge command"


def test_purge_can_anonymise(workspace):
    customer(workspace, 4 * 365)
    output = _purge("--workspace", str(workspace.id), "--mode", "anonymise")
    assert output == "1 contact(s) purged (anonymise).\n"
    assert Contact.objects.get().phone.startswith("anon:")


@pytest.mark.parametrize("value", ["not-a-uuid", str(uuid.uuid4())])
def test_purge_refuses_an_unknown_workspace(db, value):
    with pytest.raises(CommandError, match="No workspace"):
        _purge("--workspace", value)


def test_purge_refuses_an_unknown_mode(workspace):
    with pytest.raises(CommandError, match="invalid choice"):
        _purge("--workspace", str(workspace.id), "--mode", "shred")


def test_the_last_activity_may_be_a_purchase_day(workspace):
    contact = customer(workspace, 6 * 365)
    day = ago(4 * 365).date()
    Purchase.objects.create(workspace=workspace, contact=contact, purchased_on=day, amount=10)
    [listed] = retention_candidates(workspace=workspace)
    assert listed.last_activity == dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def test_a_workspace_sets_its_own_period_and_mode(workspace):
    from comptoir.compliance.retention import retention_cutoff, retention_days, retention_mode

    assert retention_days(workspace) == 3 * 365
    assert retention_mode(workspace) == "erase"
    workspace.policy = {"retention_days": 730, "retention_mode": "anonymise"}
    workspace.save()
    assert retention_days(workspace) == 730
    assert retention_mode(workspace) == "anonymise"
    now = timezone.now()
    assert now - retention_cutoff(now, workspace) == dt.timedelta(days=730)
