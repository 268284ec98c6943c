"""PostgreSQL: the full-text index moves from a generated column of the listings table to a narrow side table,
`catalog_aimodel_search`, with one row per public listing (its tsvector and the columns search filters on), kept by
triggers on the listings table.

Why: ranking reads the tsvector of every matching listing. In the wide listings table (cards, provider data, every
counter) a broad prefix such as "instr" (~9,500 of 100,000 listings) visited ~8,000 heap pages and checked each
row's status before ranking: ~50 ms in the database alone. The side table holds only public listings, so no status
check, in rows under half the size (5,300 pages for that search). Ranking still covers every match. The generated
column and its GIN index are dropped, so the tsvector is stored and indexed once (and the listings table shrinks).
SQLite keeps its FTS5 table (migration 0002): nothing changes there.

The triggers fire only when a column the document holds changes (not for counters such as downloads), and a
TRUNCATE of listings empties the documents (Django's test flush truncates tables it knows about)."""

from django.db import migrations

FILTER_COLUMNS = ("task", "license", "commercial_use", "source", "creator_id", "pricing", "rating_average")
DOCUMENT_COLUMNS = ", ".join(FILTER_COLUMNS)
# Every listing column the document is made from: the update trigger fires only when one of them changes.
WATCHED_COLUMNS = ("name", "summary", "search_tags", "creator_name", "card_markdown", "status", "deleted_at")
WATCHED_COLUMNS += FILTER_COLUMNS


def _row(row: str, columns: tuple[str, ...]) -> str:
    return ", ".join(f"{row}.{column}" for column in columns)


PUBLIC = "{row}.status IN ('published', 'deprecated') AND {row}.deleted_at IS NULL"
SEARCH_VECTOR = """
    setweight(to_tsvector('english', coalesce({row}.name, '')), 'A') ||
    setweight(to_tsvector('english', coalesce({row}.search_tags, '')), 'B') ||
    setweight(to_tsvector('english', coalesce({row}.summary, '')), 'B') ||
    setweight(to_tsvector('english', coalesce({row}.creator_name, '')), 'C') ||
    setweight(to_tsvector('english', left(coalesce({row}.card_markdown, ''), 20000)), 'D')
"""

FORWARD = [
    # text, not varchar(n), and numeric without a scale: a later widening of a listing column cannot make the
    # trigger's copy fail. No foreign key: Django's flush truncates only the tables it knows about.
    """CREATE TABLE catalog_aimodel_search (
        model_id bigint PRIMARY KEY,
        search_vector tsvector NOT NULL,
        task text NOT NULL,
        license text NOT NULL,
        commercial_use boolean NOT NULL,
        source text NOT NULL,
        creator_id bigint NOT NULL,
        pricing text NOT NULL,
        rating_average numeric NOT NULL
    )""",
    f"""CREATE FUNCTION catalog_aimodel_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            DELETE FROM catalog_aimodel_search WHERE model_id = OLD.id;
        ELSIF {PUBLIC.format(row="NEW")} THEN
            INSERT INTO catalog_aimodel_search (model_id, search_vector, {DOCUMENT_COLUMNS})
            VALUES (NEW.id, {SEARCH_VECTOR.format(row="NEW")}, {_row("NEW", FILTER_COLUMNS)})
            ON CONFLICT (model_id) DO UPDATE SET (search_vector, {DOCUMENT_COLUMNS})
                = (EXCLUDED.search_vector, {_row("EXCLUDED", FILTER_COLUMNS)});
        ELSE
            DELETE FROM catalog_aimodel_search WHERE model_id = NEW.id;
        END IF;
        RETURN NULL;
    END
    $$""",
    """CREATE FUNCTION catalog_aimodel_search_clear() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE catalog_aimodel_search;
        RETURN NULL;
    END
    $$""",
    """CREATE TRIGGER catalog_aimodel_search_insert AFTER INSERT ON catalog_aimodel
        FOR EACH ROW EXECUTE FUNCTION catalog_aimodel_search_sync()""",
    f"""CREATE TRIGGER catalog_aimodel_search_update AFTER UPDATE ON catalog_aimodel
        FOR EACH ROW WHEN (({_row("OLD", WATCHED_COLUMNS)}) IS DISTINCT FROM ({_row("NEW", WATCHED_COLUMNS)}))
        EXECUTE FUNCTION catalog_aimodel_search_sync()""",
    """CREATE TRIGGER catalog_aimodel_search_delete AFTER DELETE ON catalog_aimodel
        FOR EACH ROW EXECUTE FUNCTION catalog_aimodel_search_sync()""",
    """CREATE TRIGGER catalog_aimodel_search_truncate AFTER TRUNCATE ON catalog_aimodel
        FOR EACH STATEMENT EXECUTE FUNCTION catalog_aimodel_search_clear()""",
    # The triggers hold off writers until commit, so the copy below misses nothing. Copied from the generated
    # column, which has the same expression.
    f"""INSERT INTO catalog_aimodel_search (model_id, search_vector, {DOCUMENT_COLUMNS})
        SELECT id, search_vector, {DOCUMENT_COLUMNS} FROM catalog_aimodel WHERE {PUBLIC.format(row="catalog_aimodel")}""",
    "CREATE INDEX catalog_aimodel_search_vector_idx ON catalog_aimodel_search USING GIN (search_vector)",
    # The filters the listings table has indexes for: text and filter bitmaps combine, as they did there.
    *(
        f"CREATE INDEX catalog_aimodel_search_{column}_idx ON catalog_aimodel_search ({column})"
        for column in ("task", "license", "source", "pricing", "creator_id")
    ),
    "DROP INDEX catalog_aimodel_search_idx",
    "ALTER TABLE catalog_aimodel DROP COLUMN search_vector",
]
REVERSE = [
    f"""ALTER TABLE catalog_aimodel ADD COLUMN search_vector tsvector
        GENERATED ALWAYS AS ({SEARCH_VECTOR.format(row="catalog_aimodel")}) STORED""",
    "CREATE INDEX catalog_aimodel_search_idx ON catalog_aimodel USING GIN (search_vector)",
    "DROP TRIGGER catalog_aimodel_search_truncate ON catalog_aimodel",
    "DROP TRIGGER catalog_aimodel_search_delete ON catalog_aimodel",
    "DROP TRIGGER catalog_aimodel_search_update ON catalog_aimodel",
    "DROP TRIGGER catalog_aimodel_search_insert ON catalog_aimodel",
    "DROP FUNCTION catalog_aimodel_search_clear()",
    "DROP FUNCTION catalog_aimodel_search_sync()",
    "DROP TABLE catalog_aimodel_search",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("catalog", "0004_name_prefix_index")]

    operations = [migrations.RunPython(_run(FORWARD), _run(REVERSE))]
