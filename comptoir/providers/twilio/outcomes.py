"""What Twilio's answer to a create request means for the message: one of our outcomes.

Twilio advises against logic on most of its error codes, so only a few are singled out:
the recipient's opt-out (final, and recorded as such) and the codes that say the channel
itself is wrong (every message would fail the same way: they wait for a fix instead).
"""

from __future__ import annotations

from comptoir.providers.base import Outcome, SendResult
from comptoir.providers.twilio.rest import Response, retry_after

# 21610: the recipient replied STOP to this sender (or its messaging service).
STOPPED_CODES = frozenset({"21610"})
# 20003: authentication failed; 21212: the 'From' number is invalid; 21606: the 'From'
# number cannot send SMS for this account.
CONFIG_CODES = frozenset({"20003", "21212", "21606"})
THROTTLE_DEFAULT = 1.0  # seconds, when a 429 names no Retry-After
MAX_REASON = 300


def result_for(response: Response, *, redact: tuple[str, ...]) -> SendResult:
    """The outcome of one create request, its provider id or Twilio's code and message."""
    data = response.json()
    code = str(data.get("code") or "")
    message = str(data.get("message") or "")
    status = response.status
    if status in (200, 201):
        return SendResult.sent(str(data.get("sid") or ""))
    reason = _reason(status, message, redact)
    if status == 429:
        return SendResult(
            Outcome.THROTTLED,
            error_code=code or "http_429",
            reason=reason,
            retry_after=retry_after(response.headers, THROTTLE_DEFAULT),
        )
    if status >= 500:
        seconds = retry_after(response.headers, 0.0)
        return SendResult(
            Outcome.RETRY,
            error_code=code or f"http_{status}",
            reason=reason,
            retry_after=seconds or None,
        )
    if status in (401, 403, 404) or code in CONFIG_CODES:
        # 404 on our own account's URL: the account SID names no account.
        return SendResult(Outcome.CONFIG_ERROR, error_code=code or f"http_{status}", reason=reason)
    if code in STOPPED_CODES:
        return SendResult(Outcome.CONTACT_STOPPED, error_code=code, reason=reason)
    return SendResult(Outcome.REJECTED, error_code=code or f"http_{status}", reason=reason)


def _reason(status: int, message: str, redact: tuple[str, ...]) -> str:
    text = f"Twilio answered {status}: {message}" if message else f"Twilio answered {status}"
    for secret in redact:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text[:MAX_REASON]
