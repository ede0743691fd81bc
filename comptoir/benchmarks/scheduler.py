"""The scheduler under 100,000 pending runs: the idle scan, and how late due runs go.

1. Idle: with every run in the future, one claim query (what each pass costs when
   nothing is due), timed over many rounds.
2. Due: `due` runs fall due two seconds from now; the loop the Huey tasks run (look up
   the next due time, wait for it, claim and fire in batches) sends them. Lateness is
   when each run's message was written minus its due time; claim queries are counted
   per batch.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from typing import Any

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from comptoir.automations.firing import BATCH, next_due, runs_claim, runs_fire_due
from comptoir.automations.models import AutomationRule, ScheduledRun
from comptoir.contacts.models import Contact
from comptoir.contacts.services import CONTACT_COLUMNS, contact_row
from comptoir.core.bulk import insert_rows
from comptoir.core.ids import uuid7
from comptoir.messaging.models import Message
from comptoir.workspaces.services import workspace_create

CONTACTS = 2_000
RUN_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "workspace_id",
    "rule_id",
    "contact_id",
    "subject_key",
    "due_at",
    "status",
    "reason",
)


def _fill(workspace: Any, rule: AutomationRule, runs: int, due: int, due_at: dt.datetime) -> None:
    now = timezone.now()
    contacts = [uuid7() for _ in range(CONTACTS)]
    insert_rows(
        Contact,
        CONTACT_COLUMNS,
        [
            contact_row(
                contact_id=cid,
                workspace_id=workspace.id,
                phone=f"+3361{i:07d}",
                number_type="mobile",
                now=now,
                is_prospect=False,
            )
            for i, cid in enumerate(contacts)
        ],
    )
    later = now + dt.timedelta(days=3)
    rows = (
        (
            uuid7(),
            now,
            now,
            workspace.id,
            rule.id,
            contacts[i % CONTACTS],
            f"bench:{i}",
            due_at if i < due else later + dt.timedelta(seconds=i),
            "pending",
            "",
        )
        for i in range(runs)
    )
    insert_rows(ScheduledRun, RUN_COLUMNS, rows)


def _idle_scan(rounds: int) -> list[float]:
    figures = []
    for _ in range(rounds):
        start = time.perf_counter()
        with transaction.atomic():  # as a pass does: the claim locks what it finds
            found = runs_claim(timezone.now())
        figures.append(time.perf_counter() - start)
        assert not found
    return figures


def run(options: dict[str, Any]) -> list[str]:
    """Measure; options: runs (100,000), due (1,000), rounds (20). Returns report lines."""
    total = int(options.get("runs", 100_000))
    due = int(options.get("due", 1_000))
    rounds = int(options.get("rounds", 20))
    workspace = workspace_create(name=f"Scheduler benchmark {time.strftime('%H:%M:%S')}")
    try:
        rule = AutomationRule.objects.get(workspace=workspace, key="order_ready")
        fill_start = time.perf_counter()
        _fill(workspace, rule, total - due, 0, timezone.now())
        filled = time.perf_counter() - fill_start
        idle = _idle_scan(rounds)
        due_at = timezone.now() + dt.timedelta(seconds=2)
        _fill_due(workspace, rule, due, due_at, offset=total)
        upcoming = next_due()
        assert upcoming is not None
        time.sleep(max((upcoming - timezone.now()).total_seconds(), 0))
        with CaptureQueriesContext(connection) as queries:
            report = runs_fire_due()
        claims = [
            q
            for q in queries.captured_queries
            if "automations_scheduledrun" in q["sql"] and '"due_at" <=' in q["sql"]
        ]
        written = list(
            Message.objects.filter(workspace=workspace).values_list("created_at", flat=True)
        )
        late = sorted((w - due_at).total_seconds() for w in written)
        vendor = connection.vendor
        return [
            f"scheduler on {vendor}: {total:,} pending runs ({filled:.1f} s to write)",
            f"idle scan (nothing due): median {statistics.median(idle) * 1000:.2f} ms, "
            f"max {max(idle) * 1000:.2f} ms over {rounds} rounds (target < 50 ms)",
            f"{due:,} due at once: {report.sent} sent, {report.skipped} skipped in "
            f"{report.batches} batches of up to {BATCH}; claim queries: {len(claims)} "
            "(one per batch, plus the empty one that ends a pass when the last batch is "
            f"full); {len(queries.captured_queries) / max(report.batches, 1):.1f} queries "
            "per batch in all (the same for any batch size)",
            f"lateness (message written - due): first {late[0]:.3f} s, median "
            f"{statistics.median(late):.3f} s, last {late[-1]:.3f} s (target ≤ 1 s for the "
            "first batch; the rest as fast as batches go)"
            if late
            else "no message written",
        ]
    finally:
        Message.objects.filter(workspace=workspace).delete()
        workspace.delete()


def _fill_due(
    workspace: Any, rule: AutomationRule, due: int, due_at: dt.datetime, offset: int
) -> None:
    now = timezone.now()
    contacts = list(
        Contact.objects.for_workspace(workspace).values_list("id", flat=True)[:CONTACTS]
    )
    insert_rows(
        ScheduledRun,
        RUN_COLUMNS,
        (
            (
                uuid7(),
                now,
                now,
                workspace.id,
                rule.id,
                contacts[i % len(contacts)],
                f"bench:{offset + i}",
                due_at,
                "pending",
                "",
            )
            for i in range(due)
        ),
    )
