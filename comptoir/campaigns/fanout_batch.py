"""One batch of the fan-out made ready: read, decided, filled; and the one after, ahead.

`batch_prepare` reads the next contacts of the frozen audience after a cursor, runs
compliance for them and fills their texts into the rows to write; nothing is written.
The fan-out writes them (campaign row locked) and commits. On PostgreSQL the commit
is the slow part (every foreign key of every row written is checked then), so a
`Preparer` makes the next batch in a thread, on its own connection, while the current
one commits: the database and Python each use one of the machine's cores instead of
waiting for each other. The batch made ahead is used only if it starts exactly where
the committed cursor is; otherwise (a retried batch, another run) it is dropped and
the batch is made again. Reading ahead is safe: the audience is frozen (committed
before any batch), and the contacts of two batches never overlap, so what one batch
writes cannot change another's compliance decisions.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from comptoir.campaigns.links import new_codes
from comptoir.campaigns.models import Campaign, CampaignAudience, RecipientStatus
from comptoir.campaigns.personalise import Personaliser
from comptoir.compliance.decisions import Candidate
from comptoir.compliance.policy import Context, refusals
from comptoir.contacts.models import Contact
from comptoir.core.bulk import convert
from comptoir.core.ids import uuid7s
from comptoir.messaging.models import PRIORITY, Message, Purpose, Status

CAMPAIGN_KIND = "campaign"
TOO_LONG = "too_long"
# Every column of Message, each with its default unless the fan-out sets it: a column
# added later (with a default) is written without a change here.
_MESSAGE_FIELDS = list(Message._meta.concrete_fields)
MESSAGE_COLUMNS = tuple(f.attname for f in _MESSAGE_FIELDS)
RECIPIENT_COLUMNS = (
    "campaign_id",
    "contact_id",
    "message_id",
    "status",
    "skip_code",
    "skip_reason",
)
LINK_COLUMNS = ("code", "workspace_id", "campaign_id", "contact_id", "url", "is_test", "created_at")


@dataclass
class Prepared:
    """A batch ready to write: its rows in each table's column order."""

    after: uuid.UUID | None  # the cursor the batch starts after
    last: uuid.UUID | None  # its last contact: the cursor once written (None: nobody left)
    now: dt.datetime
    recipients: list[tuple[Any, ...]] = field(default_factory=list)
    messages: list[list[Any]] = field(default_factory=list)
    transitions: list[tuple[Any, ...]] = field(default_factory=list)
    links: list[tuple[Any, ...]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def queued(self) -> int:
        return len(self.messages)

    @property
    def skipped(self) -> int:
        return len(self.recipients) - len(self.messages)

    def timed(self, step: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[step] = self.timings.get(step, 0.0) + now - since
        return now


def next_contacts(
    campaign: Campaign, personaliser: Personaliser, after: uuid.UUID | None, size: int
) -> list[dict[str, Any]]:
    """The next `size` contacts of the frozen audience after `after`, with what the text
    needs.

    Plain SQL, the next ids taken first (a range scan of the audience's key, kept apart
    as a materialised CTE) and only then joined to the contacts: planning the range and
    the join together, PostgreSQL merge-joined from the first contact or scanned the
    whole audience every batch (quadratic in the audience). The ORM's per-row conversion
    also cost more than the query.
    """
    names = ["phone", "number_type", "timezone", *personaliser.compiled.columns]
    if personaliser.compiled.attributes:
        names.append("attributes")
    names = list(dict.fromkeys(names))
    quote = connection.ops.quote_name
    columns = ", ".join(f"c.{quote(n)}" for n in names)  # plain columns: names as stored
    where = "campaign_id = %s"
    params: list[Any] = [convert(CampaignAudience._meta.get_field("campaign"), campaign.id)]
    if after is not None:
        where += " AND contact_id > %s"
        params.append(convert(Contact._meta.pk, after))
    sql = (
        "WITH next AS MATERIALIZED ("  # noqa: S608 - names from the models
        f"SELECT contact_id FROM {quote(CampaignAudience._meta.db_table)} "
        f"WHERE {where} ORDER BY contact_id LIMIT %s) "
        f"SELECT next.contact_id, {columns} FROM next "
        f"JOIN {quote(Contact._meta.db_table)} c ON c.id = next.contact_id "
        "ORDER BY next.contact_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, size])
        found = cursor.fetchall()
    keys = ["id", *names]
    rows = [dict(zip(keys, row, strict=True)) for row in found]
    for row in rows:
        if not isinstance(row["id"], uuid.UUID):  # SQLite hands back the 32 hex digits
            row["id"] = uuid.UUID(row["id"])
        if isinstance(row.get("attributes"), str):  # JSON comes back as text
            row["attributes"] = json.loads(row["attributes"])
    return rows


def batch_prepare(
    campaign: Campaign, personaliser: Personaliser, after: uuid.UUID | None, size: int
) -> Prepared:
    """Read, decide and fill the batch after `after`; writes nothing."""
    clock = time.perf_counter()
    rows = next_contacts(campaign, personaliser, after, size)
    batch = Prepared(after=after, last=rows[-1]["id"] if rows else None, now=timezone.now())
    clock = batch.timed("read audience", clock)
    if not rows:
        return batch
    now = batch.now
    workspace, channel = campaign.workspace, campaign.channel
    candidates = [
        Candidate(
            key=row["id"],
            scheme=channel.scheme,
            number_type=row["number_type"] or "unknown",
            purpose=Purpose.MARKETING,
            contact_id=row["id"],
            kind=CAMPAIGN_KIND,
            phone=row["phone"],
            workspace_id=workspace.id,
            send_at=now,
            contact_tz=row["timezone"] or "",
        )
        for row in rows
    ]
    found = refusals(candidates, Context(workspace=workspace, stage="create", now=now))
    clock = batch.timed("compliance", clock)
    cap = workspace.segment_cap
    too_long = _("With this customer's details the text would take more than %(cap)d SMS.") % {
        "cap": cap
    }
    urls = [u.url for u in personaliser.compiled.urls]
    links_per = len(urls)
    going = sum(1 for r in rows if r["id"] not in found or found[r["id"]].until is not None)
    codes = iter(new_codes(links_per * going))
    message_ids = iter(uuid7s(going))
    defaults = {f.attname: f.get_default() for f in _MESSAGE_FIELDS}
    defaults.update(
        workspace_id=workspace.id,
        channel_id=channel.id,
        created_at=now,
        updated_at=now,
        purpose=Purpose.MARKETING,
        priority=PRIORITY[Purpose.MARKETING],
        status=Status.QUEUED,
        kind=CAMPAIGN_KIND,
    )
    skip = RecipientStatus.SKIPPED
    for row in rows:
        refusal = found.get(row["id"])
        if refusal is not None and refusal.until is None:
            batch.recipients.append(
                (
                    campaign.id,
                    row["id"],
                    None,
                    RecipientStatus.SKIPPED,
                    refusal.code,
                    refusal.reason,
                )
            )
            continue
        filled = personaliser.fill(personaliser.values_of(row))
        if filled.segments > cap:
            batch.recipients.append((campaign.id, row["id"], None, skip, TOO_LONG, too_long))
            continue
        own = [next(codes) for _i in range(links_per)]
        message_id = next(message_ids)
        code, reason = (refusal.code, refusal.reason) if refusal else ("", "")
        values = dict(
            defaults,
            id=message_id,
            contact_id=row["id"],
            address=row["phone"],
            body=personaliser.with_links(filled.text, own) if own else filled.text,
            send_at=refusal.until if refusal else now,
            encoding=filled.encoding,
            segments=filled.segments,
            error_code=code,
            error_reason=reason,
        )
        batch.messages.append([values[c] for c in MESSAGE_COLUMNS])
        batch.transitions.append((message_id, Status.QUEUED, now, code, reason))
        batch.links += [
            (c, workspace.id, campaign.id, row["id"], url, False, now)
            for c, url in zip(own, urls, strict=True)
        ]
        batch.recipients.append(
            (campaign.id, row["id"], message_id, RecipientStatus.QUEUED, "", "")
        )
    batch.timed("personalise", clock)
    return batch


class Preparer:
    """Makes batches; with `ahead`, the next one in a thread while the current commits.

    Use as a context manager: leaving it waits for the thread and closes its connection.
    """

    def __init__(
        self, campaign: Campaign, personaliser: Personaliser, size: int, *, ahead: bool
    ) -> None:
        self.campaign, self.personaliser, self.size = campaign, personaliser, size
        self._pool = ThreadPoolExecutor(max_workers=1) if ahead else None
        self._next: Future[Prepared] | None = None
        self._language = translation.get_language()

    def __enter__(self) -> Preparer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is None:
            return
        try:
            with contextlib.suppress(Exception):  # a batch made ahead for nothing: dropped
                self._drop()
            self._pool.submit(_close_connection).result()
        finally:
            self._pool.shutdown(wait=True)

    def take(self, after: uuid.UUID | None) -> Prepared:
        """The batch after `after`: the one made ahead if it starts there, else made now."""
        ready = self._drop()
        if ready is not None and ready.after == after:
            return ready
        return batch_prepare(self.campaign, self.personaliser, after, self.size)

    def ahead(self, after: uuid.UUID | None) -> None:
        """Start making the batch after `after` in the thread (nothing without one)."""
        if self._pool is not None:
            self._drop()
            self._next = self._pool.submit(self._prepare_in_thread, after)

    def _prepare_in_thread(self, after: uuid.UUID | None) -> Prepared:
        # Refusal sentences in the language of the caller, as without the thread.
        with translation.override(self._language):
            return batch_prepare(self.campaign, self.personaliser, after, self.size)

    def _drop(self) -> Prepared | None:
        """Wait for the batch in the making (the personaliser is not shared at once)."""
        future, self._next = self._next, None
        return future.result() if future is not None else None


def _close_connection() -> None:
    # Run in the thread: `connection` there is the thread's own.
    connection.close()
