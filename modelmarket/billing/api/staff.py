"""Billing API: staff."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["billing"])
