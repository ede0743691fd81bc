"""How fast a segment counts: the editor's live count on a realistic customer base.

Seeds one workspace (100,000 contacts and 300,000 purchases by default, with languages,
birthdays, attributes, tags and consent), then times `segment_count` for definitions
of every kind, as the editor asks for them while the owner types. Run it with
`run({"contacts": …, "purchases": …, "rounds": …, "keep": False})`; it returns the
lines to print.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
import uuid
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from comptoir.compliance.models import ConsentEvent
from comptoir.contacts.models import Contact, Purchase, Tag
from comptoir.contacts.services import CONTACT_COLUMNS
from comptoir.core.bulk import insert_rows
from comptoir.core.ids import uuid7
from comptoir.imports.writer import PURCHASE_COLUMNS
from comptoir.segments.query import segment_count, segment_sample
from comptoir.workspaces.models import Workspace
from comptoir.workspaces.services import workspace_create

CHUNK = 20_000
PRODUCTS = ("jewellery", "jewellery", "watch", "ring", "necklace", "bracelet")
MATERIALS = ("gold", "silver", "silver", "steel", "platinum", "")
BRANDS = ("Maison A", "Seiko", "Swatch", "Pandora", "")
STORES = ("Lyon", "Paris 11", "Annecy")

DEFINITIONS: list[tuple[str, dict[str, Any]]] = [
    (
        "gold jewellery, not seen for 12 months",
        {
            "match": "all",
            "conditions": [
                {"kind": "bought", "product_type": "jewellery", "material": "gold"},
                {"kind": "not_bought_since", "months": 12},
            ],
        },
    ),
    (
        "language fr, birthday in March",
        {
            "match": "all",
            "conditions": [
                {"kind": "language", "languages": ["fr"]},
                {"kind": "birthday_month", "months": [3]},
            ],
        },
    ),
    ("spent 1,000 or more", {"match": "all", "conditions": [{"kind": "total_spent", "min": 1000}]}),
    ("3 purchases or more", {"match": "all", "conditions": [{"kind": "purchase_count", "min": 3}]}),
    ("marketing granted by text", {"match": "all", "conditions": [{"kind": "consent"}]}),
    (
        "VIP or interested in gold",
        {
            "match": "any",
            "conditions": [
                {"kind": "tag", "tag": "vip"},
                {"kind": "interest", "interest": "gold"},
            ],
        },
    ),
    (
        "campaign audience (5 conditions and a group)",
        {
            "match": "all",
            "conditions": [
                {"kind": "bought", "product_type": "jewellery", "material": "gold"},
                {"kind": "not_bought_since", "months": 12},
                {"kind": "consent", "channel": "sms"},
                {"kind": "tag", "tag": "vip", "not": True},
                {
                    "match": "any",
                    "conditions": [
                        {"kind": "attribute", "key": "loyalty_level", "value": "gold"},
                        {"kind": "total_spent", "min": 500},
                    ],
                },
            ],
        },
    ),
]


def _chunks(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _contact_rows(
    workspace: Workspace, ids: Sequence[uuid.UUID], rng: random.Random, now: dt.datetime
) -> Iterator[tuple[Any, ...]]:
    for n, contact_id in enumerate(ids):
        birthday = dt.date(rng.randint(1950, 2005), rng.randint(1, 12), rng.randint(1, 28))
        values = {
            "id": contact_id,
            "created_at": now,
            "updated_at": now,
            "workspace_id": workspace.id,
            "phone": f"+3361{n:08d}",
            "number_type": "mobile",
            "first_name": f"Client {n}",
            "last_name": "",
            "email": "",
            "language": rng.choice(("fr", "fr", "fr", "fr", "fr", "fr", "fr", "en", "en", "")),
            "timezone": "",
            "birthday": birthday if rng.random() < 0.8 else None,
            "preferred_channel": "sms",
            "attributes": {"loyalty_level": rng.choice(("gold", "silver", "bronze", "none"))},
            "is_prospect": rng.random() < 0.05,
        }
        yield tuple(values[c] for c in CONTACT_COLUMNS)


def _purchase_rows(
    workspace: Workspace,
    buyers: Sequence[uuid.UUID],
    count: int,
    rng: random.Random,
    now: dt.datetime,
) -> Iterator[tuple[Any, ...]]:
    today = now.date()
    for _ in range(count):
        yield (
            uuid7(),
            now,
            now,
            workspace.id,
            rng.choice(buyers),
            today - dt.timedelta(days=rng.randint(0, 4 * 365)),
            Decimal(rng.randint(2000, 80000)) / 100,
            rng.choice(PRODUCTS),
            rng.choice(MATERIALS),
            rng.choice(BRANDS),
            rng.choice(STORES),
        )


def _consent_rows(
    workspace: Workspace, ids: Sequence[uuid.UUID], rng: random.Random, now: dt.datetime
) -> Iterator[tuple[Any, ...]]:
    earlier = now - dt.timedelta(days=200)
    for contact_id in ids:
        roll = rng.random()
        if roll < 0.85:
            yield (workspace.id, contact_id, "marketing", "sms", "granted", "import", earlier, {})
        if roll > 0.80:  # some of them said STOP since
            yield (workspace.id, contact_id, "marketing", "sms", "revoked", "keyword", now, {})
        if rng.random() < 0.3:
            yield (workspace.id, contact_id, "marketing", "email", "granted", "form", earlier, {})


def seed(workspace: Workspace, *, contacts: int, purchases: int) -> None:
    """The customer base, written in bulk (a POS import's worth)."""
    rng = random.Random(5)
    now = timezone.now()
    ids = [uuid7() for _ in range(contacts)]
    for chunk in _chunks(_contact_rows(workspace, ids, rng, now)):
        insert_rows(Contact, CONTACT_COLUMNS, chunk)
    buyers = ids[: max(1, int(len(ids) * 0.6))]
    for chunk in _chunks(_purchase_rows(workspace, buyers, purchases, rng, now)):
        insert_rows(Purchase, PURCHASE_COLUMNS, chunk)
    consent_columns = ("workspace_id", "contact_id", "purpose", "channel", "action", "source")
    for chunk in _chunks(_consent_rows(workspace, ids, rng, now)):
        insert_rows(ConsentEvent, (*consent_columns, "at", "proof"), chunk)
    tags = {
        name: Tag.objects.create(workspace=workspace, name=name).id
        for name in ("vip", "interest:gold", "interest:watches")
    }
    shares = {"vip": 0.05, "interest:gold": 0.10, "interest:watches": 0.08}
    tagged = ((cid, tags[n]) for cid in ids for n, share in shares.items() if rng.random() < share)
    for chunk in _chunks(tagged):
        insert_rows(Contact.tags.through, ("contact_id", "tag_id"), chunk)
    _analyze()


def _analyze() -> None:
    """What autovacuum (PostgreSQL) or a periodic ANALYZE (SQLite) does after an import:
    the planner sees today's tables, as in a shop's steady state."""
    models = (Contact, Purchase, ConsentEvent, Tag, Contact.tags.through)
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def _timed(call: Any, rounds: int) -> tuple[Any, float, float]:
    figures = []
    result = None
    for _ in range(rounds):
        start = time.perf_counter()
        result = call()
        figures.append(time.perf_counter() - start)
    return result, statistics.median(figures), max(figures)


def run(options: dict[str, Any]) -> list[str]:
    """Seed, time every definition's count (and the editor's sample), clean up; the report."""
    contacts = int(options.get("contacts", 100_000))
    purchases = int(options.get("purchases", 300_000))
    rounds = int(options.get("rounds", 5))
    if contacts < 1 or purchases < 0 or rounds < 1:
        raise ValueError("contacts and rounds must be positive, purchases at least 0")
    workspace = workspace_create(name=f"Segments benchmark {time.strftime('%H:%M:%S')}")
    try:
        start = time.perf_counter()
        seed(workspace, contacts=contacts, purchases=purchases)
        seeded = time.perf_counter() - start
        lines = [
            f"segments_count: {contacts:,} contacts, {purchases:,} purchases on "
            f"{connection.vendor}; seeded in {seeded:.1f} s; median and slowest of {rounds}",
        ]
        for name, definition in DEFINITIONS:
            count, median, slowest = _timed(
                lambda d=definition: segment_count(d, workspace), rounds
            )
            lines.append(
                f"  {name:<46} {count:>8,} contacts  {median * 1000:>8.1f} ms  "
                f"(slowest {slowest * 1000:.1f} ms)"
            )
        example = DEFINITIONS[0][1]
        _, median, slowest = _timed(
            lambda: segment_sample(example, workspace),
            rounds,
        )
        lines.append(
            f"  {'editor sample (10 contacts of the first)':<46} {'':>8}           "
            f"{median * 1000:>8.1f} ms  (slowest {slowest * 1000:.1f} ms)"
        )
        return lines
    finally:
        if not options.get("keep"):
            _cleanup(workspace)


def _cleanup(workspace: Workspace) -> None:
    """Delete what was seeded in bulk, then the workspace (its cascade finds little left)."""
    contact_ids = Contact.objects.filter(workspace=workspace).values("id")
    Contact.tags.through.objects.filter(contact_id__in=contact_ids)._raw_delete(connection.alias)
    for model in (ConsentEvent, Purchase, Contact):
        model.objects.filter(workspace=workspace)._raw_delete(connection.alias)  # type: ignore[attr-defined]
    workspace.delete()
