"""Launching a campaign to a large audience: the whole fan-out, against the physical floor.

The fan-out measured is the real one (`campaign_fanout`): the audience frozen by one
INSERT … SELECT from a segment-like filter (a tag), compliance for every recipient
(consent, opt-out, suppression, cap, window), personalisation, encoding, a short link
per recipient, and the messages, transitions, links and recipients written. The floor
is a raw bulk write of the same number of message rows, nothing else: a COPY on
PostgreSQL, a multi-row insert on SQLite (what `core.bulk.insert_rows` does).
"""

from __future__ import annotations

import random
import resource
import time
import uuid
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from comptoir.campaigns.fanout import MESSAGE_COLUMNS, campaign_fanout
from comptoir.campaigns.models import Campaign, CampaignRecipient, LinkClick, ShortLink
from comptoir.campaigns.services import campaign_launch, campaign_save
from comptoir.compliance.models import ConsentEvent
from comptoir.contacts.models import Contact, Tag
from comptoir.contacts.services import CONTACT_COLUMNS, tags_get_or_create
from comptoir.core.bulk import insert_rows
from comptoir.core.ids import uuid7
from comptoir.messaging.models import Message, MessageTransition
from comptoir.messaging.outbox import default_channel
from comptoir.workspaces.models import Workspace
from comptoir.workspaces.services import workspace_create

BODY = (
    "Bonjour {first_name|à vous}, -20 % sur les montures ce samedi : https://optique.example/soldes"
)
NAMES = ["Léa", "Marie", "Jean-Baptiste", "Chloé", "Lucas", "Inès", "Hugo", "", "Zoë", "Nathan"]
INSERT_BATCH = 5000


def _contact(
    cid: uuid.UUID, now: Any, workspace_id: Any, phone: str, first_name: str
) -> tuple[Any, ...]:
    """A contact row in CONTACT_COLUMNS order: a mobile with a first name."""
    return (
        cid,
        now,
        now,
        workspace_id,
        phone,
        "mobile",
        first_name,
        "",
        "",
        "",
        "",
        None,
        "sms",
        {},
        False,
    )


def _audience(workspace: Workspace, size: int) -> Tag:
    """`size` contacts tagged "promo": 90 % opted in (5 % of them since opted out), 10 % never."""
    rng = random.Random(5)
    now = timezone.now()
    [tag] = tags_get_or_create(workspace=workspace, names=["promo"])
    for start in range(0, size, INSERT_BATCH):
        with transaction.atomic():
            _audience_batch(workspace, tag, start, min(INSERT_BATCH, size - start), rng, now)
    if connection.vendor == "postgresql":
        # A shop's customers are imported days before a campaign: their tables have
        # statistics by then (autovacuum's ANALYZE), and the planner uses them.
        with connection.cursor() as cursor:
            for model in (Contact, Contact.tags.through, ConsentEvent, Message):
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    return tag


def _audience_batch(
    workspace: Workspace, tag: Tag, start: int, count: int, rng: random.Random, now: Any
) -> None:
    through = Contact.tags.through
    ids = [uuid7() for _ in range(count)]
    insert_rows(
        Contact,
        CONTACT_COLUMNS,
        [
            _contact(cid, now, workspace.id, f"+336{start + i:08d}", rng.choice(NAMES))
            for i, cid in enumerate(ids)
        ],
    )
    insert_rows(through, ("contact_id", "tag_id"), [(cid, tag.id) for cid in ids])
    consent: list[tuple[Any, ...]] = []
    for cid in ids:
        roll = rng.random()
        if roll < 0.90:
            consent.append((workspace.id, cid, "marketing", "sms", "granted", "import", now, {}))
        if roll > 0.95:
            consent.append((workspace.id, cid, "marketing", "sms", "revoked", "keyword", now, {}))
    insert_rows(
        ConsentEvent,
        ("workspace_id", "contact_id", "purpose", "channel", "action", "source", "at", "proof"),
        consent,
    )


def _raw_floor(workspace: Workspace, size: int) -> float:
    """Seconds to insert `size` plain message rows in batches: the physical floor."""
    channel = default_channel(workspace)
    contact_id = Contact.objects.for_workspace(workspace).values_list("id", flat=True).first()
    now = timezone.now()
    template = {f.attname: f.get_default() for f in Message._meta.concrete_fields}
    template.update(
        workspace_id=workspace.id,
        channel_id=channel.id,
        contact_id=contact_id,
        created_at=now,
        updated_at=now,
        send_at=now,
        address="+33600000000",
        body="Bonjour Léa, -20 % sur les montures ce samedi STOP SMS : STOP",
        purpose="marketing",
        priority=2,
        kind="bench_floor",
    )
    start = time.perf_counter()
    for offset in range(0, size, INSERT_BATCH):
        rows = [
            [uuid7() if c == "id" else template[c] for c in MESSAGE_COLUMNS]
            for _ in range(min(INSERT_BATCH, size - offset))
        ]
        with transaction.atomic():  # one commit per batch, as the fan-out does
            insert_rows(Message, MESSAGE_COLUMNS, rows)
    return time.perf_counter() - start


def _purge(workspace: Workspace) -> None:
    """Delete what the benchmark wrote, in SQL (the ORM would load a million rows first)."""
    quote = connection.ops.quote_name
    ws = Workspace._meta.get_field("id").get_db_prep_value(workspace.id, connection)
    messages = quote(Message._meta.db_table)
    campaigns = quote(Campaign._meta.db_table)
    contacts = quote(Contact._meta.db_table)
    in_workspace = "IN (SELECT id FROM {} WHERE workspace_id = %s)"
    statements: list[tuple[Any, str]] = [
        (LinkClick, "link_id " + in_workspace.format(quote(ShortLink._meta.db_table))),
        (ShortLink, "workspace_id = %s"),
        (CampaignRecipient, "campaign_id " + in_workspace.format(campaigns)),
        (MessageTransition, "message_id " + in_workspace.format(messages)),
        (Message, "workspace_id = %s"),
        (Campaign, "workspace_id = %s"),
        (ConsentEvent, "workspace_id = %s"),
        (Contact.tags.through, "contact_id " + in_workspace.format(contacts)),
        (Contact, "workspace_id = %s"),
    ]
    with connection.cursor() as cursor:
        for model, where in statements:
            # Names come from the models; the workspace id is a parameter.
            table = quote(model._meta.db_table)
            cursor.execute(f"DELETE FROM {table} WHERE {where}", [ws])  # noqa: S608
    workspace.delete()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(options: dict[str, Any]) -> list[str]:
    """Launch to `recipients` (default 100,000) and print the figures, as lines.

    Options: recipients (int), batch (int, recipients per fan-out batch), keep (bool:
    leave the workspace for inspection).
    """
    size = int(options.get("recipients", 100_000))
    batch = int(options.get("batch", 5000))
    workspace = workspace_create(name=f"Fan-out benchmark {uuid.uuid4().hex[:6]}", region="FR")
    lines = []
    try:
        setup = time.perf_counter()
        tag = _audience(workspace, size)
        setup = time.perf_counter() - setup
        # Inside legal hours wherever the benchmark runs: nothing is deferred.
        workspace.policy = {
            "marketing_window": {"days": list(range(7)), "start": "00:00", "end": "23:59"}
        }
        workspace.save()
        campaign = campaign_save(
            workspace=workspace, name="Benchmark", body=BODY, audience_kind="tag", tag=tag
        )
        rss_before = _rss_mb()
        start = time.perf_counter()
        # What the launch button does, then the task's work, here in this process.
        campaign_launch(campaign=campaign)
        report = campaign_fanout(campaign.id, batch=batch)
        elapsed = time.perf_counter() - start
        rss_after = _rss_mb()
        floor = _raw_floor(workspace, size)
        links = ShortLink.objects.filter(campaign=campaign).count()
        lines.append(
            f"fan-out: {size:,} recipients on {connection.vendor}, batches of {batch:,} "
            f"(audience set up in {setup:.1f} s)"
        )
        lines.append(
            f"  launch → every recipient decided  {elapsed:8.2f} s  "
            f"({size / elapsed:,.0f} recipients/s)"
        )
        for step, seconds in report.timings.items():
            lines.append(f"    {step:<18} {seconds:8.2f} s")
        lines.append(
            f"  messages queued {report.queued:,}, skipped {report.skipped:,}, "
            f"short links {links:,}"
        )
        raw = "COPY" if connection.vendor == "postgresql" else "insert"
        lines.append(f"  raw {raw} of {size:,} message rows    {floor:8.2f} s (the floor)")
        lines.append(f"  fan-out / floor                   {elapsed / floor:8.1f} times")
        lines.append(
            f"  peak memory (max RSS) {rss_before:,.0f} MB before → {rss_after:,.0f} MB after"
        )
        return lines
    finally:
        if not options.get("keep"):
            _purge(workspace)
