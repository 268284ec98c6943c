"""The currencies DESIGN.md names. Helio's ids are not seeded: they are resolved from Helio at run time."""

from django.db import migrations

CURRENCIES = [
    # code, name, decimals, is_crypto, chain
    ("USD", "US dollar", 2, False, ""),
    ("USDC", "USD Coin", 6, True, "solana"),
    ("SOL", "Solana", 9, True, "solana"),
    ("ETH", "Ether", 18, True, "ethereum"),
    ("BTC", "Bitcoin", 8, True, "bitcoin"),
]


def seed(apps, schema_editor):
    Currency = apps.get_model("billing", "Currency")
    for code, name, decimals, is_crypto, chain in CURRENCIES:
        Currency.objects.update_or_create(
            code=code, defaults={"name": name, "decimals": decimals, "is_crypto": is_crypto, "chain": chain}
        )


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
