"""What the dispatcher keeps in the database: shared rate limits and their state."""

from __future__ import annotations

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class SharedLimit(models.Model):
    """A provider account several channels send through, and the rate it allows in all.

    Channels join it by naming its `key` in their config (`shared_limit_key`); each still
    keeps its own `rate_limit` too. Set by the operator of the installation, who holds
    the provider account, not by the shops whose channels share it.
    """

    key = models.CharField(
        max_length=100,
        unique=True,
        validators=[
            RegexValidator(r"^[a-z0-9][a-z0-9._:-]*$", _("Lower-case letters, digits, . _ : -"))
        ],
        help_text=_("What channels put in their config as shared_limit_key, e.g. twilio-main."),
    )
    rate_limit = models.FloatField(
        validators=[MinValueValidator(0.01)],
        help_text=_("Segments per second for all the channels sharing this account together."),
    )
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("shared rate limit")

    def __str__(self) -> str:
        return f"{self.key} ({self.rate_limit:g}/s)"


class RateBucket(models.Model):
    """One rate limit's state when it is kept in the database (no Redis configured).

    `tat` is the "theoretical arrival time" of GCRA, in seconds since the epoch: when
    everything granted so far will have been paid for at the limit's rate.
    """

    key = models.CharField(max_length=140, primary_key=True)
    tat = models.FloatField()

    def __str__(self) -> str:
        return f"{self.key} until {self.tat:.3f}"
