"""Roles are Django groups with permissions. Buyer is everyone; creator, moderator and admin are groups.

`roles_sync` runs after every migrate (and after a test flush), so the groups and their permissions always exist.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission

CREATOR = "creator"
MODERATOR = "moderator"
ADMIN = "admin"

# Permission codenames per role, as "app_label.codename". Admin gets every permission of our own apps.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    CREATOR: [],
    MODERATOR: [
        "accounts.review_creatorprofile",
        "accounts.view_creatorprofile",
        "accounts.view_user",
        "catalog.moderate_aimodel",
        "catalog.view_aimodel",
    ],
}
OUR_APPS = ("accounts", "core", "catalog")


def roles_sync(**_: Any) -> None:
    # post_migrate reaches apps in INSTALLED_APPS order, so later apps may not have their permissions yet.
    for label in OUR_APPS:
        create_permissions(apps.get_app_config(label), verbosity=0)
    for role in (CREATOR, MODERATOR, ADMIN):
        Group.objects.get_or_create(name=role)
    for role, names in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        permissions = [
            permission
            for permission in Permission.objects.filter(content_type__app_label__in=OUR_APPS).select_related(
                "content_type"
            )
            if f"{permission.content_type.app_label}.{permission.codename}" in names
        ]
        group.permissions.set(permissions)
    Group.objects.get(name=ADMIN).permissions.set(
        Permission.objects.filter(content_type__app_label__in=(*OUR_APPS, "auth", "account", "socialaccount"))
    )
