"""An email channel's SMTP settings, read from its config as typed into a form.

The channel set-up form stores what people type (strings); this turns them into typed
values once, and names the field when one is wrong, so a send can answer
`config_error` with a reason the shop can act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})
DEFAULT_PORT = 587
DEFAULT_TIMEOUT = 10.0


class BadConfig(ValueError):
    """A channel value that cannot work; the message names the field."""


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    username: str
    password: str
    use_tls: bool  # STARTTLS after connecting (port 587)
    use_ssl: bool  # TLS from the first byte (port 465)
    timeout: float
    from_name: str
    reply_to: str
    unsubscribe_mailto: str

    def __repr__(self) -> str:
        # Never the password, whatever prints this.
        return f"SmtpSettings(host={self.host!r}, port={self.port}, username={self.username!r})"


def _flag(config: Mapping[str, Any], name: str) -> bool:
    value = config.get(name, False)
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise BadConfig(f"{name}: {value!r} is not yes or no (use true or false)")


def _number(config: Mapping[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = config.get(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadConfig(f"{name}: {value!r} is not a number") from None
    if not low <= number <= high:
        raise BadConfig(f"{name}: {value!r} is not between {low:g} and {high:g}")
    return number


def _address(config: Mapping[str, Any], name: str) -> str:
    value = str(config.get(name) or "").strip()
    if value:
        try:
            validate_email(value)
        except DjangoValidationError:
            raise BadConfig(f"{name}: {value!r} is not an email address") from None
    return value


def sender_check(address: str) -> str:
    """The channel's sender (its address) when it is an email address, else BadConfig."""
    try:
        validate_email(address)
    except DjangoValidationError:
        raise BadConfig(
            f"address: the channel's sender {address!r} is not an email address"
        ) from None
    return address


def smtp_settings(config: Mapping[str, Any], secrets: Mapping[str, str]) -> SmtpSettings:
    """The typed settings of a channel; BadConfig names the first wrong field."""
    host = str(config.get("host") or "").strip()
    if not host:
        raise BadConfig("host: the SMTP server's name is missing")
    port = _number(config, "port", DEFAULT_PORT, 1, 65535)
    if port != int(port):
        raise BadConfig(f"port: {config.get('port')!r} is not a whole number")
    use_tls, use_ssl = _flag(config, "use_tls"), _flag(config, "use_ssl")
    if use_tls and use_ssl:
        raise BadConfig("use_tls, use_ssl: choose one (STARTTLS on 587, or TLS on 465)")
    unsubscribe = str(config.get("unsubscribe_mailto") or "").strip()
    unsubscribe = _address(
        {"unsubscribe_mailto": unsubscribe.removeprefix("mailto:")}, "unsubscribe_mailto"
    )
    return SmtpSettings(
        host=host,
        port=int(port),
        username=str(config.get("username") or "").strip(),
        password=secrets.get("password") or "",
        use_tls=use_tls,
        use_ssl=use_ssl,
        timeout=_number(config, "timeout", DEFAULT_TIMEOUT, 1, 300),
        from_name=" ".join(str(config.get("from_name") or "").split()),
        reply_to=_address(config, "reply_to"),
        unsubscribe_mailto=unsubscribe,
    )
