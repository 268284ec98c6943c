"""The preferences form. People tick the kinds they want emailed; the service stores the complement (the muted
kinds), so a kind added later is emailed until someone mutes it."""

from __future__ import annotations

from typing import Any

from django import forms

from modelmarket.notifications.models import NotificationKind, NotificationPreference


class NotificationPreferencesForm(forms.Form):
    email_enabled = forms.BooleanField(
        required=False,
        label="Email me notifications",
        help_text="Turn this off to see notifications only here, on the site.",
    )
    emailed_kinds = forms.MultipleChoiceField(
        choices=NotificationKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Email me about",
        help_text="Unticked kinds are not emailed; they still appear on your notifications page.",
    )

    @classmethod
    def for_preference(cls, preference: NotificationPreference) -> NotificationPreferencesForm:
        return cls(
            initial={
                "email_enabled": preference.email_enabled,
                "emailed_kinds": [
                    kind for kind in NotificationKind.values if kind not in preference.muted_kinds
                ],
            }
        )

    def service_arguments(self) -> dict[str, Any]:
        """The cleaned data as `services.notification_preferences_update` takes it."""
        emailed = set(self.cleaned_data["emailed_kinds"])
        return {
            "email_enabled": self.cleaned_data["email_enabled"],
            "muted_kinds": [kind for kind in NotificationKind.values if kind not in emailed],
        }
