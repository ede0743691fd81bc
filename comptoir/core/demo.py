"""The demo shop "Optique Lumière": an optician with ~50 customers, purchases and appointments.

The demo workspace has only the sandbox channel, so nothing reaches a real phone. Landlines
come from the range France keeps for fiction (ARCEP: 01 99 00 xx xx); ARCEP's fictional
mobile range (06 39 98) is not a valid number for `phonenumbers`, so mobiles use 06 12 34 xx xx.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from comptoir.automations.models import Appointment
from comptoir.compliance.consent import consent_record
from comptoir.compliance.models import ConsentAction, ConsentSource
from comptoir.contacts.models import Contact, Purchase
from comptoir.contacts.phones import parse_phone
from comptoir.contacts.services import tags_get_or_create
from comptoir.inbox.demo import seed_inbox_demo
from comptoir.workspaces.models import Role, Workspace
from comptoir.workspaces.services import api_key_create, staff_add, workspace_create

DEMO_NAME = "Optique Lumière"
DEMO_USER = "demo"

FIRST = [
    "Camille",
    "Léa",
    "Manon",
    "Chloé",
    "Inès",
    "Jade",
    "Louise",
    "Zoé",
    "Alice",
    "Lina",
    "Hugo",
    "Lucas",
    "Louis",
    "Gabriel",
    "Arthur",
    "Jules",
    "Nathan",
    "Raphaël",
    "Paul",
    "Élise",
    "Françoise",
    "Monique",
    "Bernard",
    "Michel",
    "Jean-Pierre",
]
LAST = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Mercier",
]
PRODUCTS = [
    ("monture", ["acétate", "titane", "métal", "bois"], (89, 320)),
    ("verres progressifs", [""], (250, 690)),
    ("verres unifocaux", [""], (80, 240)),
    ("lunettes de soleil", ["acétate", "métal"], (95, 280)),
    ("lentilles", [""], (25, 60)),
]
BRANDS = ["Lafont", "Ray-Ban", "Silhouette", "Oakley", "Essilor", "Zeiss", "Acuvue"]
STORES = ["Lyon Presqu'île", "Villeurbanne"]
SERVICES = ["Examen de vue", "Retrait de lunettes", "Adaptation lentilles", "Ajustement monture"]


def _people(rng: random.Random, count: int) -> list[tuple[str, str]]:
    pairs = [(f, last) for f in FIRST for last in LAST]
    rng.shuffle(pairs)
    return pairs[:count]


@transaction.atomic
def seed_demo(*, customers: int = 50, seed: int = 7) -> tuple[Workspace, bool]:
    """Create the demo workspace once; returns it and whether it was created now."""
    existing = Workspace.objects.filter(name=DEMO_NAME).first()
    if existing is not None:
        return existing, False
    rng = random.Random(seed)
    workspace = workspace_create(name=DEMO_NAME, region="FR")
    tags = {
        t.name: t
        for t in tags_get_or_create(workspace=workspace, names=["VIP", "myope", "presbyte"])
    }
    tz = workspace.tz
    today = timezone.localdate(timezone=tz)  # the shop's today, not UTC's
    tomorrow = today + dt.timedelta(days=1)
    mobiles = []
    for index, (first, last) in enumerate(_people(rng, customers)):
        fixed_line = index % 17 == 16  # a few older customers only have a landline
        raw = (
            f"01 99 00 {index // 100:02d} {index % 100:02d}"
            if fixed_line
            else (f"06 12 34 {index // 100 + 10:02d} {index % 100:02d}")
        )
        phone = parse_phone(raw, region="FR")
        contact = Contact.objects.create(
            workspace=workspace,
            phone=phone.e164,
            number_type=phone.number_type,
            first_name=first,
            last_name=last,
            email=f"{first.lower()}.{last.lower()}@example.fr".replace("é", "e").replace("è", "e"),
            language="fr",
            birthday=dt.date(rng.randint(1940, 2004), rng.randint(1, 12), rng.randint(1, 28)),
            attributes={"fidelity_card": f"OL{10000 + index}"},
        )
        contact.tags.set([t for name, t in tags.items() if rng.random() < 0.2])
        if not fixed_line:
            mobiles.append(contact)
        if rng.random() < 0.85:  # most customers ticked "offers by SMS" at the till
            consent_record(
                contact=contact,
                purposes=["marketing"],
                action=ConsentAction.GRANTED,
                source=ConsentSource.IMPORT,
                proof={"file": "caisse-export.csv", "row": index + 2},
            )
        for _ in range(rng.randint(1, 4)):
            product, materials, (low, high) = rng.choice(PRODUCTS)
            Purchase.objects.create(
                workspace=workspace,
                contact=contact,
                purchased_on=today - dt.timedelta(days=rng.randint(10, 4 * 365)),
                amount=Decimal(rng.randint(low, high)),
                product_type=product,
                material=rng.choice(materials),
                brand=rng.choice(BRANDS),
                store=rng.choice(STORES),
            )
        if index < 4:
            hour = 9 + 2 * index
            Appointment.objects.create(
                workspace=workspace,
                contact=contact,
                starts_at=dt.datetime.combine(tomorrow, dt.time(hour, 30), tzinfo=tz),
                place=STORES[0],
                service=rng.choice(SERVICES),
            )
    seed_inbox_demo(workspace, mobiles)
    return workspace, True


def demo_access(workspace: Workspace) -> tuple[str, str, str]:
    """A fresh password for the demo staff login and a fresh API key, printed by `demo`."""
    password = secrets.token_urlsafe(9)
    user = staff_add(workspace=workspace, username=DEMO_USER, password=password, role=Role.OWNER)
    user.set_password(password)
    user.save(update_fields=["password"])
    get_user_model().objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    _, key = api_key_create(workspace=workspace, name="demo")
    return DEMO_USER, password, key
