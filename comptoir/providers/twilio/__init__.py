"""Twilio: SMS and voice through Twilio's REST API and webhooks."""

from comptoir.providers.twilio.type import TwilioType

__all__ = ["TwilioType"]
