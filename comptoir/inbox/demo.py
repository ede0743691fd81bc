"""The demo shop's inbox: a few customers have written, one called, the team has a thread.

Everything comes in through the simulated carrier's signed webhooks, as in real use, so
the demo's conversations went through the same path as a real customer's text.
"""

from __future__ import annotations

from comptoir.channels.models import Channel
from comptoir.contacts.models import Contact
from comptoir.contacts.phones import parse_phone
from comptoir.contacts.services import contacts_for_phones
from comptoir.inbox.models import SavedReply, Team, TeamMember
from comptoir.inbox.services import inbox_settings
from comptoir.workspaces.models import Workspace

SAVED_REPLIES = [
    (
        "Lunettes prêtes",
        "Bonjour {first_name}, vos lunettes sont prêtes ! Passez quand vous voulez "
        "aux heures d'ouverture. À bientôt, {shop}",
    ),
    ("Rappel", "Bonjour {first_name}, je vous rappelle dans quelques minutes. {shop}"),
    ("Merci", "Merci {first_name|} et belle journée ! {shop}"),
]
STAFF = [("Sophie", "06 12 34 90 01"), ("Karim", "06 12 34 90 02")]


def seed_inbox_demo(workspace: Workspace, customers: list[Contact]) -> None:
    from comptoir.sandbox.carrier import customer_calls, customer_texts

    channel = Channel.objects.get(workspace=workspace, provider="sandbox")
    settings = inbox_settings(workspace)
    settings.shop_address = "12 rue de la République, 69002 Lyon"
    settings.shop_phone = "04 65 71 00 12"
    settings.save(update_fields=["shop_address", "shop_phone"])
    for title, body in SAVED_REPLIES:
        SavedReply.objects.create(workspace=workspace, title=title, body=body)
    _team(workspace)
    texts = [
        (customers[0].phone, "Bonjour, mes lunettes sont-elles prêtes ?"),
        (customers[1].phone, "Ma monture est cassée, vous pouvez la réparer aujourd'hui ? urgent"),
        ("+33612349901", "Bonjour, vous faites les lentilles de couleur ?"),
        (customers[2].phone, "Quels sont vos horaires samedi ?"),
        ("CARTEVITALE", "Votre attestation est disponible dans votre espace."),
    ]
    for sender, text in texts:
        customer_texts(channel=channel, sender=sender, text=text)
    customer_calls(channel=channel, caller=customers[3].phone, outcome="no-answer")


def _team(workspace: Workspace) -> None:
    team = Team.objects.create(workspace=workspace, name="Boutique Presqu'île")
    phones = [parse_phone(raw, region=workspace.region) for _, raw in STAFF]
    by_phone = contacts_for_phones(workspace=workspace, phones=phones)
    for (first_name, _raw), phone in zip(STAFF, phones, strict=True):
        contact = by_phone[phone.e164]
        contact.first_name, contact.is_prospect = first_name, False
        contact.save(update_fields=["first_name", "is_prospect"])
        TeamMember.objects.create(team=team, contact=contact)
