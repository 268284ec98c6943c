"""Keeps the SQLite full-text index attached to the listings table.

Django rebuilds a SQLite table for many schema changes (a new constraint, a changed column) by copying it to a new
table and renaming; triggers on the old table vanish with it, and the FTS5 index would silently stop following
listings. `search_index_ensure` re-creates what is missing and rebuilds the index when it had been detached. It runs
in migrations that rebuild the table and, as a safety net, after every `migrate` (see CatalogConfig.ready).

PostgreSQL needs nothing here: its search documents (`catalog_aimodel_search`, one row per public listing, migration
0005) are written by triggers on the listings table, and PostgreSQL keeps triggers through every ALTER TABLE. Two
things do bypass them: renaming a listing column the trigger function reads (writes then fail loudly, so tests catch
it) and loading listings with triggers off (`pg_restore --disable-triggers`, `session_replication_role = replica`);
after such a load, refill the documents with the trigger function's statement (migration 0005) for every listing."""

from __future__ import annotations

from typing import Any

FTS_TABLE = "catalog_aimodel_fts"
TRIGGERS = {
    "catalog_aimodel_fts_insert": """CREATE TRIGGER IF NOT EXISTS catalog_aimodel_fts_insert
        AFTER INSERT ON catalog_aimodel BEGIN
        INSERT INTO catalog_aimodel_fts(rowid, name, summary, search_tags, creator_name, card_markdown)
        VALUES (new.id, new.name, new.summary, new.search_tags, new.creator_name, new.card_markdown);
    END""",
    "catalog_aimodel_fts_delete": """CREATE TRIGGER IF NOT EXISTS catalog_aimodel_fts_delete
        AFTER DELETE ON catalog_aimodel BEGIN
        INSERT INTO catalog_aimodel_fts(catalog_aimodel_fts, rowid, name, summary, search_tags, creator_name, card_markdown)
        VALUES ('delete', old.id, old.name, old.summary, old.search_tags, old.creator_name, old.card_markdown);
    END""",
    "catalog_aimodel_fts_update": """CREATE TRIGGER IF NOT EXISTS catalog_aimodel_fts_update
        AFTER UPDATE OF name, summary, search_tags, creator_name, card_markdown ON catalog_aimodel BEGIN
        INSERT INTO catalog_aimodel_fts(catalog_aimodel_fts, rowid, name, summary, search_tags, creator_name, card_markdown)
        VALUES ('delete', old.id, old.name, old.summary, old.search_tags, old.creator_name, old.card_markdown);
        INSERT INTO catalog_aimodel_fts(rowid, name, summary, search_tags, creator_name, card_markdown)
        VALUES (new.id, new.name, new.summary, new.search_tags, new.creator_name, new.card_markdown);
    END""",
}


def search_index_ensure(connection: Any) -> bool:
    """Re-attach the FTS5 index to `catalog_aimodel` on SQLite; returns True when anything had to be repaired."""
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        present = {row[0] for row in cursor.fetchall()}
        if "catalog_aimodel" not in present or FTS_TABLE not in present:
            return False  # before migration 0002: it creates both
        missing = [name for name in TRIGGERS if name not in present]
        for name in missing:
            cursor.execute(TRIGGERS[name])
        if missing:
            cursor.execute("INSERT INTO catalog_aimodel_fts(catalog_aimodel_fts) VALUES ('rebuild')")
    return bool(missing)
