"""A scripted provider for dispatcher and reaper tests: the body says what happens.

Unlike the sandbox it does not deduplicate references (like most real providers), so
the reaper must never re-send its messages blindly.
"""

from __future__ import annotations

from comptoir.providers.base import (
    ChannelConfig,
    Outcome,
    OutgoingMessage,
    ProviderType,
    SendResult,
)

SENT: list[str] = []  # references handed to the "provider", in order


class ScriptedType(ProviderType):
    code = "scripted"
    name = "Scripted (tests)"
    idempotent_sends = False

    def send(self, channel: ChannelConfig, message: OutgoingMessage) -> SendResult:
        SENT.append(message.reference)
        outcomes = {
            "retry": SendResult(Outcome.RETRY, error_code="timeout", reason="connect timeout"),
            "reject": SendResult(Outcome.REJECTED, error_code="21211", reason="invalid 'To'"),
            "stop": SendResult(Outcome.CONTACT_STOPPED, error_code="21610", reason="replied STOP"),
            "config": SendResult(
                Outcome.CONFIG_ERROR, error_code="20003", reason="bad credentials"
            ),
        }
        if message.body == "boom":
            raise RuntimeError("adapter bug")
        return outcomes.get(message.body, SendResult.sent(f"SC{len(SENT)}"))
