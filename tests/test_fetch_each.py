"""Rows looked up by a list of values, each on its own (`core.fetch.select_each`).

The receipts' UPDATE and the inbound texts' duplicate check find messages by provider id
this way. On PostgreSQL the look-up must not depend on the planner knowing how many
messages the channel has: a channel too new for its statistics had every receipt batch
read the channel's whole history.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection

from comptoir.channels.models import Channel
from comptoir.core.fetch import param, rows_each, select_each
from comptoir.messaging.models import Direction, Message
from comptoir.messaging.outbox import SendRequest, messages_send
from comptoir.workspaces.models import Workspace


def _sent_with_ids(workspace: Workspace, channel: Channel, count: int, prefix: str) -> None:
    """`count` outgoing messages on the channel, each with provider id prefix + its number."""
    phones = [f"+3361{i:07d}" for i in range(count)]
    messages_send(
        workspace=workspace, requests=[SendRequest(p, "Bonjour", "transactional") for p in phones]
    )
    messages = list(Message.objects.filter(channel=channel).order_by("address"))
    for number, message in enumerate(messages):
        message.provider_id = f"{prefix}{number}"
    Message.objects.bulk_update(messages, ["provider_id"], batch_size=500)


def _by_ids(channel: Channel, direction: str, ids: list[str]) -> set[str]:
    where = "channel_id = %s AND direction = %s"
    params = [param(Message, "channel_id", channel.id), direction]
    return {pid for (pid,) in rows_each(Message, "provider_id", where, params, "provider_id", ids)}


@pytest.mark.django_db(transaction=True)
def test_each_value_finds_its_rows_under_the_condition_and_nothing_else(
    workspace: Workspace, other_workspace: Workspace, channel: Channel
) -> None:
    _sent_with_ids(workspace, channel, 5, "ours-")
    other = Channel.objects.get(workspace=other_workspace, provider="sandbox")
    _sent_with_ids(other_workspace, other, 5, "ours-")  # the same ids on another channel

    wanted = ["ours-1", "ours-3", "ours-3", "missing"]  # a repeat, and one nobody has
    assert _by_ids(channel, Direction.OUT, wanted) == {"ours-1", "ours-3"}
    assert _by_ids(channel, Direction.IN, wanted) == set()  # the condition applies
    rows = rows_each(
        Message, "id", "channel_id = %s", [param(Message, "channel_id", other.id)],
        "provider_id", wanted,
    )  # fmt: skip
    assert len(rows) == 2  # each row once, though its id was asked for twice


def _index_conditions(plan: Any) -> list[str]:
    found = []
    if isinstance(plan, dict):
        if "Index Cond" in plan:
            found.append(plan["Index Cond"])
        for value in plan.values():
            found += _index_conditions(value)
    elif isinstance(plan, list):
        for item in plan:
            found += _index_conditions(item)
    return found


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_each_id_is_an_index_condition_whatever_the_statistics_say(
    workspace: Workspace, channel: Channel
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's planner")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE messaging_message")  # statistics from before the channel sent
    _sent_with_ids(workspace, channel, 2000, "smsc-")
    where = "channel_id = %s AND direction = %s"
    params = [param(Message, "channel_id", channel.id), Direction.OUT]
    ids = [f"smsc-{n}" for n in range(0, 2000, 10)]
    sql, all_params = select_each(Message, "id", where, params, "provider_id", ids)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", all_params)
        (plan,) = cursor.fetchone()
    conditions = _index_conditions(plan if isinstance(plan, list) else json.loads(plan))
    # Found by the index on (channel, provider id), both columns: not every message of the
    # channel read through it and filtered.
    assert any("provider_id" in condition for condition in conditions), conditions
    assert len(rows_each(Message, "id", where, params, "provider_id", ids)) == 200
