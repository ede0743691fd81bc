"""The staff inbox and the phone simulator in a real headless Chromium (issue 3's demo).

A new number texts the shop from the simulator and appears in the inbox without a reload;
the reply typed in the inbox reaches the simulated phone; a missed call is texted back
once; a colleague's reply shows up live for another staff member. Huey runs in immediate
mode: a reply is dispatched to the simulated network inside the request that sent it.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # ORM calls between browser steps

from huey.contrib.djhuey import HUEY
from playwright.sync_api import Browser, BrowserContext, Page, expect

from comptoir.contacts.services import contact_create
from comptoir.inbox.calls import TEXTBACK
from comptoir.inbox.models import Conversation, SavedReply
from comptoir.messaging.models import Direction, Message
from comptoir.sandbox.carrier import RECEIPTS_FLAG, customer_texts
from comptoir.sandbox.models import CarrierMessage
from comptoir.sandbox.tasks import receipts_task
from comptoir.workspaces.models import Role, Workspace
from comptoir.workspaces.services import staff_add, workspace_create
from tests.test_browser import receipt_delay

pytestmark = pytest.mark.browser

PASSWORD = "a long sandbox passphrase"
NUMBER = "+33612345678"
WAIT_MS = 10_000
# A refused reply is answered 422 on purpose; Chromium logs every 4xx response.
EXPECTED_ERRORS = re.compile(r"status of 422")


def carrier_clock_ticks() -> None:
    """The network sends the receipts of what the shop sent (a customer's texts get none)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    pending = CarrierMessage.objects.filter(
        direction=CarrierMessage.MT, receipt_sent_at__isnull=True
    )
    while pending.exists():
        assert time.monotonic() < deadline, "delivery receipts still pending"
        receipts_task()
        time.sleep(0.02)


@pytest.fixture
def shop(live_server) -> Iterator[Workspace]:  # type: ignore[no-untyped-def]
    workspace = workspace_create(name="Optique Navigateur", region="FR")
    receipt_delay(workspace, 0.01)  # receipts wait for carrier_clock_ticks (see test_browser)
    staff_add(workspace=workspace, username="bruno", password=PASSWORD, role=Role.OWNER)
    staff_add(workspace=workspace, username="carla", password=PASSWORD, role=Role.AGENT)
    yield workspace
    HUEY.delete(RECEIPTS_FLAG)


@pytest.fixture
def sign_in(browser: Browser, live_server) -> Iterator[Callable[[str], Page]]:  # type: ignore[no-untyped-def]
    """Signs a staff member in, in a browser context of their own; JS errors fail the test."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def watch(page: Page) -> None:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: (
                errors.append(msg.text)
                if msg.type == "error" and not EXPECTED_ERRORS.search(msg.text)
                else None
            ),
        )

    def signed_in(username: str) -> Page:
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1400, "height": 900}, locale="en-GB"
        )
        context.set_default_timeout(WAIT_MS)
        context.on("page", watch)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Send a text")).to_be_visible()
        return page

    yield signed_in
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def phone_of(page: Page, number: str) -> Page:
    """The phone simulator for one number, in another tab of the same staff member."""
    phone = page.context.new_page()
    phone.goto(f"/sandbox/phone/?number={number.replace('+', '%2B')}")
    expect(phone.locator(".handset strong").first).to_have_text(number)
    return phone


def test_a_new_number_appears_live_and_the_inbox_reply_reaches_the_phone(shop, sign_in):
    inbox = sign_in("bruno")
    inbox.get_by_role("link", name="Inbox").click()
    expect(inbox.locator("#conv-list")).to_contain_text("No conversations here.")
    inbox.evaluate("window.notReloaded = true")

    phone = phone_of(inbox, NUMBER)
    phone.get_by_label("Reply as this customer").fill("Bonjour, vous faites les lentilles ?")
    phone.get_by_role("button", name="Send from this phone").click()

    # The list polls: the prospect shows up without a reload, with its badge and unread count.
    row = inbox.locator("#conv-list li.row").filter(has_text=NUMBER)
    expect(row).to_have_count(1)
    expect(row.locator(".badge.prospect")).to_have_text("PROSPECT")
    expect(row.locator(".unread-count")).to_have_text("1")
    expect(row).to_contain_text("Bonjour, vous faites les lentilles ?")
    expect(inbox.locator("#inbox-badge")).to_contain_text("1", timeout=WAIT_MS)  # every 5 s
    assert inbox.evaluate("window.notReloaded") is True

    row.get_by_role("link").click()
    expect(inbox.locator("#conv-state h2")).to_contain_text(NUMBER)
    expect(inbox.locator("#thread .msg.in .bubble")).to_have_text(
        "Bonjour, vous faites les lentilles ?"
    )
    reply = inbox.get_by_label("Reply", exact=True)
    reply.fill("Oui, passez quand vous voulez.")
    expect(inbox.locator("#reply-counter")).to_contain_text("30 units · gsm7 · 1 segment")
    inbox.get_by_role("button", name="Send", exact=True).click()
    expect(reply).to_have_value("")
    sent = inbox.locator("#thread .msg.out").filter(has_text="Oui, passez quand vous voulez.")
    expect(sent).to_have_count(1)
    expect(sent.locator(".who")).to_have_text("bruno")
    expect(sent.locator(".status")).to_have_text("Sent")
    carrier_clock_ticks()
    expect(sent.locator(".status")).to_have_text("Delivered")  # the receipt, live
    expect(inbox.locator("#conv-state .conv-status")).to_have_text("Waiting for the customer")

    # The simulated phone received it.
    expect(phone.locator("#thread .bubble.mt")).to_contain_text("Oui, passez quand vous voulez.")

    # Staff type the name in: the prospect becomes a customer.
    inbox.get_by_label("First name").fill("Jeanne")
    inbox.get_by_label("Last name").fill("Roux")
    inbox.get_by_role("button", name="Make a customer").click()
    expect(inbox.locator("#conv-panel h3")).to_have_text("Jeanne Roux")
    expect(inbox.locator("#conv-state h2")).to_have_text("Jeanne Roux")
    expect(inbox.locator("#conv-list li.row.current .name")).to_have_text("Jeanne Roux")
    expect(inbox.locator("#conv-list .badge.prospect")).to_have_count(0)
    inbox.screenshot(path="/tmp/comptoir-inbox.png", full_page=True)
    assert Message.objects.filter(workspace=shop, direction=Direction.OUT).count() == 1


def test_a_missed_call_from_the_simulator_is_texted_back_once(shop, sign_in):
    staff = sign_in("bruno")
    phone = phone_of(staff, NUMBER)
    thread = phone.locator("#thread")
    phone.get_by_role("button", name="No answer").click()
    expect(thread.locator(".bubble.call")).to_have_text(
        re.compile(r"^📞 You called the shop: nobody answered\.")
    )
    # The text-back reaches the phone at once (dispatched inside the webhook's request).
    expect(thread.locator(".bubble.mt")).to_have_count(1)
    expect(thread.locator(".bubble.mt")).to_contain_text("Optique Navigateur")
    phone.get_by_role("button", name="Busy").click()
    expect(thread.locator(".bubble.call")).to_have_count(2)
    phone.wait_for_timeout(2500)  # a poll of the phone later: still one text-back
    expect(thread.locator(".bubble.mt")).to_have_count(1)
    phone.screenshot(path="/tmp/comptoir-phone-call.png", full_page=True)

    staff.goto("/inbox/")
    staff.locator("#conv-list li.row").filter(has_text=NUMBER).get_by_role("link").click()
    calls = staff.locator("#thread .event.call_missed")
    expect(calls).to_have_text(
        [
            re.compile("Missed call · text-back sent"),
            re.compile("Missed call · text-back already sent"),
        ]
    )
    expect(staff.locator("#thread .msg.out .who")).to_have_text("Missed-call text-back")
    assert Message.objects.filter(workspace=shop, kind=TEXTBACK).count() == 1


def test_a_colleagues_reply_appears_live_and_the_typed_text_is_kept(shop, sign_in):
    contact_create(workspace=shop, phone=NUMBER, first_name="Louise")
    customer_texts(channel=shop.channels.get(), sender=NUMBER, text="Mes lunettes sont prêtes ?")
    conversation = Conversation.objects.get(workspace=shop)
    SavedReply.objects.create(
        workspace=shop, title="Prêtes", body="Bonjour {first_name|}, c'est prêt ! {shop}"
    )
    bruno, carla = sign_in("bruno"), sign_in("carla")
    for page in (bruno, carla):
        page.goto(f"/inbox/{conversation.id}/")
        expect(page.locator("#thread .msg.in")).to_have_count(1)

    carla_box = carla.get_by_label("Reply", exact=True)
    carla_box.fill("Je regarde tout de suite")
    bruno.get_by_label("Saved replies").select_option(label="Prêtes")
    bruno_box = bruno.get_by_label("Reply", exact=True)
    expect(bruno_box).to_have_value("Bonjour Louise, c'est prêt ! Optique Navigateur")
    bruno.get_by_role("button", name="Send", exact=True).click()
    expect(bruno_box).to_have_value("")

    # Carla sees Bruno's reply without reloading, and keeps what she was typing.
    theirs = carla.locator("#thread .msg.out").filter(has_text="c'est prêt !")
    expect(theirs.locator(".who")).to_have_text("bruno")
    expect(carla_box).to_have_value("Je regarde tout de suite")
    expect(carla.locator("#conv-state .conv-status")).to_have_text("Waiting for the customer")

    carla.get_by_role("button", name="Assign to me").click()
    expect(carla.get_by_label("Assigned to")).to_have_value(str(carla_user(shop).id))
    expect(bruno.locator("#thread .event.assigned")).to_contain_text("Assigned to carla")
    expect(bruno.locator("#conv-state .conv-assignee")).to_have_text("assigned to carla")

    carla.get_by_label("Internal note (staff only, never sent)").fill("Client pressé")
    carla.get_by_role("button", name="Add note").click()
    expect(bruno.locator("#thread .event.note")).to_contain_text("Client pressé")
    expect(carla_box).to_have_value("Je regarde tout de suite")
    assert Message.objects.filter(workspace=shop, direction=Direction.OUT).count() == 1


def carla_user(shop: Workspace):  # type: ignore[no-untyped-def]
    return shop.memberships.get(user__username="carla").user


def test_a_reply_to_someone_who_opted_out_says_why_and_keeps_the_text(shop, sign_in):
    customer_texts(channel=shop.channels.get(), sender=NUMBER, text="STOP")
    conversation = Conversation.objects.get(workspace=shop)
    page = sign_in("bruno")
    page.goto(f"/inbox/{conversation.id}/")
    box = page.get_by_label("Reply", exact=True)
    box.fill("Vous êtes sûr ?")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#reply-box .error")).to_contain_text("Not sent:")
    expect(page.locator("#reply-box .error")).to_contain_text("opted out")
    expect(box).to_have_value("Vous êtes sûr ?")
    blocked = page.locator("#thread .msg.out.refused")
    expect(blocked.locator(".status")).to_have_text("Blocked")
    expect(blocked.locator(".reason")).to_contain_text("opted out")


NOTIFICATIONS = """
window.shown = [];
window.Notification = class {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) { window.shown.push([title, options.body]); }
};
"""


def test_the_badge_and_a_browser_notification_when_a_customer_writes(shop, sign_in):
    page = sign_in("bruno")
    page.add_init_script(NOTIFICATIONS)
    page.goto("/inbox/")
    badge = page.locator("#inbox-badge [data-count]")
    expect(badge).to_have_attribute("data-count", "0")
    customer_texts(channel=shop.channels.get(), sender=NUMBER, text="Bonjour ?")
    expect(badge).to_have_attribute("data-count", "1", timeout=WAIT_MS)  # polled every 5 s
    expect(page).to_have_title(re.compile(r"^\(1\) Inbox · Optique Navigateur$"))
    page.wait_for_function("window.shown.length === 1")
    assert page.evaluate("window.shown") == [
        ["Comptoir", "1 conversation has new messages for you"]
    ]
    # Reading it clears the badge.
    page.locator("#conv-list li.row").get_by_role("link").click()
    expect(badge).to_have_attribute("data-count", "0")
    assert page.evaluate("window.shown.length") == 0  # a new page; none since

    # Without permission yet, the button asks for it.
    other = sign_in("carla")
    expect(other.locator("#notify-enable")).to_be_visible()
