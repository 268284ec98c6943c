"""Page forms. They parse and shape input only; the rules (link limits, scopes, expiry, who may review) live in
`services.py`, whose ApplicationError messages the views attach back onto these forms."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from django import forms

from modelmarket.accounts.models import ApiKeyScope, CreatorProfile

LINKS_HELP = "One https:// address per line, up to five."


def _split_lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


class ProfileForm(forms.Form):
    display_name = forms.CharField(
        max_length=80,
        required=False,
        help_text="Shown on your reviews, discussions and creator page. Leave empty to use your email's name.",
        widget=forms.TextInput(attrs={"autocomplete": "nickname"}),
    )
    bio = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 4}))
    links = forms.CharField(
        required=False, help_text=LINKS_HELP, widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})
    )
    avatar = forms.FileField(
        required=False,
        label="Profile picture",
        help_text="JPEG, PNG, WebP or GIF, up to 5 MB. We crop it to a square and remove its metadata.",
        widget=forms.FileInput(
            attrs={"accept": "image/jpeg,image/png,image/webp,image/gif", "data-avatar-input": ""}
        ),
    )
    remove_avatar = forms.BooleanField(required=False, label="Remove my current picture")

    def clean_links(self) -> list[str]:
        return _split_lines(self.cleaned_data["links"])


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="Something you will recognise later, such as the app or server using it.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. production server", "autocomplete": "off"}),
    )
    scopes = forms.MultipleChoiceField(
        choices=ApiKeyScope.choices,
        initial=[ApiKeyScope.INFERENCE],
        required=False,  # the service decides what a valid set of scopes is and says so
        widget=forms.CheckboxSelectMultiple,
        help_text="Give each key only what it needs.",
    )
    expires_on = forms.DateField(
        required=False,
        label="Expires after (optional)",
        help_text="The key stops working at the end of this day (UTC). Leave empty for no expiry.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    requests_per_minute = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=100_000,
        label="Requests per minute (optional)",
        help_text="A lower limit than your account's, for keys you hand to less trusted code.",
    )

    def service_arguments(self) -> dict[str, Any]:
        """The cleaned data as `services.api_key_create` takes it."""
        data = self.cleaned_data
        expires_on = data.get("expires_on")
        return {
            "name": data["name"],
            "scopes": list(data["scopes"]),
            "expires_at": datetime.combine(expires_on + timedelta(days=1), time.min, tzinfo=UTC)
            if expires_on
            else None,
            "requests_per_minute": data.get("requests_per_minute"),
        }


class CreatorProfileForm(forms.Form):
    display_name = forms.CharField(max_length=80, help_text="The name buyers see on your models.")
    bio = forms.CharField(
        max_length=4000,
        help_text="Who you are and what you build. Staff read this when they review your application.",
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    website = forms.CharField(
        max_length=200,
        required=False,
        widget=forms.URLInput(attrs={"placeholder": "https://", "autocomplete": "url"}),
    )
    links = forms.CharField(
        required=False,
        help_text=LINKS_HELP + " For example your Hugging Face or GitHub profile.",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
    )

    @classmethod
    def for_profile(cls, profile: CreatorProfile | None, **kwargs: Any) -> CreatorProfileForm:
        initial = (
            {
                "display_name": profile.display_name,
                "bio": profile.bio,
                "website": profile.website,
                "links": "\n".join(profile.links),
            }
            if profile
            else {}
        )
        return cls(initial=initial, **kwargs)

    def clean_links(self) -> list[str]:
        return _split_lines(self.cleaned_data["links"])


class CreatorReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    note = forms.CharField(
        required=False,
        max_length=2000,
        label="Note to the applicant",
        help_text="Sent with the decision; required in spirit when rejecting, so they know what to change.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
