"""Who hears that outgoing messages failed (refused by the provider, undelivered, a call
not answered): automations try the rule's next channel.

Whatever moves a message to `failed` calls `messages_failed` inside its transaction; the
steps run after commit, so a step's trouble never loses the receipt that caused it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence

from django.db import transaction

log = logging.getLogger(__name__)

FailedStep = Callable[[Sequence[uuid.UUID]], object]
FAILED_STEPS: list[FailedStep] = []


def messages_failed(message_ids: Sequence[uuid.UUID]) -> None:
    """Tell the registered steps, after commit, that these outgoing messages failed."""
    ids = list(message_ids)
    if not ids or not FAILED_STEPS:
        return

    def run() -> None:
        for step in FAILED_STEPS:
            try:
                step(ids)
            except Exception:
                log.exception("failed-message step %s raised", getattr(step, "__name__", step))

    transaction.on_commit(run)
