"""Saved segments, and the questions customers answer by text to profile themselves."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from comptoir.contacts.models import Contact
from comptoir.core.models import BaseModel, WorkspaceManager
from comptoir.messaging.models import Message
from comptoir.workspaces.models import Workspace


class Segment(BaseModel):
    """A saved filter over a workspace's contacts; its definition is described in
    comptoir.segments.definition and evaluated as one SQL query (comptoir.segments.query)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="segments")
    name = models.CharField(max_length=100)
    definition = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = WorkspaceManager["Segment"]()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="segment_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class ProfilingQuestion(BaseModel):
    """A text asking customers their interests ("Reply 1 gold, 2 silver, 3 watches").

    `options` is a list of {"number": 1, "name": "gold", "words": ["or"]}: an answer naming
    the number, the name or one of the words tags the contact `interest:<name>`.
    """

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="profiling_questions"
    )
    name = models.CharField(max_length=100)
    text = models.TextField()
    options = models.JSONField(default=list)
    # Replies count as answers only this many days after the question was sent.
    answer_days = models.PositiveSmallIntegerField(default=7)

    objects = WorkspaceManager["ProfilingQuestion"]()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "name"], name="profiling_question_name_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ProfilingSend(models.Model):
    """A question texted to a contact: only they may answer it, and only for a while."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    question = models.ForeignKey(ProfilingQuestion, on_delete=models.CASCADE, related_name="sends")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    # The interests the answer gave, as tag names ("interest:gold").
    answer_tags = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "contact", "sent_at"], name="profiling_send_idx"),
        ]
        verbose_name = _("profiling send")

    def __str__(self) -> str:
        return f"{self.question_id} to {self.contact_id} at {self.sent_at}"
