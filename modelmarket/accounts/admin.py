"""Staff admin for people, creator applications and API keys.

Admin actions call the same services the API and pages call. API keys are read-only here: only their prefix is ever
shown (the stored SHA-256 is left out of every page), and the one write is "revoke".
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest

from modelmarket.accounts import roles, services
from modelmarket.accounts.models import ApiKey, CreatorProfile, User
from modelmarket.core.exceptions import ApplicationError


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin on our email-login user. Passwords change only through Django's own password form."""

    form = UserEditForm
    add_form = UserCreationForm
    list_display = ("email", "display_name", "role_names", "is_active", "date_joined", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser", "groups")
    search_fields = ("email", "display_name")
    ordering = ("email",)
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("display_name", "bio", "links", "avatar")}),
        (
            "Roles and permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "usable_password", "password1", "password2")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="roles")
    def role_names(self, user: User) -> str:
        names = {group.name for group in user.groups.all()}
        if user.is_superuser:
            names.add(roles.ADMIN)
        return ", ".join(
            ["buyer", *[role for role in (roles.CREATOR, roles.MODERATOR, roles.ADMIN) if role in names]]
        )


@admin.register(CreatorProfile)
class CreatorProfileAdmin(admin.ModelAdmin):
    """Applications are made by people and decided with the "verify" and "reject" actions, never by editing."""

    list_display = ("display_name", "user", "status", "created_at", "reviewed_by", "reviewed_at")
    list_filter = ("status",)
    list_select_related = ("user", "reviewed_by")
    search_fields = ("display_name", "user__email")
    ordering = ("status", "created_at")
    fields = (
        "user",
        "display_name",
        "bio",
        "website",
        "links",
        "status",
        "reviewed_by",
        "reviewed_at",
        "review_note",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    actions = ("verify", "reject")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.review_creatorprofile")

    def _review(self, request: HttpRequest, queryset: QuerySet[CreatorProfile], *, approve: bool) -> None:
        done = 0
        for profile in queryset:
            try:
                services.creator_profile_review(actor=request.user, profile_id=profile.pk, approve=approve)  # type: ignore[arg-type]
                done += 1
            except ApplicationError as error:
                self.message_user(request, f"{profile}: {error.message}", messages.ERROR)
        if done:
            outcome = "verified" if approve else "rejected"
            self.message_user(request, f"{done} application(s) {outcome}.", messages.SUCCESS)

    @admin.action(description="Verify the selected applications", permissions=["review"])
    def verify(self, request: HttpRequest, queryset: QuerySet[CreatorProfile]) -> None:
        self._review(request, queryset, approve=True)

    @admin.action(description="Reject the selected applications", permissions=["review"])
    def reject(self, request: HttpRequest, queryset: QuerySet[CreatorProfile]) -> None:
        self._review(request, queryset, approve=False)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created by their owners (or `manage.py create_api_key`); staff can look and revoke."""

    list_display = (
        "prefix",
        "name",
        "user",
        "scope_names",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "created_at")
    list_select_related = ("user",)
    search_fields = ("prefix", "name", "user__email")
    ordering = ("-created_at",)
    # `key_sha256` is deliberately in none of these: it must never be shown.
    fields = (
        "prefix",
        "name",
        "user",
        "scope_names",
        "requests_per_minute",
        "spend_cap_minor",
        "spend_cap_currency",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    readonly_fields = fields
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.change_apikey")

    @admin.display(description="scopes")
    def scope_names(self, key: ApiKey) -> str:
        return ", ".join(key.scopes)

    @admin.action(description="Revoke the selected keys", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset.select_related("user"):
            services.api_key_revoke(user=key.user, key_id=key.pk)
        self.message_user(request, f"{queryset.count()} key(s) revoked.", messages.SUCCESS)
