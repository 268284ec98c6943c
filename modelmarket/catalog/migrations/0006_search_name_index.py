"""PostgreSQL: a GIN index on the name's part (weight A) of each search document's vector.

A single word still being typed lists the listings whose name has a word starting with it first
(`catalog.selectors.search.unfinished_word`). This index finds them when few names have the word, and its statistics
tell the planner how many do: when many do, it walks ids backwards and stops at the page instead of reading them all.
ANALYZE gathers those statistics now rather than at autovacuum's next visit. SQLite needs nothing: FTS5 filters the
name column itself (`{name} : ...`)."""

from django.db import migrations

FORWARD = [
    "CREATE INDEX catalog_aimodel_search_name_idx ON catalog_aimodel_search USING GIN (ts_filter(search_vector, '{a}'))",
    "ANALYZE catalog_aimodel_search",
]
REVERSE = ["DROP INDEX IF EXISTS catalog_aimodel_search_name_idx"]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("catalog", "0005_search_documents")]

    operations = [migrations.RunPython(_run(FORWARD), _run(REVERSE))]
