"""The staff pages and the sandbox phone simulator, driven in a real headless Chromium.

Issue 2: the demo sends a message that you can watch go queued → sent → delivered, and
see on the phone simulator page. Huey runs in immediate mode here, so a send is
dispatched and accepted by the simulated carrier inside the request that queued it; the
carrier's delivery receipts are sent when the test says so (`carrier_clock_ticks`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest

# Playwright's sync API keeps an event loop running in this thread; the ORM calls the
# tests make between browser steps are plain synchronous calls (pytest-django + Playwright).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from huey.contrib.djhuey import HUEY
from playwright.sync_api import Browser, Page, expect

from comptoir.channels.models import Channel
from comptoir.messaging.models import Direction, Message
from comptoir.messaging.outbox import message_send
from comptoir.sandbox.carrier import RECEIPTS_FLAG
from comptoir.sandbox.models import CarrierMessage
from comptoir.sandbox.tasks import receipts_task
from comptoir.workspaces.models import Role, Workspace
from comptoir.workspaces.services import staff_add, workspace_create

pytestmark = pytest.mark.browser

USERNAME, PASSWORD = "bruno", "a long sandbox passphrase"
NUMBER = "+33612345678"
WAIT_MS = 10_000


def receipt_delay(workspace: Workspace, seconds: float) -> None:
    channel = Channel.objects.get(workspace=workspace, provider="sandbox")
    channel.config["receipt_delay"] = seconds
    channel.save()


@pytest.fixture
def shop(live_server) -> Iterator[Workspace]:  # type: ignore[no-untyped-def]
    workspace = workspace_create(name="Optique Navigateur", region="FR")
    # Not 0: a receipt run inline at submit time comes before the dispatcher has recorded
    # the provider id, and is lost (see test_receipt_at_delay_zero_is_not_lost). Huey's
    # immediate mode never runs the delayed receipt task: `carrier_clock_ticks` does.
    receipt_delay(workspace, 0.01)
    staff_add(workspace=workspace, username=USERNAME, password=PASSWORD, role=Role.OWNER)
    yield workspace
    # A receipt run left pending in immediate mode would hold the flag for 30 s and
    # silence the receipts of whatever test runs next.
    HUEY.delete(RECEIPTS_FLAG)


def carrier_clock_ticks() -> None:
    """The simulated network sends the receipts that are due (what the delayed task does)."""
    pending = CarrierMessage.objects.filter(
        direction=CarrierMessage.MT, receipt_sent_at__isnull=True
    )  # a customer's own texts get no receipt
    while pending.exists():
        receipts_task()


@pytest.fixture
def page(browser: Browser, live_server) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 800}, locale="en-GB"
    )
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield page
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def sign_in(page: Page, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def signed_in(page: Page) -> Page:
    sign_in(page)
    expect(page.get_by_role("heading", name="Send a text")).to_be_visible()
    return page


def test_sign_in(shop: Workspace, page: Page) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))

    sign_in(page, password="not the password")
    expect(page.locator("p.error")).to_have_text("Wrong username or password.")
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_label("Username")).to_have_value(USERNAME)

    sign_in(page)
    expect(page).to_have_url(re.compile(r"^http://[^/]+/$"))
    expect(page.get_by_role("heading", name="Send a text")).to_be_visible()
    expect(page.locator("header .ws")).to_have_text("Optique Navigateur")
    expect(page).to_have_title("Comptoir · Optique Navigateur")


def test_live_counter(shop: Workspace, page: Page) -> None:
    signed_in(page)
    counter = page.locator("#counter")
    body = page.get_by_label("Message")

    body.fill("Bonjour")
    expect(counter).to_contain_text("7 units · gsm7 · 1 segment")
    expect(counter).to_contain_text("153 left in this segment")

    body.fill("Vos lunettes sont prêtes")
    expect(counter).to_contain_text("24 units · ucs2 · 1 segment")

    body.fill("a" * 161)
    expect(counter).to_contain_text("161 units · gsm7 · 2 segments")
    expect(counter.locator("[data-segments]")).to_have_attribute("data-segments", "2")

    body.fill("")
    expect(counter).to_contain_text("0 units · gsm7 · 0 segments")


def test_send_and_watch_it_delivered(shop: Workspace, page: Page) -> None:
    signed_in(page)
    page.get_by_label("To (phone number)").fill("06 12 34 56 78")
    page.get_by_label("Message").fill("Vos lunettes sont prêtes.")
    page.get_by_role("button", name="Send", exact=True).click()

    expect(page.locator(".flash li.success")).to_have_text(f"Queued for {NUMBER}.")
    row = page.locator("#recent tbody tr").filter(has_text="Vos lunettes sont prêtes.")
    expect(row).to_have_count(1)
    # Dispatched inline: accepted by the network, waiting for its receipt.
    expect(row.locator(".status")).to_have_text("Sent")
    carrier_clock_ticks()
    # The list polls every 2 s: the receipt shows without reloading the page.
    expect(row.locator(".status")).to_have_text("Delivered", timeout=WAIT_MS)
    expect(row.locator("td").nth(1)).to_have_text("→")
    expect(row.locator("td").nth(2)).to_have_text(NUMBER)

    message = Message.objects.get(workspace=shop)
    assert (message.address, message.status) == (NUMBER, "delivered")

    row.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/messages/{message.id}/$"))
    expect(page.get_by_role("heading", name=f"Sent to {NUMBER}", exact=True)).to_be_visible()
    expect(page.locator("ol.history li strong")).to_have_text(
        ["Queued", "Sending", "Sent", "Delivered"]
    )
    page.screenshot(path="/tmp/comptoir-message.png", full_page=True)


def test_phone_simulator_receives_and_replies(shop: Workspace, page: Page) -> None:
    message_send(workspace=shop, to="06 12 34 56 78", body="Votre commande est arrivée.")
    message_send(workspace=shop, to="06 98 76 54 32", body="Pour un autre client.")
    carrier_clock_ticks()
    assert set(Message.objects.values_list("status", flat=True)) == {"delivered"}

    signed_in(page)
    page.get_by_role("link", name="Phone simulator").click()
    expect(page.get_by_text("Pick a number")).to_be_visible()
    page.get_by_label("Any number").fill("06 12")
    page.get_by_label("Any number").press("Enter")
    expect(page.locator(".numbers .error")).to_have_text("“06 12” is not a valid phone number.")
    page.goto("/sandbox/phone/?number=%2B33612345678")

    handset = page.locator(".handset")
    expect(handset.locator("strong").first).to_have_text(NUMBER)
    thread = handset.locator("#thread")
    expect(thread.locator(".bubble.mt")).to_have_count(1)
    expect(thread.locator(".bubble.mt")).to_contain_text("Votre commande est arrivée.")
    expect(thread).not_to_contain_text("Pour un autre client.")
    expect(page.locator(".numbers a.current")).to_have_text(NUMBER)  # no name: shown once

    reply = handset.get_by_label("Reply as this customer")
    reply.fill("Merci !")
    with page.expect_response(lambda r: r.url.endswith("/sandbox/phone/reply")) as answer:
        handset.get_by_role("button", name="Send from this phone").click()
    assert answer.value.status == 200
    assert "Merci !" in answer.value.text()  # the answer is this handset's thread
    # The htmx swap (not the 2 s poll) puts the reply in the thread, and empties the field.
    expect(thread.locator(".bubble.mo")).to_have_text(re.compile(r"^Merci !"), timeout=1500)
    expect(thread.locator(".bubble")).to_have_count(2)
    expect(reply).to_have_value("")
    page.screenshot(path="/tmp/comptoir-phone.png", full_page=True)

    inbound = Message.objects.get(workspace=shop, direction=Direction.IN)
    assert (inbound.address, inbound.body, inbound.status) == (NUMBER, "Merci !", "received")

    page.get_by_role("link", name="Messages").click()
    row = page.locator("#recent tbody tr").first
    expect(row.locator("td").nth(1)).to_have_text("←")
    expect(row.locator("td").nth(2)).to_have_text(NUMBER)
    expect(row.locator("td").nth(3)).to_have_text("Merci !")
    expect(row.locator(".status")).to_have_text("Received")
    page.get_by_label("Message").fill("Avec plaisir, à bientôt !")
    expect(page.locator("#counter")).to_contain_text("ucs2")
    page.screenshot(path="/tmp/comptoir-home.png", full_page=True)


def test_invalid_number_is_refused(shop: Workspace, page: Page) -> None:
    signed_in(page)
    page.get_by_label("To (phone number)").fill("06 12")
    page.get_by_label("Message").fill("Bonjour, vos lentilles sont prêtes.")
    with page.expect_response(lambda r: r.url.endswith("/messages/send")) as answer:
        page.get_by_role("button", name="Send", exact=True).click()
    assert answer.value.status == 200

    flash = page.locator(".flash li.error")
    expect(flash).to_have_text(
        re.compile(r"^To \(phone number\): '06 12' is not a valid number for region FR")
    )
    # What was typed is still there to correct.
    expect(page.get_by_label("To (phone number)")).to_have_value("06 12")
    expect(page.get_by_label("Message")).to_have_value("Bonjour, vos lentilles sont prêtes.")
    expect(page.locator("#counter")).to_contain_text("ucs2 · 1 segment")
    expect(page.locator(".flash li.success")).to_have_count(0)
    expect(page.locator("#recent")).to_contain_text("No messages yet.")
    assert not Message.objects.exists()


def test_receipt_at_delay_zero_is_not_lost(shop: Workspace, page: Page) -> None:
    receipt_delay(shop, 0)
    signed_in(page)
    page.get_by_label("To (phone number)").fill("06 12 34 56 78")
    page.get_by_label("Message").fill("Bonjour")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator(".flash li.success")).to_be_visible()
    # Dispatch and the (delay 0) receipt both ran inside the send request.
    assert Message.objects.get(workspace=shop).status == "delivered"


def test_stop_from_the_phone_blocks_the_next_marketing_send(shop: Workspace, page: Page) -> None:
    from tests.conftest import grant_marketing

    grant_marketing(shop, [NUMBER])
    signed_in(page)
    page.goto("/sandbox/phone/?number=%2B33612345678")
    handset = page.locator(".handset")
    handset.get_by_label("Reply as this customer").fill("Stop.")
    handset.get_by_role("button", name="Send from this phone").click()
    # The confirmation is queued at once, and reaches the handset once sent.
    expect(handset.locator("#thread .bubble.mo")).to_have_text(re.compile(r"^Stop\."))
    assert Message.objects.filter(workspace=shop, kind="opt_out_confirmation").count() == 1

    page.get_by_role("link", name="Messages").click()
    page.get_by_label("To (phone number)").fill("06 12 34 56 78")
    page.get_by_label("Message").fill("-20% sur les montures ce week-end")
    page.get_by_label("Purpose").select_option("marketing")
    expect(page.locator("#counter")).to_contain_text("gsm7")  # counts the STOP mention too
    page.get_by_role("button", name="Send", exact=True).click()
    row = page.locator("#recent tbody tr").first
    expect(row.locator(".status")).to_have_text("Blocked")
    expect(row.locator(".reason")).to_contain_text("opted out (STOP)")
    blocked = Message.objects.get(workspace=shop, purpose="marketing")
    assert blocked.error_code == "opted_out"
