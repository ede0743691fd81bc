"""The survey settings form: it reads what was typed; survey_save judges it."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _lazy

from comptoir.core.errors import ComptoirError
from comptoir.surveys.models import DEFAULT_LOW_SCORE, DEFAULT_REPLY_DAYS, Survey


class SurveyForm(forms.Form):
    low_score = forms.IntegerField(
        label=_lazy("Low score"),
        initial=DEFAULT_LOW_SCORE,
        help_text=_lazy(
            "A score at or below it puts the conversation on top of the inbox (0: never)."
        ),
    )
    reply_days = forms.IntegerField(
        label=_lazy("Replies read for (days)"), initial=DEFAULT_REPLY_DAYS
    )
    goodwill_offer = forms.CharField(
        label=_lazy("Goodwill offer after a low score (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_lazy(
            "Sent as marketing: only to customers who agreed. {first_name}, {last_name}, {shop}."
        ),
    )
    thanks = forms.CharField(
        label=_lazy("Thank-you after every score (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_lazy("{first_name}, {last_name}, {shop}, {score}."),
    )

    @classmethod
    def initial_for(cls, survey: Survey | None) -> dict[str, object]:
        if survey is None:
            return {}
        return {
            "low_score": survey.low_score,
            "reply_days": survey.reply_days,
            "goodwill_offer": survey.goodwill_offer,
            "thanks": survey.thanks,
        }

    def service_error(self, exc: ComptoirError) -> None:
        """Put a service error on the input it names."""
        self.add_error(exc.field if exc.field in self.fields else None, exc.message)
