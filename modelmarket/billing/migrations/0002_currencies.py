"""The currencies DESIGN.md names (`billing/defaults.py`). Helio's ids are resolved from Helio at run time."""

from django.db import migrations

from modelmarket.billing.defaults import default_currencies_ensure


def seed(apps, schema_editor):
    default_currencies_ensure(apps.get_model("billing", "Currency"))


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
