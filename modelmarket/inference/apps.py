from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def _cached_data_changed(**_: Any) -> None:
    from modelmarket.core.generation import generation_bump

    generation_bump()


class InferenceConfig(AppConfig):
    name = "modelmarket.inference"
    label = "inference"

    def ready(self) -> None:
        # Infrastructure, not domain flow: the services bump the gateway's cache generation themselves; these
        # catch saves made elsewhere (the admin, the shell), so a key or listing changed there is not served stale.
        from modelmarket.accounts.models import ApiKey, User
        from modelmarket.catalog.models import AIModel, ModelFile, ModelVersion
        from modelmarket.inference.models import ListingGatewayConfig

        for model in (User, ApiKey, AIModel, ModelVersion, ModelFile, ListingGatewayConfig):
            label = model._meta.label_lower
            post_save.connect(_cached_data_changed, sender=model, dispatch_uid=f"gateway-cache-save-{label}")
            post_delete.connect(
                _cached_data_changed, sender=model, dispatch_uid=f"gateway-cache-delete-{label}"
            )
        # Gateways keep pay-as-you-go balances in Redis: every committed ledger change refreshes the wallets it moved
        # (top-ups, refunds, booked usage), whichever process made it.
        from modelmarket.billing.services.ledger import balance_listener_add
        from modelmarket.inference.gateway.credit import redis_balances_refresh

        balance_listener_add(redis_balances_refresh)
