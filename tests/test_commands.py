"""The `comptoir` commands: createworkspace and demo (thin interfaces over the services)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from comptoir.automations.models import Appointment
from comptoir.channels.models import Channel
from comptoir.contacts.models import Contact, Purchase
from comptoir.workspaces.models import ApiKey, Membership, Workspace


def _run(*args: str, **options: object) -> str:
    out = StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def _api_get(key: str, path: str):
    return Client().get(path, HTTP_AUTHORIZATION=f"Bearer {key}")


def test_createworkspace_prints_the_key_alone_on_the_last_line(db):
    output = _run("createworkspace", "Bijouterie Or", "--region", "FR")
    key = output.rstrip("\n").splitlines()[-1]
    assert key.startswith("cpt_")
    assert key == key.strip()
    workspace = Workspace.objects.get(name="Bijouterie Or")
    assert (workspace.region, workspace.timezone) == ("FR", "Europe/Paris")
    assert str(workspace.id) in output
    assert Channel.objects.filter(workspace=workspace, provider="sandbox").count() == 1
    assert output.count(key) == 1  # shown once
    api_key = ApiKey.objects.get(workspace=workspace)
    assert key not in str(ApiKey.objects.filter(pk=api_key.pk).values().get())
    response = _api_get(key, "/api/v1/contacts")
    assert response.status_code == 200, response.content
    assert response.json() == []


def test_createworkspace_key_sends_in_its_own_workspace(db):
    key = _run("createworkspace", "Bijouterie Or", "--region", "FR").splitlines()[-1]
    response = Client().post(
        "/api/v1/messages",
        {"to": "06 12 34 56 78", "body": "Bonjour"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 202, response.content
    contact = Contact.objects.get(id=response.json()["contact_id"])
    assert contact.workspace.name == "Bijouterie Or"


def test_createworkspace_options(db):
    output = _run("createworkspace", "Shop", "--region", "us", "--timezone", "America/Chicago")
    workspace = Workspace.objects.get(name="Shop")
    assert (workspace.region, workspace.timezone) == ("US", "America/Chicago")
    assert output.splitlines()[-1].startswith("cpt_")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["Bijouterie Or", "--region", "XX"], "region"),
        (["Bijouterie Or", "--region", "FR", "--timezone", "Mars/Olympus"], "timezone"),
        (["  ", "--region", "FR"], "name"),
    ],
)
def test_createworkspace_bad_input_names_the_field(db, args, field):
    out = StringIO()
    with pytest.raises(CommandError) as info:
        call_command("createworkspace", *args, stdout=out)
    assert str(info.value).startswith(f"{field}: ")
    assert "cpt_" not in out.getvalue()
    assert not Workspace.objects.exists()
    assert not ApiKey.objects.exists()


def test_createworkspace_needs_a_name(db):
    with pytest.raises(CommandError):
        call_command("createworkspace", stdout=StringIO(), stderr=StringIO())


def _demo_key(output: str) -> str:
    return next(
        line.split()[-1] for line in output.splitlines() if line.strip().startswith("API key")
    )


def test_demo_seeds_the_optician(db):
    output = _run("demo", "--no-serve")
    workspace = Workspace.objects.get(name="Optique Lumière")
    assert "Optique Lumière" in output
    contacts = Contact.objects.for_workspace(workspace)
    assert 45 <= contacts.count() <= 55
    assert all(c.phone.startswith("+33") for c in contacts)
    assert contacts.filter(number_type="mobile").count() >= 40
    # The customers; the demo inbox adds a prospect who wrote in and two staff members.
    customers = contacts.filter(is_prospect=False, team_members=None)
    assert customers.count() == contacts.count() - 3
    assert customers.exclude(birthday=None).count() == customers.count()
    assert Purchase.objects.for_workspace(workspace).count() >= customers.count()
    tomorrow = timezone.localdate(timezone=workspace.tz) + dt.timedelta(days=1)
    appointments = Appointment.objects.for_workspace(workspace)
    assert appointments.exists()
    assert all(a.starts_at.astimezone(workspace.tz).date() == tomorrow for a in appointments)

    login = next(line for line in output.splitlines() if "Staff login" in line)
    username, password = login.split()[-3], login.split()[-1]
    assert Membership.objects.filter(workspace=workspace, user__username=username).exists()
    assert Client().login(username=username, password=password)

    key = _demo_key(output)
    response = _api_get(key, "/api/v1/contacts?limit=500")
    assert response.status_code == 200, response.content
    assert len(response.json()) == contacts.count()


def test_demo_twice_does_not_duplicate(db):
    first = _run("demo", "--no-serve")
    counts = (
        Workspace.objects.count(),
        Contact.objects.count(),
        Purchase.objects.count(),
        Appointment.objects.count(),
        get_user_model().objects.count(),
    )
    second = _run("demo", "--no-serve")
    assert (
        Workspace.objects.count(),
        Contact.objects.count(),
        Purchase.objects.count(),
        Appointment.objects.count(),
        get_user_model().objects.count(),
    ) == counts
    assert Workspace.objects.filter(name="Optique Lumière").count() == 1
    # each run prints working access; the second password replaces the first
    key = _demo_key(second)
    assert _api_get(key, "/api/v1/contacts").status_code == 200
    assert _api_get(_demo_key(first), "/api/v1/contacts").status_code == 200
    login = next(line for line in second.splitlines() if "Staff login" in line).split()
    assert Client().login(username=login[-3], password=login[-1])


def test_demo_appointments_are_tomorrow_in_the_shops_time_zone(db):
    with time_machine.travel(dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.UTC), tick=False):
        _run("demo", "--no-serve")
    workspace = Workspace.objects.get(name="Optique Lumière")
    days = {
        a.starts_at.astimezone(workspace.tz).date()
        for a in Appointment.objects.for_workspace(workspace)
    }
    assert days == {dt.date(2026, 11, 25)}  # it is already the 24th in Paris


def test_the_console_script_lists_the_commands(tmp_path):
    script = Path(sys.executable).parent / "comptoir"
    result = subprocess.run(
        [str(script), "help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "COMPTOIR_VAR_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "comptoir.config.settings",
        },
    )
    assert result.returncode == 0, result.stderr
    for command in ("createworkspace", "demo", "serve", "worker", "migrate", "bench"):
        assert command in result.stdout
