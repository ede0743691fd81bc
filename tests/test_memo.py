"""A workspace's memo: what the inbound path keeps between texts, and when it reads again.

The channel object is held across texts as the webhook view holds it (its workspace
object, and so its memo, lives on); every change below goes through the service a shop
uses, and the very next text sees it.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from comptoir.compliance.keywords import workspace_keyword_add
from comptoir.inbox.autoanswers import auto_answer_save
from comptoir.inbox.autoreply import KIND
from comptoir.inbox.models import AutoAnswer, Conversation
from comptoir.inbox.services import inbox_settings
from comptoir.inbox.settings_services import auto_answer_enable, team_create, team_member_add
from comptoir.messaging.models import Message
from comptoir.sandbox.carrier import customer_texts
from comptoir.webhooks.models import WebhookDelivery
from comptoir.webhooks.services import webhook_endpoint_create
from comptoir.workspaces.memo import memo_forget, workspace_memo

CUSTOMER = "+33611111111"


@pytest.fixture
def shop(workspace, channel):
    settings = inbox_settings(workspace)
    settings.shop_address = "12 rue des Lilas, Lyon"
    settings.save()
    customer_texts(channel=channel, sender="+33699999990", text="Bonjour")  # memos filled
    return channel.workspace


def answers(workspace, phone=CUSTOMER):
    rows = Message.objects.filter(workspace=workspace, kind=KIND, contact__phone=phone)
    return list(rows.order_by("created_at", "id").values_list("body", flat=True))


def test_a_memo_is_read_once_then_again_after_a_change_anywhere_in_the_process(workspace):
    reads = []

    def load():
        reads.append(1)
        return len(reads)

    assert workspace_memo(workspace, "probe", load) == 1
    assert workspace_memo(workspace, "probe", load) == 1
    memo_forget()
    assert workspace_memo(workspace, "probe", load) == 2


def test_a_second_text_costs_no_query_for_rules_keywords_teams_or_webhooks(shop, channel):
    with CaptureQueriesContext(connection) as queries:
        customer_texts(channel=channel, sender="+33699999991", text="Merci")
    tables = " ".join(q["sql"] for q in queries.captured_queries)
    for table in ("inbox_autoanswer", "compliance_workspacekeyword", "inbox_teammember",
                  "webhooks_webhookendpoint", "inbox_inboxsettings"):  # fmt: skip
        assert table not in tables


def test_a_rule_switched_off_is_seen_by_the_next_text(shop, channel):
    customer_texts(channel=channel, sender=CUSTOMER, text="Vos horaires ?")
    assert len(answers(shop)) == 1
    rule = AutoAnswer.objects.for_workspace(shop).get(name="Horaires")
    auto_answer_enable(rule=rule, enabled=False)
    customer_texts(channel=channel, sender="+33622222222", text="Vos horaires ?")
    assert answers(shop, "+33622222222") == []


def test_a_new_rule_answers_the_next_text(shop, channel):
    auto_answer_save(
        workspace=shop, name="Parking", keywords="parking", answer="Parking gratuit derrière."
    )
    customer_texts(channel=channel, sender=CUSTOMER, text="Il y a un parking ?")
    assert answers(shop) == ["Parking gratuit derrière."]


def test_a_keyword_added_by_the_shop_works_at_the_next_text(shop, channel):
    workspace_keyword_add(workspace=shop, word="DESABO", kind="opt_out")
    customer_texts(channel=channel, sender=CUSTOMER, text="desabo")
    message = Message.objects.get(workspace=shop, address=CUSTOMER, direction="in")
    assert message.kind == "keyword_opt_out"


def test_an_employee_added_to_a_team_replies_in_the_team_thread(shop, channel):
    team = team_create(workspace=shop, name="Boutique")
    team_member_add(team=team, phone="+33633333333", first_name="Inès")
    customer_texts(channel=channel, sender="+33633333333", text="J'arrive à 14h")
    assert Conversation.objects.get(workspace=shop, team=team).unread == 1


def test_an_endpoint_subscribed_now_receives_the_next_text(shop, channel):
    webhook_endpoint_create(
        workspace=shop, url="https://crm.example.com/hook", events=["message.received"]
    )
    customer_texts(channel=channel, sender=CUSTOMER, text="Bonjour")
    assert WebhookDelivery.objects.filter(workspace=shop, event_type="message.received").count()


def test_the_vip_tag_renamed_in_settings_is_the_one_that_counts(shop, channel):
    from comptoir.contacts.services import contact_create, tags_get_or_create

    contact = contact_create(workspace=shop, phone=CUSTOMER, first_name="Léa")
    contact.tags.add(*tags_get_or_create(workspace=shop, names=["Fidèle"]))
    settings = inbox_settings(shop)
    settings.vip_tag = "Fidèle"
    settings.save()
    customer_texts(channel=channel, sender=CUSTOMER, text="Bonjour")
    assert Conversation.objects.get(workspace=shop, contact=contact).vip
