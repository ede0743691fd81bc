"""Satisfaction surveys: an automation rule whose message asks "from 1 to 5", and the
scores customers reply with.

A `Survey` turns a rule into a survey (the seeded `purchase_survey` rule of every
workspace is one): replies within `reply_days` of the rule's message are read for a
score. A `SurveyResponse` is one score for one run of the rule (never two: the first
clear reply counts, later ones go to the inbox).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from comptoir.automations.models import AutomationRule, ScheduledRun
from comptoir.contacts.models import Contact
from comptoir.core.models import BaseModel, WorkspaceManager
from comptoir.workspaces.models import Workspace

DEFAULT_LOW_SCORE = 2
DEFAULT_REPLY_DAYS = 7


class Survey(BaseModel):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="surveys")
    rule = models.OneToOneField(AutomationRule, on_delete=models.CASCADE, related_name="survey")
    # A score at or below it opens a priority conversation (and sends the goodwill offer).
    low_score = models.PositiveSmallIntegerField(default=DEFAULT_LOW_SCORE)
    # Sent after a low score, as marketing (consent applies): {first_name}, {shop}.
    goodwill_offer = models.TextField(blank=True)
    # Sent after every score when set (service message): {first_name}, {shop}, {score}.
    thanks = models.TextField(blank=True)
    reply_days = models.PositiveSmallIntegerField(default=DEFAULT_REPLY_DAYS)

    objects = WorkspaceManager["Survey"]()

    def __str__(self) -> str:
        return str(self.rule)


class OfferStatus(models.TextChoices):
    NONE = "", _("No offer")
    QUEUED = "queued", _("Offer sent")
    REFUSED = "refused", _("Offer refused")


class SurveyResponse(BaseModel):
    """A customer's score, `store` from the purchase event ("store" or "place")."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="responses")
    run = models.OneToOneField(ScheduledRun, on_delete=models.CASCADE, related_name="response")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        "messaging.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    score = models.PositiveSmallIntegerField()
    store = models.CharField(max_length=200, blank=True)
    answered_at = models.DateTimeField()
    offer_status = models.CharField(
        max_length=8, choices=OfferStatus.choices, default=OfferStatus.NONE, blank=True
    )
    # Why the offer did not go: the compliance code (no_consent, opted_out…).
    offer_reason = models.CharField(max_length=40, blank=True)
    offer_message = models.ForeignKey(
        "messaging.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = WorkspaceManager["SurveyResponse"]()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(score__gte=1, score__lte=5), name="survey_score_1_5"
            )
        ]
        indexes = [
            models.Index(fields=["workspace", "answered_at"], name="survey_response_time_idx"),
            models.Index(fields=["workspace", "message"], name="survey_response_message_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.score}/5 from {self.contact}"
