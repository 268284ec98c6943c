"""Full-text search, by database: an FTS5 table kept by triggers on SQLite; a generated, weighted tsvector with a GIN
index and a trigram index for autocomplete on PostgreSQL. `catalog.selectors.search` is the only reader."""

from django.db import migrations

SQLITE_FORWARD = [
    """CREATE VIRTUAL TABLE catalog_aimodel_fts USING fts5(
        name, summary, search_tags, creator_name, card_markdown,
        content='catalog_aimodel', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2', prefix='2 3 4'
    )""",
    """CREATE TRIGGER catalog_aimodel_fts_insert AFTER INSERT ON catalog_aimodel BEGIN
        INSERT INTO catalog_aimodel_fts(rowid, name, summary, search_tags, creator_name, card_markdown)
        VALUES (new.id, new.name, new.summary, new.search_tags, new.creator_name, new.card_markdown);
    END""",
    """CREATE TRIGGER catalog_aimodel_fts_delete AFTER DELETE ON catalog_aimodel BEGIN
        INSERT INTO catalog_aimodel_fts(catalog_aimodel_fts, rowid, name, summary, search_tags, creator_name,
            card_markdown)
        VALUES ('delete', old.id, old.name, old.summary, old.search_tags, old.creator_name, old.card_markdown);
    END""",
    """CREATE TRIGGER catalog_aimodel_fts_update
    AFTER UPDATE OF name, summary, search_tags, creator_name, card_markdown ON catalog_aimodel BEGIN
        INSERT INTO catalog_aimodel_fts(catalog_aimodel_fts, rowid, name, summary, search_tags, creator_name,
            card_markdown)
        VALUES ('delete', old.id, old.name, old.summary, old.search_tags, old.creator_name, old.card_markdown);
        INSERT INTO catalog_aimodel_fts(rowid, name, summary, search_tags, creator_name, card_markdown)
        VALUES (new.id, new.name, new.summary, new.search_tags, new.creator_name, new.card_markdown);
    END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS catalog_aimodel_fts_update",
    "DROP TRIGGER IF EXISTS catalog_aimodel_fts_delete",
    "DROP TRIGGER IF EXISTS catalog_aimodel_fts_insert",
    "DROP TABLE IF EXISTS catalog_aimodel_fts",
]
POSTGRES_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """ALTER TABLE catalog_aimodel ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', coalesce(name, '')), 'A') ||
        setweight(to_tsvector('english', coalesce(search_tags, '')), 'B') ||
        setweight(to_tsvector('english', coalesce(summary, '')), 'B') ||
        setweight(to_tsvector('english', coalesce(creator_name, '')), 'C') ||
        setweight(to_tsvector('english', left(coalesce(card_markdown, ''), 20000)), 'D')
    ) STORED""",
    "CREATE INDEX catalog_aimodel_search_idx ON catalog_aimodel USING GIN (search_vector)",
    "CREATE INDEX catalog_aimodel_name_trgm_idx ON catalog_aimodel USING GIN (lower(name) gin_trgm_ops)",
]
POSTGRES_REVERSE = [
    "DROP INDEX IF EXISTS catalog_aimodel_name_trgm_idx",
    "DROP INDEX IF EXISTS catalog_aimodel_search_idx",
    "ALTER TABLE catalog_aimodel DROP COLUMN IF EXISTS search_vector",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise RuntimeError(f"No full-text search support for {schema_editor.connection.vendor}")
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRES_REVERSE}),
        )
    ]
