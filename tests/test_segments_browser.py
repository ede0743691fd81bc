"""The segment editor in a real headless Chromium: buttons add conditions, the count
follows the typing (htmx, debounced), an error names the condition, "Save" keeps it."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # ORM calls between browser steps

from playwright.sync_api import Browser, expect

from comptoir.segments.models import Segment
from comptoir.workspaces.models import Role
from comptoir.workspaces.services import staff_add, workspace_create
from tests.test_segments_web import GOLD_NOT_SEEN, customer


@pytest.mark.browser
def test_in_the_browser_an_owner_builds_the_demo_segment_and_sees_the_count_live(
    browser: Browser, live_server: Any
) -> None:
    """The buttons add conditions, the count follows while editing, "Save" keeps it."""
    shop = workspace_create(name="Bijouterie", region="FR")
    staff_add(workspace=shop, username="lea", password="a long passphrase", role=Role.OWNER)
    long_ago = dt.date.today() - dt.timedelta(days=800)
    for n in range(3):
        customer(shop, f"+3360000020{n}", gold_on=long_ago if n < 2 else dt.date.today())
    context = browser.new_context(base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(10_000)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto("/login/")
        page.get_by_label("Username").fill("lea")
        page.get_by_label("Password").fill("a long passphrase")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Segments").click()
        page.get_by_role("link", name="New segment").click()
        expect(page.locator("#segment-count-value")).to_have_text("3")

        page.get_by_role("button", name="+ Bought").click()
        expect(page.locator("#segment-count-value")).to_have_text("3")
        page.get_by_role("button", name="+ Not seen for … months").click()
        expect(page.locator("#segment-count-value")).to_have_text("2")
        expect(page.locator("#segment-sample tbody tr")).to_have_count(2)

        definition = page.locator("#segment-definition")
        definition.fill(definition.input_value().replace('"months": 12', '"months": 0'))
        expect(page.locator("#segment-error")).to_contain_text("Condition 2 (not_bought_since)")

        definition.fill(definition.input_value().replace('"months": 0', '"months": 12'))
        expect(page.locator("#segment-count-value")).to_have_text("2")
        page.get_by_label("Name").fill("Gold, not seen for a year")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("heading", name="Gold, not seen for a year")).to_be_visible()
        assert errors == []
    finally:
        context.close()
    saved = Segment.objects.get(workspace=shop)
    assert saved.definition == GOLD_NOT_SEEN
