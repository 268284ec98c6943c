from __future__ import annotations

from functools import cached_property
from typing import Any

from django.http import HttpRequest

from modelmarket.accounts import selectors
from modelmarket.accounts.models import CreatorProfile


class AccountMenu:
    """What the header's account menu and the account section's nav need, read lazily through the selectors so
    pages that never show the menu (or anonymous visitors) do not query."""

    def __init__(self, user: Any) -> None:
        self._user = user

    @cached_property
    def creator_profile(self) -> CreatorProfile | None:
        return selectors.creator_profile_for(user=self._user) if self._user.is_authenticated else None

    @cached_property
    def is_moderator(self) -> bool:
        return selectors.user_is_moderator(self._user)


def account_menu(request: HttpRequest) -> dict[str, object]:
    """Every page's `account_menu` (see TEMPLATES in settings)."""
    return {"account_menu": AccountMenu(request.user)}
