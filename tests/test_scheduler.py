"""The scheduler: due runs fire on time, once; reminders follow moves and cancellations."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from comptoir.automations import firing
from comptoir.automations.firing import next_due, runs_fire_due
from comptoir.automations.models import Appointment, RunStatus, ScheduledRun
from comptoir.automations.tasks import automations_tick_task
from comptoir.messaging.models import Message
from comptoir.workspaces.models import Role
from comptoir.workspaces.services import staff_add

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
START = dt.datetime(2026, 11, 24, 14, 30, tzinfo=dt.UTC)  # 15:30 in Paris, tomorrow
REMINDER_DUE = START - dt.timedelta(hours=24)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def book(api, event_id="b1", type_="appointment.booked", starts_at=START, **extra):
    payload = {
        "id": event_id,
        "type": type_,
        "contact": {"phone": "+33612345678"},
        "data": {"appointment_id": "rdv-1", "starts_at": starts_at.isoformat(), **extra},
    }
    answer = api.post("/api/v1/events", payload)
    assert answer.status_code == 202, answer.content
    return answer.json()


def reminders():
    return ScheduledRun.objects.filter(rule__key="appointment_reminder").order_by("created_at")


def at(moment: dt.datetime):
    return time_machine.travel(moment, tick=False)


def test_a_reminder_fires_at_its_time_and_not_before(api, workspace):
    book(api)
    assert next_due() == REMINDER_DUE
    with at(REMINDER_DUE - dt.timedelta(seconds=1)):
        assert runs_fire_due().sent == 0
    with at(REMINDER_DUE):
        report = runs_fire_due()
    assert (report.sent, report.batches) == (1, 1)
    run = reminders().get()
    assert (run.status, run.fired_at) == (RunStatus.SENT, REMINDER_DUE)
    assert run.message.body == (
        "Optique Test : rappel de votre rendez-vous le 24 novembre 2026 à 15:30 (en magasin). "
        "Répondez C pour confirmer, A pour annuler."
    )
    with at(REMINDER_DUE + dt.timedelta(minutes=5)):
        assert runs_fire_due().sent == 0  # never twice
    assert next_due() is None


def test_a_moved_appointment_moves_its_pending_reminder(api, workspace):
    book(api)
    later = START + dt.timedelta(days=2)
    book(api, "b2", "appointment.updated", starts_at=later, place="Villeurbanne")
    old, new = reminders()
    assert (old.status, old.reason) == (RunStatus.CANCELLED, "rescheduled")
    assert (new.status, new.due_at) == (RunStatus.PENDING, later - dt.timedelta(hours=24))
    with at(REMINDER_DUE):
        assert runs_fire_due().sent == 0
    with at(later - dt.timedelta(hours=24)):
        assert runs_fire_due().sent == 1
    new.refresh_from_db()
    assert "26 novembre 2026 à 15:30 (Villeurbanne)" in new.message.body


def test_a_moved_appointment_whose_reminder_went_gets_a_new_one(api, workspace):
    book(api)
    with at(REMINDER_DUE):
        runs_fire_due()
        book(api, "b2", "appointment.updated", starts_at=START + dt.timedelta(days=1))
    sent, new = reminders()
    assert (sent.status, new.status) == (RunStatus.SENT, RunStatus.PENDING)


def test_a_cancelled_appointment_cancels_its_reminder(api, workspace):
    book(api)
    body = book(api, "b3", "appointment.cancelled")
    assert body["appointment_status"] == "cancelled"
    run = reminders().get()
    assert (run.status, run.reason) == (RunStatus.CANCELLED, "appointment_cancelled")
    with at(REMINDER_DUE):
        assert runs_fire_due().sent == 0
    assert Message.objects.filter(kind="automation").count() == 1  # the booking confirmation


def test_the_appointment_is_checked_again_when_the_reminder_is_due(api, workspace):
    book(api)
    # Changed behind the events' back (the admin, a bug): the fire-time check still holds.
    Appointment.objects.update(starts_at=T0 + dt.timedelta(hours=1))
    with at(REMINDER_DUE):
        runs_fire_due()
    run = reminders().get()
    assert (run.status, run.reason, run.message_id) == (RunStatus.SKIPPED, "appointment_past", None)
    Appointment.objects.update(starts_at=START, status="cancelled")
    ScheduledRun.objects.update(status=RunStatus.PENDING)
    with at(REMINDER_DUE):
        runs_fire_due()
    assert reminders().get().status == RunStatus.CANCELLED


def test_a_run_found_too_late_is_skipped(api, workspace):
    book(api, starts_at=START + dt.timedelta(days=3))
    with at(START + dt.timedelta(days=2, hours=13)):  # 13 h late, appointment still ahead
        runs_fire_due()
    assert (reminders().get().status, reminders().get().reason) == ("skipped", "too_late")


def test_a_crash_between_claim_and_send_sends_once(api, workspace, monkeypatch):
    book(api)

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(firing, "update_objects", crash)
    with at(REMINDER_DUE), pytest.raises(RuntimeError):
        runs_fire_due()
    monkeypatch.undo()
    # Rolled back with the batch: no message, the run still pending.
    assert reminders().get().status == RunStatus.PENDING
    assert Message.objects.filter(kind="automation").count() == 1
    with at(REMINDER_DUE):
        assert runs_fire_due().sent == 1
    first = reminders().get().message_id
    # A run whose "sent" was lost is fired again: the idempotency key finds its message.
    ScheduledRun.objects.filter(id=reminders().get().id).update(status=RunStatus.PENDING)
    with at(REMINDER_DUE):
        assert runs_fire_due().sent == 1
    assert reminders().get().message_id == first
    assert Message.objects.filter(kind="automation").count() == 2


def test_a_batch_is_claimed_in_one_query_and_costs_the_same_for_many_runs(api, workspace):
    for i in range(3):
        book(api, f"a{i}", appointment_id=f"r{i}")
    with at(REMINDER_DUE), CaptureQueriesContext(connection) as small:
        assert runs_fire_due().sent == 3
    for i in range(30):
        payload = {
            "id": f"x{i}",
            "type": "appointment.booked",
            "contact": {"phone": f"+336000000{i:02d}"},
            "data": {
                "appointment_id": f"y{i}",
                "starts_at": (START + dt.timedelta(days=1)).isoformat(),
            },
        }
        assert api.post("/api/v1/events", payload).status_code == 202
    with at(REMINDER_DUE + dt.timedelta(days=1)), CaptureQueriesContext(connection) as big:
        assert runs_fire_due().sent == 30
    claims = [
        q
        for q in big.captured_queries
        if 'FROM "automations_scheduledrun"' in q["sql"] and "due_at" in q["sql"]
    ]
    assert len(claims) == 1
    assert len(big.captured_queries) == len(small.captured_queries)


def test_the_periodic_tick_fires_what_is_due(api, workspace):
    book(api)
    with at(REMINDER_DUE + dt.timedelta(seconds=3)):
        automations_tick_task()
    assert reminders().get().status == RunStatus.SENT


def test_the_cli_runs_what_is_due(api, workspace, capsys):
    book(api)
    with at(REMINDER_DUE):
        call_command("automations", "run-due")
    assert "1 sent, 0 skipped, 0 cancelled" in capsys.readouterr().out
    assert reminders().get().status == RunStatus.SENT


def test_owners_run_due_now_and_send_a_run_early_agents_may_not(api, workspace, staff_client):
    book(api)
    page = staff_client.get("/automations/runs/")
    assert page.status_code == 200 and "Run due now" in page.content.decode()
    assert staff_client.post("/automations/runs/due-now").status_code == 302
    assert reminders().get().status == RunStatus.PENDING  # not due yet
    staff_add(workspace=workspace, username="bob", password="pw-bob-123", role=Role.AGENT)
    agent = Client()
    agent.login(username="bob", password="pw-bob-123")
    run = reminders().get()
    assert agent.post(f"/automations/runs/{run.id}/send-now").status_code == 403
    assert agent.post("/automations/runs/due-now").status_code == 403
    assert staff_client.post(f"/automations/runs/{run.id}/send-now").status_code == 302
    run.refresh_from_db()
    assert (run.status, run.due_at) == (RunStatus.SENT, T0)


def test_the_benchmark_runs_small(db):
    from comptoir.benchmarks.scheduler import run

    with time_machine.travel(T0, tick=True):  # the benchmark waits for its runs' time
        lines = run({"runs": 300, "due": 30, "rounds": 3})
    assert lines[0].startswith("scheduler on ")
    assert "30 sent, 0 skipped" in lines[2]
    assert ScheduledRun.objects.count() == 0  # its workspace is gone
