"""Billing pages: wallet."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
