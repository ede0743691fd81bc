"""New outgoing messages written as rows, then read back as Message instances.

On the API's send path, building each Message by keyword (every field looked up by name,
every relation through its descriptor) and a MessageTransition per message only to write
it cost more than the INSERTs. Here each message is one tuple of every column, inserted
with its first transition's tuple, and becomes a Message the way a read makes one
(`Message.from_db`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import ForeignKey

from comptoir.channels.models import Channel
from comptoir.contacts.models import Contact
from comptoir.core.bulk import insert_rows
from comptoir.core.ids import uuid7s
from comptoir.messaging.models import TRANSITION_COLUMNS, Message, MessageTransition
from comptoir.workspaces.models import Workspace

# Every column of a message, in the model's order: the order Message.from_db takes.
MESSAGE_COLUMNS = tuple(f.attname for f in Message._meta.concrete_fields)


def _relation(name: str) -> ForeignKey[Any, Any]:
    field = Message._meta.get_field(name)
    assert isinstance(field, ForeignKey)
    return field


_WORKSPACE, _CHANNEL, _CONTACT = (_relation(name) for name in ("workspace", "channel", "contact"))


def messages_insert(
    workspace: Workspace,
    messages: Sequence[tuple[dict[str, Any], Channel, Contact]],
    now: dt.datetime,
) -> list[Message]:
    """INSERT new messages of the workspace and the first transition of each (to its
    `status` at `now`, with its error code and reason); in the caller's transaction.

    Each message is given as its columns that differ from the model's defaults (by
    attribute name, not its key, workspace, channel, contact nor timestamps), its channel
    and its contact. Returns the messages as a read would give them back, their workspace,
    channel and contact at hand (no query to reach them).
    """
    # One value per column for the whole batch (a message has no mutable default).
    defaults = {f.attname: f.get_default() for f in Message._meta.concrete_fields}
    stamp = dt.datetime.now(dt.UTC)  # created_at and updated_at, as save() sets them
    rows, transitions = [], []
    for (columns, channel, contact), message_id in zip(
        messages, uuid7s(len(messages)), strict=True
    ):
        values = defaults | columns
        values.update(
            id=message_id,
            created_at=stamp,
            updated_at=stamp,
            workspace_id=workspace.id,
            channel_id=channel.id,
            contact_id=contact.id,
        )
        if len(values) != len(MESSAGE_COLUMNS):
            raise TypeError(f"not columns of a message: {sorted(values.keys() - defaults.keys())}")
        rows.append(tuple(values.values()))  # in the order of `defaults`: MESSAGE_COLUMNS
        transitions.append(
            (message_id, values["status"], now, values["error_code"], values["error_reason"])
        )
    insert_rows(Message, MESSAGE_COLUMNS, rows)
    insert_rows(MessageTransition, TRANSITION_COLUMNS, transitions)
    created = []
    for row, (_, channel, contact) in zip(rows, messages, strict=True):
        message = Message.from_db(connection.alias, MESSAGE_COLUMNS, row)
        _WORKSPACE.set_cached_value(message, workspace)
        _CHANNEL.set_cached_value(message, channel)
        _CONTACT.set_cached_value(message, contact)
        created.append(message)
    return created
