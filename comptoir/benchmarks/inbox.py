"""The staff inbox with a busy shop's history: 10,000 conversations, 200,000 messages.

The workspace is seeded by `inbox_seed` in the state the inbound path and the inbox's
services would have left it. Then the pages are fetched through Django's test client as a
signed-in staff member (the whole stack but the socket: middleware, session, view,
queries, templates), and the services underneath are timed alone so the two can be
compared.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from comptoir.benchmarks.inbox_seed import Seeded, seed
from comptoir.contacts.models import Contact
from comptoir.inbox.models import Conversation, ConversationEvent
from comptoir.inbox.services import conversations_list
from comptoir.inbox.thread import thread
from comptoir.messaging.models import Message


@dataclass(frozen=True)
class Timing:
    name: str
    status: int
    queries: int
    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def p90(self) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]


def _host() -> str:
    """A host name the site accepts, so the test client's requests are not refused."""
    hosts = [h for h in settings.ALLOWED_HOSTS if h not in {"*", ""} and not h.startswith(".")]
    return hosts[0] if hosts else "localhost"


def _timed(name: str, fetch: Callable[[], int], rounds: int) -> Timing:
    """One warm-up call (templates compiled, caches filled), one counted, `rounds` timed."""
    fetch()
    with CaptureQueriesContext(connection) as captured:
        status = fetch()
    queries = len(captured)  # now: the next request clears the connection's log
    figures = []
    for _ in range(rounds):
        start = time.perf_counter()
        fetch()
        figures.append(time.perf_counter() - start)
    return Timing(name, status, queries, figures)


def _status_of(client: Client, url: str) -> int:
    return int(client.get(url).status_code)


def measure(seeded: Seeded, rounds: int) -> list[Timing]:
    """The pages staff open, and the services under them, timed as the first staff member."""
    workspace, user = seeded.workspace, seeded.staff[0]
    client = Client(HTTP_HOST=_host())
    client.force_login(user)
    top = conversations_list(workspace, user=user).first()
    if top is None:
        raise RuntimeError("the seeded workspace has no open or waiting conversation")
    pages = [
        ("/inbox/ (open + waiting, by score)", reverse("inbox:index")),
        ("/inbox/?view=mine", reverse("inbox:index") + "?view=mine"),
        ("/inbox/?view=prospects", reverse("inbox:index") + "?view=prospects"),
        ("/inbox/?status=closed", reverse("inbox:index") + "?status=closed"),
        ("/inbox/list (polled every 3 s)", reverse("inbox:list")),
        ("/inbox/<top conversation>/", reverse("inbox:conversation", args=[top.id])),
    ]
    timings = [_timed(name, partial(_status_of, client, url), rounds) for name, url in pages]

    def first_page() -> int:
        return len(list(conversations_list(workspace, user=user)[:51]))

    def top_thread() -> int:
        return len(thread(top))

    timings.append(_timed("service: conversations_list()[:51]", first_page, rounds))
    timings.append(_timed("service: thread(top conversation)", top_thread, rounds))
    client.logout()
    return timings


@transaction.atomic
def cleanup(seeded: Seeded) -> None:
    workspace = seeded.workspace
    Message.objects.filter(workspace=workspace).delete()
    workspace.delete()
    get_user_model().objects.filter(id__in=[u.id for u in seeded.staff]).delete()


def statistics_refresh() -> None:
    """On PostgreSQL, what autovacuum does soon after tables grow this much: the planner
    then sees today's tables, as it would in a shop's steady state."""
    if connection.vendor != "postgresql":
        return
    tables = [m._meta.db_table for m in (Contact, Conversation, ConversationEvent, Message)]
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def run(
    *, conversations: int, messages_per_contact: int, rounds: int, keep: bool
) -> tuple[Seeded, list[Timing]]:
    seeded = seed(conversations=conversations, messages_per_contact=messages_per_contact)
    try:
        statistics_refresh()
        return seeded, measure(seeded, rounds)
    finally:
        if not keep:
            cleanup(seeded)
