"""A btree prefix index on lower(name) for autocomplete on PostgreSQL (SQLite autocompletes through FTS5)."""

from django.db import migrations


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS catalog_aimodel_name_prefix_idx ON catalog_aimodel (lower(name) text_pattern_ops)"
        )


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS catalog_aimodel_name_prefix_idx")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0003_sort_indexes")]

    operations = [migrations.RunPython(forward, backward)]
