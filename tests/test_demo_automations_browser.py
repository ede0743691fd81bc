"""Issue 6's most visual step in the demo shop, in a real headless Chromium: a landline
customer's appointment is booked through the API, "Run due now" at reminder time sends the
reminder as a call, and the phone simulator shows it ringing; answering it reads the text,
pressing 1 confirms the appointment and the message is delivered.

The clock is set to 09:00 in the shop's time zone (Europe/Paris) on today's date and
ticks from there (the server answers a real browser), then jumps to the reminder's time.
"""

from __future__ import annotations

import datetime as dt
import os
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # ORM calls between browser steps

from django.utils import timezone
from huey.contrib.djhuey import HUEY
from playwright.sync_api import Browser, expect

from comptoir.automations.models import RunStatus, ScheduledRun
from comptoir.core.demo import demo_access, seed_demo
from comptoir.messaging.models import Status
from comptoir.sandbox.carrier import RECEIPTS_FLAG

pytestmark = pytest.mark.browser

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
LANDLINE = "+33199000016"  # 01 99 00 00 16: a seeded customer with only a landline
WAIT_MS = 10_000


@dataclass
class Shop:
    user: str
    password: str
    key: str
    clock: Any
    starts: dt.datetime


@pytest.fixture
def shop(live_server: Any) -> Iterator[Shop]:
    # Today (not a fixed date): the browser keeps the session cookie only if its expiry,
    # set by the server's clock, is ahead of the real one.
    today = timezone.localdate(timezone=PARIS)
    morning = dt.datetime.combine(today, dt.time(9, 0), tzinfo=PARIS)
    with time_machine.travel(morning, tick=True) as clock:
        workspace, _created = seed_demo()
        user, password, key = demo_access(workspace)
        starts = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(15, 30), tzinfo=PARIS)
        yield Shop(user, password, key, clock, starts)
    HUEY.delete(RECEIPTS_FLAG)  # a receipt run left pending would silence the next test's


def test_the_landline_reminder_rings_on_the_simulator_and_is_answered(
    shop: Shop, browser: Browser, live_server: Any
) -> None:
    errors: list[str] = []
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, locale="en-GB"
    )
    context.set_default_timeout(WAIT_MS)
    try:
        booked = context.request.post(
            "/api/v1/events",
            headers={"Authorization": f"Bearer {shop.key}"},
            data={
                "id": "demo-landline-1",
                "type": "appointment.booked",
                "contact": {"phone": "01 99 00 00 16"},
                "data": {"starts_at": shop.starts.isoformat(), "place": "Lyon Presqu'île"},
            },
        )
        assert booked.status == 202, booked.text()
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto("/login/")
        page.get_by_label("Username").fill(shop.user)
        page.get_by_label("Password").fill(shop.password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("header .ws")).to_have_text("Optique Lumière")

        # 24 h before the appointment, the demo's button sends what is due: a call.
        shop.clock.move_to(shop.starts - dt.timedelta(hours=24))
        page.goto("/automations/runs/")
        page.get_by_role("button", name="Run due now").click()
        expect(page.locator(".flash li.success")).to_contain_text("1 sent")
        reminder = ScheduledRun.objects.get(rule__key="appointment_reminder")
        row = page.locator(f"#run-{reminder.id}")
        expect(row.locator(".status")).to_have_text("Sent")
        expect(row.locator("[data-channel=voice]")).to_contain_text("call")
        assert reminder.status == RunStatus.SENT

        # The landline rings on the phone simulator; the customer answers.
        page.goto("/sandbox/phone/?number=%2B33199000016")
        call = page.locator("#thread .bubble.call").filter(has_text="rappel de votre rendez-vous")
        expect(call).to_have_attribute("data-call-state", "ringing")
        expect(call).to_contain_text("Incoming call from the shop")
        expect(call.locator("q.tts")).to_contain_text("Appuyez sur 1 pour confirmer")
        call.get_by_role("button", name="Answer").click()
        expect(call).to_have_attribute("data-call-state", "answered")
        call.get_by_role("button", name="1", exact=True).click()
        expect(call).to_have_attribute("data-call-state", "ended")
        expect(call).to_contain_text("Call ended.")
        page.screenshot(path="/tmp/comptoir-demo-landline-call.png", full_page=True)
    finally:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"
    message = reminder.message
    assert message is not None
    assert (message.medium, message.status) == ("voice", Status.DELIVERED)
    assert message.contact is not None and message.contact.phone == LANDLINE
    appointment = reminder.appointment
    assert appointment is not None
    appointment.refresh_from_db()
    assert appointment.status == "confirmed"  # 1 pressed during the call
