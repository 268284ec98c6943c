"""Page forms for creators and catalog staff. They parse and shape input only (text into lists, JSON text into
objects, a date into a moment); the rules (valid tasks and licences, slugs, who publishes, which versions may
change) live in `services/models.py`, whose ApplicationError messages the views attach back onto these forms."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from typing import Any

from django import forms

from modelmarket.catalog.models import AIModel
from modelmarket.catalog.services.models import EDITABLE_FIELDS
from modelmarket.catalog.vocabulary import Modality, Source, Task

LICENSE_DATALIST_ID = "license-options"


def split_tags(value: str) -> list[str]:
    return [tag.strip() for tag in value.split(",") if tag.strip()]


class ListingForm(forms.Form):
    """The fields a creator edits on any listing (the service's EDITABLE_FIELDS)."""

    name = forms.CharField(max_length=120, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    summary = forms.CharField(
        max_length=300,
        required=False,
        help_text="One or two sentences for the catalog card and search results.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    task = forms.ChoiceField(choices=[("", "Choose a task…"), *Task.choices])
    input_modalities = forms.MultipleChoiceField(
        choices=Modality.choices, required=False, widget=forms.CheckboxSelectMultiple, label="Input"
    )
    output_modalities = forms.MultipleChoiceField(
        choices=Modality.choices, required=False, widget=forms.CheckboxSelectMultiple, label="Output"
    )
    license = forms.CharField(
        max_length=64,
        help_text="An SPDX id such as apache-2.0 or mit; pick one from the list or type another.",
        widget=forms.TextInput(
            attrs={"list": LICENSE_DATALIST_ID, "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    commercial_use = forms.BooleanField(required=False, label="Buyers may use it commercially")
    tags = forms.CharField(
        max_length=1000,
        required=False,
        help_text="Comma separated, up to 20. For example: iris, tabular, scikit-learn.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    endpoint_url = forms.URLField(
        max_length=500,
        required=False,
        assume_scheme="https",
        label="Endpoint URL",
        help_text="OpenAI-compatible servers only: the base URL the gateway calls.",
        widget=forms.URLInput(attrs={"placeholder": "https://", "spellcheck": "false"}),
    )
    card_markdown = forms.CharField(
        max_length=100_000,
        required=False,
        label="Card text (markdown)",
        help_text="What it does, how it was trained, its limits and how to call it.",
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "true", "class": "mono"}),
    )

    def clean_tags(self) -> list[str]:
        return split_tags(self.cleaned_data["tags"])


class ListingCreateForm(ListingForm):
    slug = forms.CharField(
        max_length=120,
        required=False,
        label="Address (optional)",
        help_text="Lower-case letters, digits and dashes; part of the model's URL and API path. "
        "Leave empty to derive it from the name. It cannot change later.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    source = forms.ChoiceField(
        choices=Source.choices,
        initial=Source.UPLOADED,
        help_text="Upload files to ModelMarket, or list a model a provider serves. It cannot change later.",
    )
    external_id = forms.CharField(
        max_length=200,
        required=False,
        label="Provider model id",
        help_text="Hugging Face or Replicate only, such as owner/name.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    field_order = [
        "name",
        "slug",
        "summary",
        "task",
        "input_modalities",
        "output_modalities",
        "license",
        "commercial_use",
        "tags",
        "source",
        "external_id",
        "endpoint_url",
        "card_markdown",
    ]

    def service_arguments(self) -> dict[str, Any]:
        """The cleaned data as `model_create` takes it."""
        data = dict(self.cleaned_data)
        data["slug"] = data["slug"].strip() or None
        return data


class ListingEditForm(ListingForm):
    """Only what changed goes to the service: on synced listings every field passed becomes the creator's own and
    provider sync stops updating it."""

    @classmethod
    def for_model(cls, model: AIModel, data: Any = None) -> ListingEditForm:
        initial = {field: getattr(model, field) for field in EDITABLE_FIELDS if field != "tags"}
        initial["tags"] = ", ".join(model.search_tags.split())
        form = cls(data, initial=initial)
        if model.source != Source.OPENAI_COMPATIBLE:
            del form.fields["endpoint_url"]
        return form

    def changes(self) -> dict[str, Any]:
        return {field: self.cleaned_data[field] for field in self.changed_data if field in EDITABLE_FIELDS}


def _json_object(value: str, label: str) -> dict[str, Any] | None:
    if not value.strip():
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise forms.ValidationError(
            f"The {label} is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})."
        ) from None
    if not isinstance(parsed, dict):
        raise forms.ValidationError(f'The {label} must be a JSON object, such as {{"type": "object"}}.')
    return parsed


SCHEMA_WIDGET = forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "mono"})


class VersionCreateForm(forms.Form):
    version = forms.CharField(
        max_length=64,
        help_text="A semantic version: MAJOR.MINOR.PATCH, optionally with -prerelease (1.0.0, 1.1.0-beta.1).",
        widget=forms.TextInput(attrs={"placeholder": "1.0.0", "autocomplete": "off", "spellcheck": "false"}),
    )
    changelog = forms.CharField(
        max_length=20_000,
        required=False,
        help_text="What changed since the previous version. Buyers read this on the model page.",
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    input_schema = forms.CharField(
        required=False,
        max_length=100_000,
        label="Input JSON schema (optional)",
        help_text="A JSON Schema object describing a request's input.",
        widget=SCHEMA_WIDGET,
    )
    output_schema = forms.CharField(
        required=False,
        max_length=100_000,
        label="Output JSON schema (optional)",
        help_text="A JSON Schema object describing the answer.",
        widget=SCHEMA_WIDGET,
    )

    def clean_input_schema(self) -> dict[str, Any] | None:
        return _json_object(self.cleaned_data["input_schema"], "input schema")

    def clean_output_schema(self) -> dict[str, Any] | None:
        return _json_object(self.cleaned_data["output_schema"], "output schema")


class VersionDeprecateForm(forms.Form):
    note = forms.CharField(max_length=500, required=False)
    effective_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def effective_at(self) -> datetime | None:
        """The start of the chosen day in UTC, or None for "now"."""
        day = self.cleaned_data.get("effective_on")
        return datetime.combine(day, time.min, tzinfo=UTC) if day else None


class ModelReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    note = forms.CharField(required=False, max_length=2000)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # The creator can only fix what they are told: a rejection always says why.
        if data.get("decision") == "reject" and not data.get("note", "").strip():
            raise forms.ValidationError("Say what the creator should change when you reject a model.")
        return data
