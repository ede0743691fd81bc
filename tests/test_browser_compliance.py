"""The privacy page in a real headless Chromium: from the inbox's contact panel, an owner
records a revocation the customer asked for by phone, and the history shows it in place."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # ORM calls between browser steps

from playwright.sync_api import Browser, expect

from comptoir.compliance.consent import consent_state
from comptoir.compliance.models import ConsentEvent
from comptoir.contacts.models import Contact
from comptoir.sandbox.carrier import customer_texts
from comptoir.workspaces.models import Role, Workspace
from comptoir.workspaces.services import staff_add, workspace_create

pytestmark = pytest.mark.browser

PASSWORD = "a long sandbox passphrase"
NUMBER = "+33612345678"
WAIT_MS = 10_000


@pytest.fixture
def shop(live_server: Any) -> Iterator[Workspace]:
    workspace = workspace_create(name="Optique Vie Privée", region="FR")
    staff_add(workspace=workspace, username="bruno", password=PASSWORD, role=Role.OWNER)
    yield workspace


def test_staff_record_a_revocation_and_the_history_shows_it(
    shop: Workspace, browser: Browser, live_server: Any
) -> None:
    customer_texts(channel=shop.channels.get(), sender=NUMBER, text="Bonjour")
    contact = Contact.objects.get(workspace=shop, phone=NUMBER)
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
        page.get_by_role("link", name="Inbox").click()
        page.locator("#conv-list li.row").filter(has_text=NUMBER).get_by_role("link").click()
        page.get_by_role("link", name="Privacy and consent").click()

        expect(page.get_by_role("heading", name=NUMBER)).to_be_visible()
        expect(page.locator("#consent-history")).to_have_text("No consent event recorded.")
        page.evaluate("window.notReloaded = true")
        page.get_by_label("Purpose").select_option("marketing")
        page.get_by_label("Change", exact=True).select_option("revoked")
        page.get_by_label("Note (the proof)").fill("Asked by phone on Monday")
        page.get_by_role("button", name="Record").click()

        rows = page.locator("#consent-history tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Marketing")
        expect(rows.first).to_contain_text("Revoked")
        expect(rows.first).to_contain_text("Staff")
        expect(rows.first).to_contain_text("staff bruno")
        expect(rows.first).to_contain_text("Asked by phone on Monday")
        expect(page.locator("#consent-state")).to_contain_text("revoked (opted out)")
        expect(page.get_by_label("Note (the proof)")).to_have_value("")
        assert page.evaluate("window.notReloaded") is True  # swapped in place by htmx
        page.screenshot(path="/tmp/comptoir-privacy.png", full_page=True)
    finally:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"
    [event] = ConsentEvent.objects.filter(contact=contact)
    assert (event.action, event.source, event.proof) == (
        "revoked",
        "staff",
        {"note": "Asked by phone on Monday"},
    )
    assert consent_state([contact.id])[(contact.id, "marketing")] == "revoked"
