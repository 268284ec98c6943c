"""The catalog's one Router. Endpoint modules register on it; `catalog.api` imports them in an order that keeps
fixed paths (/models/autocomplete) ahead of parameterised ones (/models/{slug})."""

from ninja import Router

router = Router(tags=["catalog"])
