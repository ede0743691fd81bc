"""Email through any SMTP server, with Django's SMTP backend and the channel's own account.

Each channel carries its server, port, account and TLS mode (never the global EMAIL_*
settings, which are the installation's own mail). One `send_many` chunk is one SMTP
connection. What the server answers becomes one of the fixed outcomes:

- accepted → sent, the provider id being the email's Message-ID;
- a 5xx for the recipient or the content → rejected (a bounce: the code and the
  server's words are kept on the message);
- a 4xx, a refused or dropped connection, a timeout → retry later;
- a refused login, a sender the server will not relay, TLS that cannot be set up, a
  setting that cannot work → configuration error (the channel shows the reason and its
  messages wait).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Sequence

from django.core.mail import get_connection
from django.core.mail.backends.smtp import EmailBackend

from comptoir.providers.base import (
    ChannelConfig,
    ConfigField,
    Outcome,
    OutgoingMessage,
    ProviderType,
    SendResult,
)
from comptoir.providers.email.compose import compose, message_id
from comptoir.providers.email.config import (
    DEFAULT_PORT,
    DEFAULT_TIMEOUT,
    BadConfig,
    SmtpSettings,
    sender_check,
    smtp_settings,
)

log = logging.getLogger(__name__)

BACKEND = "django.core.mail.backends.smtp.EmailBackend"


class ConfigError(Exception):
    """Nothing on this channel can be sent until someone fixes it."""

    def __init__(self, result: SendResult) -> None:
        super().__init__(result.reason)
        self.result = result


def _text(error: bytes | str) -> str:
    raw = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
    return " ".join(raw.split())


def _answer(code: int, error: bytes | str, *, final: Outcome) -> SendResult:
    """A server's reply as an outcome: 4xx is temporary, 5xx is `final`."""
    outcome = Outcome.RETRY if 400 <= code < 500 else final
    return SendResult(outcome, error_code=str(code), reason=f"{code} {_text(error)}".strip())


def _connect_failure(exc: Exception, smtp: SmtpSettings) -> SendResult:
    where = f"{smtp.host}:{smtp.port}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return SendResult(
            Outcome.CONFIG_ERROR,
            error_code=str(exc.smtp_code),
            reason=f"{where} refused the username or password: "
            f"{exc.smtp_code} {_text(exc.smtp_error)}",
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return SendResult(
            Outcome.CONFIG_ERROR,
            error_code="smtp_unsupported",
            reason=f"{where} does not offer what the channel asks for: {exc}",
        )
    if isinstance(exc, ssl.SSLError):
        return SendResult(
            Outcome.CONFIG_ERROR,
            error_code="smtp_tls",
            reason=f"TLS with {where} failed ({exc.reason or exc}): check use_tls / use_ssl "
            "and the port",
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return _answer(exc.smtp_code, exc.smtp_error, final=Outcome.RETRY)
    return SendResult(
        Outcome.RETRY,
        error_code="smtp_connect",
        reason=f"cannot reach {where}: {type(exc).__name__}: {exc}",
    )


class EmailType(ProviderType):
    code = "email"
    name = "Email (SMTP)"
    schemes = ("email",)
    config_fields = (
        ConfigField("host", "SMTP server (e.g. smtp.example.com)"),
        ConfigField("port", "Port (587 for STARTTLS, 465 for TLS)", default=DEFAULT_PORT),
        ConfigField("username", "Username", required=False, default=""),
        ConfigField("password", "Password", secret=True, required=False),
        ConfigField("use_tls", "STARTTLS (true/false)", required=False, default=True),
        ConfigField("use_ssl", "TLS from the start (true/false)", required=False, default=False),
        ConfigField("timeout", "Seconds to wait for the server", default=DEFAULT_TIMEOUT),
        ConfigField("from_name", "Sender name shown to customers", required=False, default=""),
        ConfigField("reply_to", "Reply-To address", required=False, default=""),
        ConfigField(
            "unsubscribe_mailto",
            "Mailbox for unsubscribe requests by email (optional)",
            required=False,
            default="",
        ),
    )
    # SMTP servers do not deduplicate: a send lost in a crash is settled, never re-sent.
    idempotent_sends = False
    batch_size = 50

    def check_credentials(self, channel: ChannelConfig) -> str | None:
        try:
            smtp = self._settings(channel)
        except ConfigError as exc:
            return exc.result.reason
        connection = self._connection(smtp)
        try:
            connection.open()
        except OSError as exc:  # smtplib's errors are OSErrors too
            return _connect_failure(exc, smtp).reason
        finally:
            self._close(connection)
        return None

    def send(self, channel: ChannelConfig, message: OutgoingMessage) -> SendResult:
        return self.send_many(channel, [message])[0]

    def send_many(
        self, channel: ChannelConfig, messages: Sequence[OutgoingMessage]
    ) -> list[SendResult]:
        if not messages:
            return []
        try:
            smtp = self._settings(channel)
        except ConfigError as exc:
            return [exc.result] * len(messages)
        connection = self._connection(smtp)
        try:
            connection.open()
        except OSError as exc:
            self._close(connection)
            failure = _connect_failure(exc, smtp)
            log.warning("email channel %s: %s", channel.uuid, failure.reason)
            return [failure] * len(messages)
        results: list[SendResult] = []
        try:
            for message in messages:
                result = self._send_one(channel, smtp, connection, message)
                results.append(result)
                if result.outcome is Outcome.CONFIG_ERROR or result.error_code == "smtp_lost":
                    # The same answer awaits every other message of this chunk.
                    results += [result] * (len(messages) - len(results))
                    break
        finally:
            self._close(connection)
        log.info(
            "email channel %s: %d sent of %d through %s:%s",
            channel.uuid,
            sum(r.outcome is Outcome.SENT for r in results),
            len(messages),
            smtp.host,
            smtp.port,
        )
        return results

    def _settings(self, channel: ChannelConfig) -> SmtpSettings:
        try:
            sender_check(channel.address)
            return smtp_settings(channel.config, channel.secrets)
        except BadConfig as exc:
            raise ConfigError(
                SendResult(Outcome.CONFIG_ERROR, error_code="config", reason=str(exc))
            ) from None

    def _connection(self, smtp: SmtpSettings) -> EmailBackend:
        connection = get_connection(
            BACKEND,
            fail_silently=False,
            host=smtp.host,
            port=smtp.port,
            username=smtp.username,
            password=smtp.password,
            use_tls=smtp.use_tls,
            use_ssl=smtp.use_ssl,
            timeout=smtp.timeout,
        )
        assert isinstance(connection, EmailBackend)
        return connection

    def _close(self, connection: EmailBackend) -> None:
        try:
            connection.close()
        except OSError as exc:  # the messages are settled; a failed QUIT changes nothing
            log.debug("closing an SMTP connection failed: %s", type(exc).__name__)

    def _send_one(
        self,
        channel: ChannelConfig,
        smtp: SmtpSettings,
        connection: EmailBackend,
        message: OutgoingMessage,
    ) -> SendResult:
        try:
            email = compose(channel, smtp, message, connection)
            email.send()
        except smtplib.SMTPRecipientsRefused as exc:
            code, error = next(iter(exc.recipients.values()))
            return _answer(code, error, final=Outcome.REJECTED)
        except smtplib.SMTPSenderRefused as exc:
            # The server will not take mail from this sender: nothing else will go either.
            result = _answer(exc.smtp_code, exc.smtp_error, final=Outcome.CONFIG_ERROR)
            if result.outcome is Outcome.CONFIG_ERROR:
                reason = f"the server refused the sender {channel.address}: {result.reason}"
                return SendResult(Outcome.CONFIG_ERROR, error_code=result.error_code, reason=reason)
            return result
        except smtplib.SMTPResponseException as exc:  # DATA refused, or any other reply
            return _answer(exc.smtp_code, exc.smtp_error, final=Outcome.REJECTED)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            # Lost mid-conversation: this and the rest go again later, with the same
            # Message-ID, so a copy that did arrive is recognisable.
            return SendResult(
                Outcome.RETRY,
                error_code="smtp_lost",
                reason=f"connection to {smtp.host}:{smtp.port} lost: {type(exc).__name__}",
            )
        except ValueError as exc:  # an address Django cannot encode
            return SendResult(Outcome.REJECTED, error_code="invalid_address", reason=str(exc))
        return SendResult.sent(message_id(message.reference, channel.address))
