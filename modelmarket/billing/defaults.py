"""The currencies DESIGN.md names, in one place: the data migration seeds them, and tests that flush the database
(transactional tests) put them back. Helio's currency ids are not here: they are resolved from Helio at run time."""

from __future__ import annotations

# code, name, decimals, is_crypto, chain Helio settles it on
DEFAULT_CURRENCIES: tuple[tuple[str, str, int, bool, str], ...] = (
    ("USD", "US dollar", 2, False, ""),
    ("USDC", "USD Coin", 6, True, "solana"),
    ("SOL", "Solana", 9, True, "solana"),
    ("ETH", "Ether", 18, True, "ethereum"),
    ("BTC", "Bitcoin", 8, True, "bitcoin"),
)


def default_currencies_ensure(currency_model: type) -> None:
    """Create the default currencies that are missing (leaves existing rows as they are)."""
    if currency_model.objects.count() >= len(DEFAULT_CURRENCIES):  # type: ignore[attr-defined]
        return
    for code, name, decimals, is_crypto, chain in DEFAULT_CURRENCIES:
        currency_model.objects.get_or_create(  # type: ignore[attr-defined]
            code=code, defaults={"name": name, "decimals": decimals, "is_crypto": is_crypto, "chain": chain}
        )
