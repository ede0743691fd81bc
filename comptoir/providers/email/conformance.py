"""The email adapter's conformance table, against a real SMTP server process (see peer).

Email has no webhooks (its unsubscribe link is a page of its own, tested in
tests/test_provider_email.py), so the table is its sends: one per SMTP answer.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from comptoir.providers.base import Outcome, OutgoingMessage
from comptoir.providers.email.peer import SmtpPeer
from comptoir.providers.testing import Conformance, OutgoingCase

SENDER = "boutique@optique.example"


def _email(
    to: str = "anne@example.net", body: str = "Vos lunettes sont prêtes."
) -> OutgoingMessage:
    return OutgoingMessage(
        reference=str(uuid.uuid4()),
        to=to,
        sender=SENDER,
        body=body,
        encoding="email",
        segments=1,
        subject="Optique Test",
    )


def _stored(sent: OutgoingMessage) -> Callable[[SmtpPeer], None]:
    def check(peer: SmtpPeer) -> None:
        mine = [e for e in peer.emails() if sent.reference in str(e["Message-ID"])]
        assert mine, "the server did not store the email"
        email = mine[-1]  # the harness may run a case twice: same Message-ID, as on a retry
        assert email["To"] == sent.to and email["Subject"] == sent.subject
        assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "/email/unsubscribe/" in str(email["List-Unsubscribe"])
        text, html = email.get_body(("plain",)), email.get_body(("html",))
        assert text is not None and html is not None, "a part is missing"
        assert sent.body in text.get_content()

    return check


def _not_stored(sent: OutgoingMessage) -> Callable[[SmtpPeer], None]:
    def check(peer: SmtpPeer) -> None:
        assert not [e for e in peer.emails() if sent.reference in str(e["Message-ID"])]

    return check


ACCEPTED = _email()
REFUSED = _email("gone@example.net")
BUSY = _email("busy@example.net")
SPAM = _email(body="Gagnez un million")
LOCKED_OUT = _email()
UNREACHABLE = _email()


class EmailConformance(Conformance):
    provider = "email"
    fixtures = Path(__file__).parent / "fixtures"
    address = SENDER
    outgoing = (
        OutgoingCase("accept", ACCEPTED, "accept", Outcome.SENT, _stored(ACCEPTED)),
        OutgoingCase(
            "recipient_refused", REFUSED, "reject", Outcome.REJECTED, _not_stored(REFUSED)
        ),
        OutgoingCase("try_later", BUSY, "tempfail", Outcome.RETRY, _not_stored(BUSY)),
        OutgoingCase("content_refused", SPAM, "reject_data", Outcome.REJECTED, _not_stored(SPAM)),
        OutgoingCase(
            "bad_credentials",
            LOCKED_OUT,
            "bad_credentials",
            Outcome.CONFIG_ERROR,
            _not_stored(LOCKED_OUT),
        ),
        OutgoingCase("server_down", UNREACHABLE, "down", Outcome.RETRY, _not_stored(UNREACHABLE)),
    )

    def channel_values(self, peer: Any) -> tuple[dict[str, Any], dict[str, str]]:
        values: tuple[dict[str, Any], dict[str, str]] = peer.channel_values()
        return values

    @contextmanager
    def peer(self) -> Iterator[Any]:
        with (
            tempfile.TemporaryDirectory(prefix="comptoir-smtp-") as folder,
            SmtpPeer(Path(folder)) as peer,
        ):
            yield peer


CONFORMANCE = EmailConformance()
