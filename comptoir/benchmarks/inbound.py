"""Customers texting the shop, under load: the sandbox's inbound webhook on the real server.

`comptoir serve --no-worker` runs as a subprocess on a free loopback port, on the same
database. Every request is built and signed before the clock starts; the load generator
then plays them over raw keep-alive HTTP/1.1 connections, either at a fixed arrival rate
(open loop: a request's latency counts from when it was due, so a server that falls
behind cannot hide its queue) or as fast as `concurrency` connections go (closed loop).
A share of requests repeat an earlier delivery byte for byte, as a provider retrying
does; afterwards the stored messages are counted against the ids sent.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from comptoir.benchmarks.aio import run_async
from comptoir.benchmarks.loadgen import HOST, TIMEOUT, Load, closed_loop, open_loop
from comptoir.channels.models import Channel
from comptoir.channels.services import channel_create
from comptoir.contacts.models import Contact, Tag
from comptoir.core.bulk import insert_objects
from comptoir.core.ids import uuid7
from comptoir.inbox.models import Conversation
from comptoir.inbox.services import inbox_settings
from comptoir.messaging.models import Direction, Message
from comptoir.providers.sandbox.type import sign
from comptoir.providers.twilio import signature as twilio_signature
from comptoir.workspaces.models import Workspace
from comptoir.workspaces.services import workspace_create

TWILIO_NUMBER = "+33639980002"  # the shop's Twilio number, in the range kept for fiction
WARM_UP = 20  # deliveries sent one by one before the clock starts (imports, caches)
# What customers write, and how often (urgent words, auto-answer topics, a rare STOP).
TEXTS = (
    ("Bonjour, mes lunettes sont-elles prêtes ?", 20),
    ("Est-ce que je peux passer demain vers 17h pour un ajustement ?", 15),
    ("Merci beaucoup, à samedi !", 15),
    ("Ok merci", 10),
    ("Bonjour, je voudrais prendre rendez-vous pour un examen de vue la semaine prochaine. "
     "Je suis disponible le mardi ou le jeudi après 18h, sinon le samedi matin.", 8),
    ("URGENT j'ai cassé mes lunettes, vous pouvez les réparer aujourd'hui ?", 6),
    ("Ma monture est cassée, au plus vite svp", 4),
    ("Quels sont vos horaires samedi ?", 4),
    ("C'est quoi votre adresse exacte ?", 3),
    ("Où en est ma commande ?", 3),
    ("Hi, are my glasses ready? I lost my old pair", 2),
    ("STOP", 1),
)  # fmt: skip
NAMED_SENDERS = ("AMAZON", "LAPOSTE", "DOCTOLIB")  # alphanumeric: kept, never answered
NAMED_SHARE = 0.01
# The aim on 2 cores: 300 requests/s sustained (within 1 %), p99 under 100 ms.
TARGET_RATE, TARGET_P99 = 300, 0.100


@dataclass(frozen=True, slots=True)
class Delivery:
    provider_id: str
    sender: str
    raw: bytes  # the whole HTTP request, signed


@dataclass
class Plan:
    deliveries: list[Delivery]
    known: frozenset[str]  # numbers of existing customers
    new: frozenset[str]  # numbers the shop has never seen


@dataclass(frozen=True)
class Check:
    name: str
    expected: int
    found: int

    @property
    def ok(self) -> bool:
        return self.expected == self.found


@dataclass
class Result:
    vendor: str
    load: Load
    checks: list[Check]
    server_cpu: float  # seconds of CPU the server processes used during the timed part
    client_cpu: float  # and the load generator
    servers: int
    threads: int
    provider: str = "sandbox"

    @property
    def target_met(self) -> bool:
        return (
            self.load.rate >= 0.99 * TARGET_RATE
            and self.load.latency(0.99) < TARGET_P99
            and all(check.ok for check in self.checks)
        )


# --- the benchmark workspace and the prepared requests ---------------------------------


@transaction.atomic  # one commit: in autocommit, SQLite commits each row of an executemany
def workspace_prepare(
    senders: int, rng: random.Random, provider: str = "sandbox"
) -> tuple[Workspace, Channel, list[str]]:
    """A fresh workspace whose sandbox (or Twilio) channel takes the texts; half the
    senders are its customers already (named, 5 % tagged VIP), the other half will
    become prospects."""
    workspace = workspace_create(name=f"Inbound benchmark {time.strftime('%Y-%m-%d %H:%M:%S')}")
    channel = Channel.objects.get(workspace=workspace, provider="sandbox")
    if provider == "twilio":
        channel = channel_create(
            workspace=workspace,
            provider="twilio",
            name="Twilio (benchmark)",
            address=TWILIO_NUMBER,
            config={"account_sid": "AC" + "b3" * 16},
            secrets={"auth_token": "bench-auth-token-" + uuid7().hex[:12]},
        )
    # 06 10 … 06 38: valid French mobiles (06 39 is kept for fiction, 06 9x is overseas).
    numbers = [f"+336{n:08d}" for n in rng.sample(range(10_000_000, 39_000_000), senders)]
    now = timezone.now()
    known = [
        Contact(
            id=uuid7(),
            workspace=workspace,
            phone=phone,
            number_type="mobile",
            first_name=rng.choice(("Camille", "Hugo", "Léa", "Louis", "Thi Mai", "Nathan")),
            last_name=rng.choice(("Martin", "Durand", "Nguyen", "Petit", "Moreau")),
            language="fr",
            created_at=now,
            updated_at=now,
        )
        for phone in numbers[: senders // 2]
    ]
    insert_objects(known)
    vip = Tag.objects.create(workspace=workspace, name=inbox_settings(workspace).vip_tag)
    insert_objects([Contact.tags.through(contact_id=c.id, tag_id=vip.id) for c in known[::20]])
    return workspace, channel, numbers


def _request(channel: Channel, payload: dict[str, str]) -> bytes:
    """The raw HTTP request a provider would send for a customer's text, signed."""
    config = channel.as_config()
    if channel.provider == "twilio":
        # Twilio's inbound SMS form, signed over the URL the channel page tells the shop
        # to paste (BASE_URL) and the sorted parameters.
        form = {
            "MessageSid": payload["id"],
            "SmsSid": payload["id"],
            "AccountSid": str(config.config["account_sid"]),
            "From": payload["from"],
            "To": payload["to"],
            "Body": payload["text"],
            "NumMedia": "0",
            "NumSegments": "1",
            "ApiVersion": "2010-04-01",
        }
        body = urlencode(form).encode()
        url = f"{config.base_url}/hooks/{channel.id}/receive"
        signature = twilio_signature.compute(config.secrets["auth_token"], url, form.items())
        content_type, header = "application/x-www-form-urlencoded", "X-Twilio-Signature"
    else:
        body = json.dumps(payload).encode()
        signature = sign(config.secrets.get("webhook_secret", ""), body)
        content_type, header = "application/json", "X-Sandbox-Signature"
    head = (
        f"POST /hooks/{channel.id}/receive HTTP/1.1\r\n"
        f"Host: {HOST}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"{header}: {signature}\r\n\r\n"
    )
    return head.encode() + body


def plan_build(
    channel: Channel, numbers: Sequence[str], *, count: int, duplicates: float, rng: random.Random,
) -> Plan:  # fmt: skip
    """`count` signed requests; a `duplicates` share repeat one of the 20 before them, so
    some repeats arrive while the first delivery is still being stored."""
    texts, weights = zip(*TEXTS, strict=True)
    run = uuid7().hex[-8:]
    deliveries: list[Delivery] = []
    for index in range(count):
        if deliveries and rng.random() < duplicates:
            deliveries.append(deliveries[-rng.randint(1, min(20, len(deliveries)))])
            continue
        sender = rng.choice(NAMED_SENDERS) if rng.random() < NAMED_SHARE else rng.choice(numbers)
        provider_id = f"{'SM' if channel.provider == 'twilio' else 'SB'}{run}{index:08d}"
        payload = {
            "id": provider_id,
            "from": sender,
            "to": channel.address,
            "text": rng.choices(texts, weights)[0],
        }
        deliveries.append(Delivery(provider_id, sender, _request(channel, payload)))
    half = len(numbers) // 2
    return Plan(deliveries, frozenset(numbers[:half]), frozenset(numbers[half:]))


# --- the server ------------------------------------------------------------------------


def database_url() -> str:
    """This process's database as a DATABASE_URL (under pytest: the test database)."""
    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{conf['NAME']}"
    if connection.vendor == "postgresql":
        user = quote(conf.get("USER") or "")
        password = f":{quote(conf['PASSWORD'])}" if conf.get("PASSWORD") else ""
        port = f":{conf['PORT']}" if conf.get("PORT") else ""
        return f"postgres://{user}{password}@{conf.get('HOST') or 'localhost'}{port}/{conf['NAME']}"
    raise RuntimeError(f"the inbound benchmark does not know how to share a {connection.vendor}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used (Linux /proc; 0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(port: int, threads: int) -> Iterator[subprocess.Popen[bytes]]:
    """`comptoir serve --no-worker` on this database, as production runs it."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        # The production settings: the test settings run background tasks inline.
        "DJANGO_SETTINGS_MODULE": "comptoir.config.settings",
    }
    command = [sys.executable, "-m", "comptoir", "serve", "--no-worker", "--host", HOST]
    command += ["--port", str(port), "--threads", str(threads)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            _wait_ready(process, port, log)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Any) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"the server stopped (exit {process.returncode}):\n{tail}")
        with suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"the server did not listen on port {port} within 60 s")


# --- the run and its checks ------------------------------------------------------------


def checks(workspace: Workspace, plan: Plan, load: Load, warm_up: int) -> list[Check]:
    """Every distinct id stored once, repeats included; one conversation per sender; no
    lost update on the conversations' counters under concurrent requests."""
    sent = plan.deliveries[: warm_up + len(load.outcomes)]
    ids = Counter(d.provider_id for d in sent)
    senders = {d.sender for d in sent}
    inbound = Message.objects.for_workspace(workspace).filter(direction=Direction.IN)
    stored = dict(
        inbound.values_list("provider_id").annotate(n=Count("id")).values_list("provider_id", "n")
    )
    repeated = [pid for pid, n in ids.items() if n > 1]
    conversations = Conversation.objects.for_workspace(workspace)
    unread = conversations.aggregate(total=Sum("unread"))["total"] or 0
    return [
        Check("requests answered 200", len(load.outcomes), load.statuses.get("200", 0)),
        Check("inbound messages stored (= distinct ids sent)", len(ids), sum(stored.values())),
        Check("ids sent that are stored", len(ids), len(ids.keys() & stored.keys())),
        Check("ids stored more than once", 0, sum(1 for n in stored.values() if n > 1)),
        Check("ids delivered twice or more, stored once", len(repeated),
              sum(1 for pid in repeated if stored.get(pid) == 1)),
        Check("conversations (one per sender)", len(senders), conversations.count()),
        Check("new numbers made prospects", len(senders & plan.new),
              Contact.objects.for_workspace(workspace).filter(is_prospect=True).count()),
        Check("unread counters add up to the messages stored", len(ids), unread),
    ]  # fmt: skip


def run(
    *, rate: float, seconds: float, concurrency: int | None, senders: int, duplicates: float,
    connections: int, servers: int, threads: int, keep: bool, seed: int = 11,
    provider: str = "sandbox",
) -> Result:  # fmt: skip
    """Prepare, serve, load, count; the workspace is deleted afterwards unless `keep`."""
    rng = random.Random(seed)
    workspace, channel, numbers = workspace_prepare(senders, rng, provider)
    warm_up = WARM_UP * servers
    # A closed loop needs more requests than a 2-core machine can answer in the time.
    count = int(rate * seconds) if concurrency is None else int(seconds * 2500)
    plan = plan_build(channel, numbers, count=warm_up + count, duplicates=duplicates, rng=rng)
    try:
        with ExitStack() as stack:
            ports = [free_port() for _ in range(servers)]
            processes = [stack.enter_context(server(port, threads)) for port in ports]
            warm = run_async(closed_loop(ports, plan.deliveries[:warm_up], concurrency=servers,
                                           seconds=TIMEOUT))  # fmt: skip
            if warm.statuses.get("200") != warm_up:
                raise RuntimeError(f"the warm-up requests failed: {dict(warm.statuses)}")
            timed = plan.deliveries[warm_up:]
            cpu, client_cpu = sum(cpu_seconds(p.pid) for p in processes), time.process_time()
            if concurrency is None:
                load = run_async(open_loop(ports, timed, rate=rate, connections=connections))
            else:
                load = run_async(
                    closed_loop(ports, timed, concurrency=concurrency, seconds=seconds)
                )
            cpu = sum(cpu_seconds(p.pid) for p in processes) - cpu
            client_cpu = time.process_time() - client_cpu
        found = checks(workspace, plan, load, warm_up)
        return Result(connection.vendor, load, found, cpu, client_cpu, servers, threads, provider)
    finally:
        if not keep:
            Message.objects.filter(workspace=workspace).delete()
            workspace.delete()
