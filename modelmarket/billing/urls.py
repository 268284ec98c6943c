"""Billing pages. Each area keeps its routes beside its views (`views/<area>.py`), listed here."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
