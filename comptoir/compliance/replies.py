"""What a customer's keyword does: STOP, START and HELP, answered once and recorded."""

from __future__ import annotations

from collections.abc import Sequence

from comptoir.compliance.consent import consent_record, opted_out
from comptoir.compliance.keywords import KeywordKind, keyword_table, languages_understood, match
from comptoir.compliance.models import ConsentAction, ConsentSource, WorkspaceKeyword
from comptoir.messaging.models import Message, Purpose
from comptoir.messaging.outbox import SendRequest, messages_send
from comptoir.workspaces.memo import workspace_memo
from comptoir.workspaces.models import Workspace

BOTH = ("marketing", "service")

# Customer-facing answers, per language; {shop} is the workspace's name.
ANSWERS = {
    "fr": {
        "opt_out_confirmation": "{shop} : vous ne recevrez plus nos SMS. "
        "Envoyez START pour vous réabonner.",
        "opt_in_confirmation": "{shop} : c'est noté, vous recevez de nouveau nos SMS. "
        "STOP pour vous désabonner.",
        "help_reply": "{shop} : SMS sur vos rendez-vous, commandes et offres. "
        "Répondez STOP pour ne plus en recevoir.",
    },
    "en": {
        "opt_out_confirmation": "{shop}: you will receive no more texts from us. "
        "Reply START to resubscribe.",
        "opt_in_confirmation": "{shop}: you are subscribed again. Reply STOP to opt out.",
        "help_reply": "{shop}: texts about your appointments, orders and offers. "
        "Reply STOP to opt out.",
    },
}


def _answer(message: Message, kind: str) -> SendRequest:
    workspace = message.workspace
    language = (message.contact.language if message.contact else "") or workspace.language
    text = ANSWERS.get(language, ANSWERS["en"])[kind].format(shop=workspace.name)
    return SendRequest(
        to=str(message.contact_id),
        body=text,
        purpose=Purpose.TRANSACTIONAL,
        idempotency_key=f"{kind}:{message.id}",  # a webhook replayed answers once
        kind=kind,
    )


def workspace_keywords(workspace: Workspace) -> dict[str, KeywordKind]:
    """The keywords a workspace understands: built-in for its languages, and its own."""

    def load() -> dict[str, KeywordKind]:
        extra = WorkspaceKeyword.objects.filter(workspace=workspace).values_list("word", "kind")
        return keyword_table(languages_understood(workspace.language), extra)

    return workspace_memo(workspace, "keywords", load)


def keywords_apply(messages: Sequence[Message]) -> None:
    """Act on keyword messages inside the transaction that stores them."""
    for message in messages:
        contact = message.contact
        if contact is None:
            continue  # an alphanumeric sender cannot opt in or out
        workspace = message.workspace
        kind = match(message.body, workspace_keywords(workspace))
        if kind is None:
            continue
        # Marked, so later steps (auto-answers, the inbox's unanswered count) leave it be.
        message.kind = f"keyword_{kind.value}"
        Message.objects.filter(id=message.id).update(kind=message.kind)
        proof = {"message_id": str(message.id), "text": message.body}
        was_out = opted_out(contact)
        answers = []
        if kind is KeywordKind.OPT_OUT:
            consent_record(
                contact=contact,
                purposes=BOTH,
                action=ConsentAction.REVOKED,
                source=ConsentSource.KEYWORD,
                proof=proof,
            )
            if not was_out:  # confirmed once, not at every repeated STOP
                answers.append(_answer(message, "opt_out_confirmation"))
        elif kind is KeywordKind.OPT_IN and was_out:
            # YES/OUI also answer reminders: they only re-subscribe someone who left.
            consent_record(
                contact=contact,
                purposes=BOTH,
                action=ConsentAction.GRANTED,
                source=ConsentSource.KEYWORD,
                proof=proof,
            )
            answers.append(_answer(message, "opt_in_confirmation"))
        elif kind is KeywordKind.HELP:
            answers.append(_answer(message, "help_reply"))
        if answers:
            messages_send(workspace=workspace, requests=answers)
