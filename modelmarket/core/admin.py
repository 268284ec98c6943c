"""Staff admin for the platform's own bookkeeping: read-only, for answering "did my retry replay?"."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from modelmarket.core.models import IdempotencyRecord


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    # The stored response is left out: it is encrypted, and may hold a secret that was shown once (a new API key).
    list_display = ("owner", "scope", "key", "response_status", "created_at")
    search_fields = ("owner", "key")
    list_filter = ("response_status",)
    ordering = ("-created_at",)
    fields = ("owner", "scope", "key", "request_sha256", "response_status", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
