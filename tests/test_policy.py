"""Sending hours, holidays, time zones, frequency caps and the opt-out mention."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo

import pytest
import time_machine

from comptoir.compliance.countries import POLICIES, marketing_text, next_opening
from comptoir.dispatch.dispatcher import dispatch_channel
from comptoir.messaging.models import Message, Status
from comptoir.messaging.outbox import message_send
from comptoir.workspaces.services import workspace_create
from tests.conftest import grant_marketing

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
FR_WINDOW = POLICIES["FR"].marketing_window


def paris(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=PARIS)


@pytest.mark.parametrize(
    ("at", "expected", "code"),
    [
        ("2026-11-23 08:00", None, None),  # Monday, opening minute
        ("2026-11-23 20:59", None, None),
        ("2026-11-23 21:29", None, None),
        ("2026-11-23 21:30", "2026-11-24 08:00", "quiet_hours"),
        ("2026-11-23 21:31", "2026-11-24 08:00", "quiet_hours"),
        ("2026-11-24 07:59", "2026-11-24 08:00", "quiet_hours"),
        ("2026-11-28 15:00", None, None),  # Saturday
        ("2026-11-28 22:00", "2026-11-30 08:00", "quiet_hours"),  # Saturday night
        ("2026-11-29 10:00", "2026-11-30 08:00", "quiet_hours"),  # Sunday
        ("2026-07-14 10:00", "2026-07-15 08:00", "holiday"),  # Fête nationale
        ("2026-12-25 09:00", "2026-12-26 08:00", "holiday"),  # Christmas, a Friday
        ("2026-03-28 22:00", "2026-03-30 08:00", "quiet_hours"),  # across the spring DST change
        ("2026-10-24 21:45", "2026-10-26 08:00", "quiet_hours"),  # across the autumn one
    ],
)
def test_french_marketing_window(at, expected, code):
    result = next_opening(FR_WINDOW, "FR", paris(at), PARIS)
    if expected is None:
        assert result is None
    else:
        opening, reason = result
        assert opening.astimezone(PARIS) == paris(expected)
        assert opening.astimezone(PARIS).hour == 8  # local time, whatever the UTC offset
        assert reason == code


def test_dst_openings_are_eight_local_not_eight_utc():
    spring, _ = next_opening(FR_WINDOW, "FR", paris("2026-03-28 22:00"), PARIS)
    autumn, _ = next_opening(FR_WINDOW, "FR", paris("2026-10-24 21:45"), PARIS)
    assert spring.astimezone(dt.UTC).hour == 6  # CEST, UTC+2
    assert autumn.astimezone(dt.UTC).hour == 7  # CET, UTC+1


def send_marketing(workspace, to="+33612345678", body="-20% sur les solaires", **kwargs):
    grant_marketing(workspace, [to])
    return message_send(workspace=workspace, to=to, body=body, purpose="marketing", **kwargs)


def test_marketing_at_night_is_deferred_to_the_morning_not_dropped(workspace, channel):
    with time_machine.travel(paris("2026-11-23 21:31"), tick=False):
        message = send_marketing(workspace).message
        assert message.status == Status.QUEUED
        assert message.error_code == "quiet_hours"
        assert message.send_at == paris("2026-11-24 08:00")
        assert "Deferred" in message.error_reason
        assert dispatch_channel(channel.id).sent == 0
    with time_machine.travel(paris("2026-11-24 08:00:05"), tick=False):
        assert dispatch_channel(channel.id).sent == 1


def test_transactional_is_never_held(workspace):
    with time_machine.travel(paris("2026-11-29 23:30"), tick=False):  # Sunday night
        message = message_send(
            workspace=workspace, to="0612345678", body="Code 4821", purpose="transactional"
        ).message
    assert message.status == Status.QUEUED
    assert message.error_code == ""


def test_a_message_that_waited_past_closing_is_deferred_at_send_time(workspace, channel):
    with time_machine.travel(paris("2026-11-23 21:29"), tick=False):
        message = send_marketing(workspace).message
        assert message.error_code == ""
    with time_machine.travel(paris("2026-11-23 21:35"), tick=False):
        dispatch_channel(channel.id)
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Status.QUEUED, "quiet_hours")
    assert message.send_at == paris("2026-11-24 08:00")
    assert message.attempts == 0


def test_a_us_number_is_judged_in_its_own_time_zone(db):
    shop = workspace_create(name="Sunglass Hut", region="US")  # New York
    la = zoneinfo.ZoneInfo("America/Los_Angeles")
    # 10:00 in New York, 07:00 in Los Angeles.
    with time_machine.travel(
        dt.datetime(2026, 11, 24, 10, 0, tzinfo=zoneinfo.ZoneInfo("America/New_York")), tick=False
    ):
        west = send_marketing(shop, to="+14155550123").message
        east = send_marketing(shop, to="+12125550123").message
    assert east.error_code == ""
    assert west.error_code == "quiet_hours"
    assert west.send_at == dt.datetime(2026, 11, 24, 8, 0, tzinfo=la)


def test_the_contacts_own_time_zone_comes_first(workspace):
    from comptoir.contacts.models import Contact

    grant_marketing(workspace, ["+33612345678"])
    Contact.objects.filter(phone="+33612345678").update(timezone="America/Martinique")
    # 21:00 in Paris is 16:00 in Martinique: the window is open there.
    with time_machine.travel(paris("2026-11-23 22:00"), tick=False):
        message = send_marketing(workspace).message
    assert message.error_code == ""


def test_an_unknown_country_uses_the_workspace_policy_with_a_warning(workspace, caplog):
    caplog.set_level(logging.WARNING)
    with time_machine.travel(paris("2026-11-29 10:00"), tick=False):  # Sunday in Paris
        message = send_marketing(workspace, to="+8613800138000").message  # China
    assert message.error_code == "quiet_hours"
    assert "no sending policy for CN" in caplog.text


def test_a_workspace_can_override_its_window(workspace):
    workspace.policy = {"marketing_window": {"days": [0, 1, 2, 3, 4, 5, 6], "end": "23:00"}}
    workspace.save()
    with time_machine.travel(paris("2026-11-29 22:30"), tick=False):  # Sunday 22:30
        message = send_marketing(workspace).message
    assert message.error_code == ""


def test_frequency_cap_counts_across_everything_that_sends(workspace):
    with time_machine.travel(paris("2026-11-23 10:00"), tick=False):
        first = send_marketing(workspace, body="Soldes d'hiver").message
        second = send_marketing(workspace, body="Nouvelle collection").message
    assert first.error_code == ""
    assert (second.status, second.error_code) == (Status.BLOCKED, "frequency_cap")
    with time_machine.travel(paris("2026-12-24 10:00"), tick=False):  # 31 days later
        third = send_marketing(workspace, body="Joyeux Noël").message
    assert third.error_code == ""


def test_refused_messages_do_not_count_towards_the_cap(workspace):
    from comptoir.contacts.models import Contact

    with time_machine.travel(paris("2026-11-23 10:00"), tick=False):
        Contact.objects.bulk_create(
            [Contact(workspace=workspace, phone="+33612345678", number_type="mobile")]
        )
        refused = message_send(
            workspace=workspace, to="+33612345678", body="Promo", purpose="marketing"
        ).message
        assert refused.error_code == "no_consent"
        allowed = send_marketing(workspace).message
    assert allowed.error_code == ""


def test_two_in_one_batch_only_the_first_goes(workspace):
    from comptoir.messaging.outbox import SendRequest, messages_send

    grant_marketing(workspace, ["+33612345678"])
    with time_machine.travel(paris("2026-11-23 10:00"), tick=False):
        results = messages_send(
            workspace=workspace,
            requests=[SendRequest("+33612345678", t, "marketing") for t in ("Un", "Deux")],
        )
    assert [r.message.error_code for r in results] == ["", "frequency_cap"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("-20% ce week-end", "-20% ce week-end STOP SMS : STOP"),
        ("-20% ce week-end. STOP au 36180", "-20% ce week-end. STOP au 36180"),
        ("  Soldes  ", "Soldes STOP SMS : STOP"),
    ],
)
def test_the_opt_out_mention_is_added_when_missing(body, expected):
    assert marketing_text(body, POLICIES["FR"]) == expected


def test_the_senders_name_comes_first_and_the_counter_counts_everything(workspace, api):
    workspace.policy = {"sender_name": "Optique Lumière", "opt_out_mention": "STOP au 36180"}
    workspace.save()
    grant_marketing(workspace, ["+33612345678"])
    with time_machine.travel(paris("2026-11-23 10:00"), tick=False):
        response = api.post(
            "/api/v1/messages", {"to": "0612345678", "body": "x" * 130, "purpose": "marketing"}
        )
    data = response.json()
    assert data["body"] == "Optique Lumière : " + "x" * 130 + " STOP au 36180"
    assert data["segments"] == 2  # 162 characters with the name and mention: two parts
    service = Message.objects.exclude(purpose="marketing")
    assert not service.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"marketing_window": {"start": "25:00"}}, "policy.marketing_window.start"),
        ({"marketing_window": {"days": [7]}}, "policy.marketing_window.days"),
        ({"marketing_window": {"days": []}}, "policy.marketing_window.days"),
        ({"cap_count": 0}, "policy.cap_count"),
        ({"quiet": True}, "policy.quiet"),
    ],
)
def test_bad_policy_overrides_are_refused_with_the_field(overrides, field):
    from comptoir.compliance.countries import policy_overrides_validate
    from comptoir.core.errors import ValidationError

    with pytest.raises(ValidationError) as caught:
        policy_overrides_validate(overrides)
    assert caught.value.field == field


def test_the_admin_form_refuses_a_time_zone_that_does_not_exist(workspace):
    from django.core.exceptions import ValidationError

    workspace.timezone = "Europe/Lutece"
    with pytest.raises(ValidationError, match="timezone"):
        workspace.full_clean()
