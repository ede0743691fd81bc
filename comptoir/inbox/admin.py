"""Operators' views of the inbox: conversations and their events read-only, the rest edited
through the same checks as the settings pages (and settings changes audited)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from comptoir.core.errors import ComptoirError
from comptoir.inbox.autoanswers import keywords_clean, variables_for
from comptoir.inbox.models import (
    AutoAnswer,
    Conversation,
    ConversationEvent,
    InboxSettings,
    SavedReply,
    Team,
    TeamMember,
)
from comptoir.inbox.settings_services import (
    SAVED_REPLY_VARIABLES,
    inbox_settings_update,
    inbox_settings_validate,
)
from comptoir.messaging.templating import template_check


def _form_error(form: forms.ModelForm[Any], exc: ComptoirError) -> None:
    """A service's error on the admin field it names (dotted names: their first part)."""
    name = (exc.field or "").split(".", 1)[0]
    form.add_error(name if name in form.fields else None, exc.message)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by the inbox's services only: an edit here would skip their counters."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "workspace", "status", "assignee", "unread", "last_message_at")
    list_filter = ("status",)
    list_select_related = ("contact", "team", "workspace", "assignee")


@admin.register(ConversationEvent)
class ConversationEventAdmin(ReadOnlyAdmin):
    list_display = ("kind", "conversation", "author", "at")
    list_filter = ("kind",)
    list_select_related = ("conversation__contact", "conversation__team", "author")


class InboxSettingsForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = InboxSettings
        fields = (
            "workspace",
            "textback_enabled",
            "textback_open",
            "textback_closed",
            "textback_period_hours",
            "opening_hours",
            "urgent_words",
            "vip_tag",
            "auto_answers_enabled",
            "shop_address",
            "shop_phone",
            "website",
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        values = {n: cleaned[n] for n in self.changed_data if n in cleaned and n != "workspace"}
        try:
            cleaned.update(inbox_settings_validate(values))
        except ComptoirError as exc:
            _form_error(self, exc)
        return cleaned


@admin.register(InboxSettings)
class InboxSettingsAdmin(admin.ModelAdmin):
    form = InboxSettingsForm
    list_display = ("workspace", "textback_enabled", "auto_answers_enabled", "vip_tag")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        values = {n: form.cleaned_data[n] for n in form.changed_data if n != "workspace"}
        inbox_settings_update(workspace=obj.workspace, values=values, actor=request.user)


class TeamMemberInline(admin.TabularInline):  # type: ignore[type-arg]
    model = TeamMember
    raw_id_fields = ("contact", "user")
    extra = 0


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "workspace", "created_at")
    inlines = (TeamMemberInline,)


class SavedReplyForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = SavedReply
        fields = ("workspace", "title", "body")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        try:
            template_check(cleaned.get("body", ""), SAVED_REPLY_VARIABLES, field="body")
        except ComptoirError as exc:
            _form_error(self, exc)
        return cleaned


@admin.register(SavedReply)
class SavedReplyAdmin(admin.ModelAdmin):
    form = SavedReplyForm
    list_display = ("title", "workspace", "updated_at")


class AutoAnswerForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = AutoAnswer
        fields = ("workspace", "name", "keywords", "answer", "topic", "enabled", "position")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        workspace = cleaned.get("workspace")
        if workspace is None:
            return cleaned
        try:
            cleaned["keywords"] = keywords_clean(workspace, cleaned.get("keywords") or [])
            template_check(
                cleaned.get("answer", ""), variables_for(cleaned.get("topic", "")), field="answer"
            )
        except ComptoirError as exc:
            _form_error(self, exc)
        return cleaned


@admin.register(AutoAnswer)
class AutoAnswerAdmin(admin.ModelAdmin):
    form = AutoAnswerForm
    list_display = ("name", "workspace", "position", "enabled", "topic")
    list_filter = ("enabled", "topic")
    ordering = ("workspace", "position", "name")
