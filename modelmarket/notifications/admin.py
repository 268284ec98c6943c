"""Staff admin: notifications and preferences, read-only (answering "was I told?" and "why no email?")."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from modelmarket.notifications.models import Notification, NotificationPreference


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("user", "kind", "title", "created_at", "read_at", "emailed_at")
    list_filter = (
        "kind",
        ("read_at", admin.EmptyFieldListFilter),
        ("emailed_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("user__email", "title", "dedupe_key")
    list_select_related = ("user",)
    ordering = ("-created_at",)
    date_hierarchy = "created_at"
    fields = ("user", "kind", "title", "body", "url", "dedupe_key", "created_at", "read_at", "emailed_at")
    readonly_fields = fields
    show_full_result_count = False


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(ReadOnlyAdmin):
    list_display = ("user", "email_enabled", "muted_kinds", "updated_at")
    list_filter = ("email_enabled",)
    search_fields = ("user__email",)
    list_select_related = ("user",)
    fields = ("user", "email_enabled", "muted_kinds", "updated_at")
    readonly_fields = fields
