"""Billing API: one router per area, mounted together under /api/v1/."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["billing"])
