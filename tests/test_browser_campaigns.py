"""The composer and the launch in a real headless Chromium: the counter follows the text
(segments, the opt-out mention, the longest name), then a launch shows the results."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # ORM calls between browser steps

from playwright.sync_api import Browser, expect

from comptoir.campaigns.models import Campaign
from comptoir.contacts.services import contact_create
from comptoir.workspaces.models import Role, Workspace
from comptoir.workspaces.services import staff_add, workspace_create
from tests.conftest import grant_marketing

pytestmark = pytest.mark.browser

PASSWORD = "a long sandbox passphrase"
WAIT_MS = 10_000


@pytest.fixture
def shop(live_server: Any) -> Iterator[Workspace]:
    workspace = workspace_create(name="Optique Campagnes", region="FR")
    # Open every hour of every day: the test must not depend on when it runs.
    workspace.policy = {
        "marketing_window": {
            "days": list(range(7)),
            "start": "00:00",
            "end": "23:59",
            "skip_holidays": False,
        }
    }
    workspace.save()
    staff_add(workspace=workspace, username="bruno", password=PASSWORD, role=Role.OWNER)
    phones = ["+33612340001", "+33612340002"]
    for phone, name in zip(phones, ["Léa", "Maximilien-Alexandre"], strict=True):
        contact_create(workspace=workspace, phone=phone, first_name=name)
    grant_marketing(workspace, phones)
    yield workspace


def test_composer_counter_then_launch(shop: Workspace, browser: Browser, live_server: Any) -> None:
    errors: list[str] = []
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1400, "height": 900}, locale="en-GB"
    )
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto("/login/")
        page.get_by_label("Username").fill("bruno")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Campaigns").click()
        page.get_by_role("link", name="New campaign").click()
        page.get_by_label("Name").fill("Soldes d'hiver")

        body = page.get_by_label("Message")
        body.press_sequentially("Bonjour {first_name}, -20 %")
        counter = page.locator("#counter .figures")
        expect(counter).to_have_attribute("data-segments", "1")
        # Counted on the longest first name, with the mention the engine adds.
        expect(page.locator("#longest-text")).to_have_text(
            "Bonjour Maximilien-Alexandre, -20 % STOP SMS : STOP"
        )
        expect(page.locator("#count-recipients")).to_have_text("2 recipients")
        # 110 more characters: short for Léa, over 160 with the longest name.
        body.press_sequentially(" " + "x" * 109)
        expect(counter).to_have_attribute("data-segments", "2")
        body.press_sequentially(" ✨")
        expect(counter).to_have_attribute("data-encoding", "ucs2")
        expect(page.locator("#suggestions")).to_contain_text("no GSM-7 equivalent")
        body.fill("Bonjour {prenom}")
        expect(page.locator("#composer-error")).to_contain_text("Unknown variable {prenom}")
        body.fill("Bonjour {first_name|à vous} : https://optique.example/soldes")
        expect(counter).to_have_attribute("data-segments", "1")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Campaign saved.")).to_be_visible()

        page.get_by_label("Now").check()
        page.locator("#launch-button").click()
        expect(page.locator("#kpi-sent")).to_have_text("2")
        expect(page.locator("#kpi-recipients")).to_have_text("2")
        expect(page.locator("#results svg")).to_be_visible()
        page.screenshot(path="/tmp/comptoir-campaign.png", full_page=True)
    finally:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"
    campaign = Campaign.objects.get(workspace=shop)
    assert campaign.recipients.count() == 2
