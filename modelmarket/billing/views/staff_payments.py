"""Billing pages: staff_payments."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
