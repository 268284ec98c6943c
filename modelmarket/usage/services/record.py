"""Recording usage: batches of usage events with their rollups, in one transaction.

`usage_events_record` is the one writer of events and rollups. It runs in the gateway's flush thread, so it is
written for speed (one `INSERT ... ON CONFLICT DO NOTHING RETURNING` for the events, one
`INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n` per rollup table, whatever the batch size) and so that a
batch never becomes poison: references to rows deleted since the call (a user, key or version) are cleared rather
than left dangling, out-of-range numbers are clamped, long strings cut to their column's size and NUL characters
dropped."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, cast

import orjson
from django.db import connection, connections, transaction
from django.db.models import CompositePrimaryKey, Field, Model
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from modelmarket.accounts.models import ApiKey, User
from modelmarket.catalog.models import AIModel, ModelVersion
from modelmarket.usage.events import UsageRecord, UsageSource, UsageStatus
from modelmarket.usage.latency import latency_bucket
from modelmarket.usage.models import (
    ModelBuyerDays,
    ModelLatencyDaily,
    ModelUsageDaily,
    UsageDaily,
    UsageEvent,
    UsageHourly,
)
from modelmarket.usage.rollup_keys import buyer_window_bit

logger = logging.getLogger(__name__)

SUCCESS_STATUSES = frozenset({UsageStatus.SUCCEEDED, UsageStatus.ACCEPTED})
ERROR_STATUSES = frozenset({UsageStatus.UPSTREAM_ERROR, UsageStatus.TIMEOUT})
MAX_INT32 = 2**31 - 1
MAX_INT63 = 2**63 - 1
ROWS_PER_STATEMENT = 1000

# The order of the counters in every rollup row built below.
COUNTERS = (
    "requests",
    "succeeded",
    "errors",
    "rejected",
    "input_tokens",
    "output_tokens",
    "compute_ms",
    "cost_minor",
    "latency_ms_sum",
)
MODEL_COUNTERS = tuple(name for name in COUNTERS if name != "cost_minor")
EVENT_COLUMNS = (
    "event_id",
    "source",
    "model_id",
    "version_id",
    "user_id",
    "api_key_id",
    "status",
    "started_at",
    "provider",
    "http_status",
    "error_code",
    "input_tokens",
    "output_tokens",
    "tokens_reported",
    "compute_ms",
    "ttfb_ms",
    "latency_ms",
    "cost_minor",
    "currency",
    "stream",
    "request_id",
    "recorded_at",
)


# --- Recording batches ------------------------------------------------------------------------------------------


def usage_events_record(*, records: Sequence[UsageRecord]) -> int:
    """Store a batch of usage records and add them to the rollups, in one transaction; returns how many were new.

    Idempotent: a record whose (started_at, model, source, event_id) is already stored is skipped and counted
    nowhere, so the gateway may retry a failed flush and `/usage/track` clients may resend. `AIModel.call_count` grows by the new
    calls that were not rejected and were seen by the gateway (tracked calls are not: the public counter, which
    the catalog sorts and trends by, counts only what the marketplace witnessed). Records for a model that no
    longer exists are dropped and logged. Synchronous ORM code: the gateway calls it from a worker thread."""
    if not records:
        return 0
    recorded_at = timezone.now()
    with transaction.atomic():
        batch = _with_known_references(_by_event_key(records))
        if not batch:
            return 0
        with connection.cursor() as cursor:
            inserted = _events_insert(cursor, batch, recorded_at=recorded_at)
            _rollups_add(cursor, inserted)
            _call_counts_add(cursor, [record for _, record in inserted])
    return len(inserted)


# What identifies an event (the events table's unique key): start time (UTC), model, source, event_id.
EventKey = tuple[datetime, int, str, str]


def _by_event_key(records: Iterable[UsageRecord]) -> dict[EventKey, UsageRecord]:
    """The records by event key; of records sharing a key, the first."""
    events: dict[EventKey, UsageRecord] = {}
    for record in records:
        key = (
            _utc(record.started_at),
            record.model_id,
            _text(str(record.source), 16),
            _text(record.event_id, 100),
        )
        events.setdefault(key, record)
    return events


# Up to this many ids the references are checked in one raw statement; past it (a batch from very many callers), by
# the ORM, whose IN lists are split to fit any database's parameter limit.
MAX_REFERENCE_IDS = 500


def _existing_references(
    wanted: list[tuple[type[Model], set[int]]],
) -> list[dict[int, int | None]]:
    """For each (model, ids): the ids that exist, each with the row's model_id (versions) or None. One statement,
    a UNION ALL of one SELECT per table: a batch's flush pays one round trip and no ORM compilation for this."""
    for _, ids in wanted:
        ids.discard(0)
    if sum(len(ids) for _, ids in wanted) > MAX_REFERENCE_IDS:
        return [
            dict.fromkeys(model._default_manager.filter(pk__in=ids).values_list("pk", flat=True))
            if model is not ModelVersion
            else dict(ModelVersion.objects.filter(pk__in=ids).values_list("pk", "model_id"))
            for model, ids in wanted
        ]
    quote = connection.ops.quote_name
    selects, params = [], []
    for index, (model, ids) in enumerate(wanted):
        if not ids:
            continue
        owner = quote(_column(ModelVersion, "model")) if model is ModelVersion else "CAST(NULL AS BIGINT)"
        pk, table = quote(str(cast("Field[Any, Any]", model._meta.pk).column)), quote(model._meta.db_table)
        selects.append(
            f"SELECT {index}, {pk}, {owner} FROM {table} "  # noqa: S608 - our names
            f"WHERE {pk} IN ({', '.join(['%s'] * len(ids))})"
        )
        params.extend(sorted(ids))
    found: list[dict[int, int | None]] = [{} for _ in wanted]
    if selects:
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(selects), params)
            for index, pk, owner in cursor.fetchall():
                found[int(index)][int(pk)] = None if owner is None else int(owner)
    return found


def _with_known_references(events: dict[EventKey, UsageRecord]) -> dict[EventKey, UsageRecord]:
    """Drop records of unknown models; forget users, keys and versions deleted since the call."""
    records = events.values()
    models, users, keys, versions = _existing_references(
        [
            (AIModel, {r.model_id for r in records}),
            (User, {r.user_id for r in records if r.user_id}),
            (ApiKey, {r.api_key_id for r in records if r.api_key_id}),
            (ModelVersion, {r.version_id for r in records if r.version_id}),
        ]
    )
    known = {}
    for key, record in events.items():
        if record.model_id not in models:
            continue
        changes: dict[str, Any] = {}
        if record.user_id and record.user_id not in users:
            changes["user_id"] = None
        if record.api_key_id and record.api_key_id not in keys:
            changes["api_key_id"] = None
        if record.version_id and versions.get(record.version_id) != record.model_id:
            changes["version_id"] = None
        known[key] = replace(record, **changes) if changes else record
    if len(known) < len(events):
        logger.warning("usage records of unknown models dropped", extra={"count": len(events) - len(known)})
    return known


def _utc(moment: datetime) -> datetime:
    if timezone.is_naive(moment):
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _text(value: str, size: int) -> str:
    """Cut to the column's size, without NUL characters (PostgreSQL text cannot hold them)."""
    return (value.replace("\x00", "") if "\x00" in value else value)[:size]


def _clamp(value: int | None, highest: int) -> int:
    if value.__class__ is int and 0 <= value <= highest:  # type: ignore[operator,unused-ignore]
        return value  # type: ignore[return-value,unused-ignore]
    return min(max(int(value or 0), 0), highest)


def _event_rows(events: list[tuple[EventKey, UsageRecord]], recorded_at: datetime) -> list[tuple[Any, ...]]:
    adapt = connection.ops.adapt_datetimefield_value
    recorded = adapt(recorded_at)
    return [
        (
            _text(record.event_id, 100),
            _text(str(record.source), 16),
            record.model_id,
            record.version_id or None,
            record.user_id or None,
            record.api_key_id or None,
            _text(str(record.status), 24),
            adapt(key[0]),
            _text(record.provider, 40),
            _clamp(record.http_status, 32767),
            _text(record.error_code, 64),
            _clamp(record.input_tokens, MAX_INT63),
            _clamp(record.output_tokens, MAX_INT63),
            bool(record.tokens_reported),
            _clamp(record.compute_ms, MAX_INT63),
            None if record.ttfb_ms is None else _clamp(record.ttfb_ms, MAX_INT32),
            _clamp(record.latency_ms, MAX_INT32),
            _clamp(record.cost_minor, MAX_INT63),
            _text(record.currency, 10),
            bool(record.stream),
            _text(record.request_id, 100),
            recorded,
        )
        for key, record in events
    ]


def _chunks(rows: list[tuple[Any, ...]], width: int) -> Iterator[list[tuple[Any, ...]]]:
    """Statements small enough for the database's parameter limit (SQLite's is the tightest)."""
    limit = connection.features.max_query_params or 65535
    size = max(1, min(ROWS_PER_STATEMENT, limit // width))
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _values_sql(rows: int, width: int) -> str:
    one = "(" + ", ".join(["%s"] * width) + ")"
    return ", ".join([one] * rows)


def _returned_time(value: datetime | str) -> datetime:
    """A timestamp as a raw cursor returns it (text on SQLite, naive or aware), as an aware UTC datetime."""
    parsed = parse_datetime(value) if isinstance(value, str) else value
    if parsed is None:
        raise ValueError(f"not a timestamp: {value!r}")
    return _utc(parsed)


def _events_insert(
    cursor: Any, events: dict[EventKey, UsageRecord], *, recorded_at: datetime
) -> list[tuple[EventKey, UsageRecord]]:
    """Insert the events; returns those that were new (the database skipped those it already had). Rows go in key
    order: two batches sharing events (a retry racing its original) then wait on each other in the same order on
    PostgreSQL, never in a deadlock."""
    ordered = sorted(events.items(), key=lambda item: item[0])
    # The returned rows name their event; its start time needs parsing only when the batch holds the same id at
    # two start times.
    keys_by_id: dict[tuple[int, str, str], list[EventKey]] = defaultdict(list)
    for key, _ in ordered:
        keys_by_id[key[1:]].append(key)
    quote = connection.ops.quote_name
    insert = f"INSERT INTO {quote(UsageEvent._meta.db_table)} ({', '.join(quote(c) for c in EVENT_COLUMNS)}) "
    returning = (
        " ON CONFLICT (started_at, model_id, source, event_id) DO NOTHING "
        "RETURNING started_at, model_id, source, event_id"
    )
    new_keys: set[EventKey] = set()
    for rows_sql, params in _row_sources(UsageEvent, EVENT_COLUMNS, _event_rows(ordered, recorded_at)):
        cursor.execute(insert + rows_sql + returning, params)
        for started_at, model_id, source, event_id in cursor.fetchall():
            keys = keys_by_id[(int(model_id), source, event_id)]
            new_keys.add(keys[0] if len(keys) == 1 else (_returned_time(started_at), *keys[0][1:]))
    return [(key, record) for key, record in ordered if key in new_keys]


def _row_sources(
    model: type[Model], columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> Iterator[tuple[str, list[Any]]]:
    """The rows as the source of one INSERT (with its parameters), in as few statements as each database likes.

    PostgreSQL: one JSON array of rows, read with `jsonb_array_elements`, whatever the number of rows. psycopg
    (binding client-side, as Django sets it up) parses a statement of thousands of placeholders, or dumps arrays,
    element by element in Python: about 500 ms, or 40 ms, per 1,000 events; orjson takes one (and reading jsonb
    beat `json_to_recordset` and `unnest` of array literals, measured). SQLite: multi-row `VALUES`, within
    its parameter limit."""
    if connection.vendor == "postgresql":
        yield _jsonb_rows_sql(model, tuple(columns), connection.alias), [orjson.dumps(rows).decode()]
        return
    for chunk in _chunks(rows, len(columns)):
        yield "VALUES " + _values_sql(len(chunk), len(columns)), [value for row in chunk for value in row]


@cache
def _jsonb_rows_sql(model: type[Model], columns: tuple[str, ...], alias: str) -> str:
    """`SELECT` of the columns, typed, from a JSON array of rows (PostgreSQL); the same for every batch, so built once
    (asking each field its database type costs more than the rest of a small batch's statement)."""
    database = connections[alias]
    fields = {field.column: field for field in model._meta.concrete_fields}
    values = ", ".join(
        f"(row->>{index})::{fields[column].db_type(database)}" for index, column in enumerate(columns)
    )
    return f"SELECT {values} FROM jsonb_array_elements(%s::jsonb) AS row"  # noqa: S608 - our column types


def _call_counts_add(cursor: Any, records: list[UsageRecord]) -> None:
    """One UPDATE for the batch: `call_count = call_count + n` per model, in the database (never read-modify-write).
    It is what `F("call_count") + Case(When(...))` compiles to, written out because compiling one When per model
    costs the ORM about 35 ms for 50 models, far more than the statement itself."""
    counts = Counter(
        record.model_id
        for record in records
        if record.status != UsageStatus.REJECTED and record.source != UsageSource.TRACK
    )
    if not counts:
        return
    ordered = sorted(counts.items())
    quote = connection.ops.quote_name
    table, column = quote(AIModel._meta.db_table), quote(_column(AIModel, "call_count"))
    cursor.execute(
        f"UPDATE {table} SET {column} = {column} + CASE {quote('id')} "  # noqa: S608 - names are ours
        + " ".join(["WHEN %s THEN %s"] * len(ordered))
        + f" ELSE 0 END WHERE {quote('id')} IN ({', '.join(['%s'] * len(ordered))})",
        [value for pair in ordered for value in pair] + [model_id for model_id, _ in ordered],
    )


# --- Rollups ----------------------------------------------------------------------------------------------------


@dataclass
class RollupDeltas:
    """What a set of new events adds to each rollup table, keyed by the table's primary key."""

    hourly: dict[tuple[Any, ...], list[int]]
    daily: dict[tuple[Any, ...], list[int]]
    model_daily: dict[tuple[Any, ...], list[int]]
    latency: Counter[tuple[int, date, int]]
    buyers: dict[tuple[int, int, int], int]  # (model, window, user): the bits of their days


def _counters(record: UsageRecord) -> list[int]:
    rejected = record.status == UsageStatus.REJECTED
    succeeded = record.status in SUCCESS_STATUSES
    return [
        0 if rejected else 1,
        1 if succeeded else 0,
        1 if record.status in ERROR_STATUSES else 0,
        1 if rejected else 0,
        _clamp(record.input_tokens, MAX_INT63),
        _clamp(record.output_tokens, MAX_INT63),
        _clamp(record.compute_ms, MAX_INT63),
        _clamp(record.cost_minor, MAX_INT63),
        _clamp(record.latency_ms, MAX_INT32) if succeeded else 0,
    ]


def _add(totals: dict[tuple[Any, ...], list[int]], key: tuple[Any, ...], counters: list[int]) -> None:
    current = totals.get(key)
    if current is None:
        totals[key] = list(counters)
    else:
        for index, value in enumerate(counters):
            current[index] += value


def rollup_deltas(events: Iterable[tuple[EventKey, UsageRecord]]) -> RollupDeltas:
    """Aggregate new events (with their keys, which hold the UTC start) into per-key increments.

    The events are first grouped by the finest key (hour, user, model, key, version, currency) and each group's
    counters summed column by column; the daily, per-model and buyer rollups are then built from the groups, of which
    a gateway batch has a handful: one dictionary step per event instead of three."""
    deltas = RollupDeltas(hourly={}, daily={}, model_daily={}, latency=Counter(), buyers={})
    cost_index = COUNTERS.index("cost_minor")
    groups: dict[tuple[Any, ...], list[list[int]]] = {}
    for key, record in events:
        hour = key[0].replace(minute=0, second=0, microsecond=0)
        counters = _counters(record)
        group = (
            hour,
            record.user_id or 0,
            record.model_id,
            record.api_key_id or 0,
            record.version_id or 0,
            _text(record.currency, 10),
        )
        rows = groups.get(group)
        if rows is None:
            groups[group] = [counters]
        else:
            rows.append(counters)
        if counters[1]:
            deltas.latency[(record.model_id, hour.date(), latency_bucket(record.latency_ms))] += 1
    for (hour, user_id, model_id, api_key_id, version_id, currency), rows in groups.items():
        totals = rows[0] if len(rows) == 1 else [sum(column) for column in zip(*rows, strict=True)]
        day = hour.date()
        if user_id:
            _add(deltas.hourly, (hour, user_id, model_id, api_key_id, version_id, currency), totals)
            _add(deltas.daily, (day, user_id, model_id, api_key_id, currency), totals)
            if totals[0]:
                window, bit = buyer_window_bit(day)
                buyer = (model_id, window, user_id)
                deltas.buyers[buyer] = deltas.buyers.get(buyer, 0) | bit
        _add(deltas.model_daily, (model_id, day), totals[:cost_index] + totals[cost_index + 1 :])
    return deltas


def _column(model: type[Model], name: str) -> str:
    return str(cast("Field[Any, Any]", model._meta.get_field(name)).column)


def _upsert(
    cursor: Any, model: type[Model], sums: tuple[str, ...], rows: list[tuple[Any, ...]], *, combine: str = "+"
) -> None:
    """Upsert on the model's primary key, combining `sums` with existing rows (`+` adds, `|` sets bits); each row
    holds the key's values in the key's order, then the sums. Rows go in key order, so concurrent batches lock
    shared rollup rows in the same order (PostgreSQL) and cannot deadlock on them."""
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    key_columns = list(cast(CompositePrimaryKey, model._meta.pk).columns)
    columns = key_columns + [_column(model, name) for name in sums]
    action = (
        "DO UPDATE SET "
        + ", ".join(
            f"{c} = {table}.{c} {combine} excluded.{c}" for c in map(quote, columns[len(key_columns) :])
        )
        if sums
        else "DO NOTHING"
    )
    insert = f"INSERT INTO {table} ({', '.join(map(quote, columns))}) "
    conflict = f" ON CONFLICT ({', '.join(map(quote, key_columns))}) {action}"
    rows.sort()
    if connection.vendor == "sqlite":
        # In-process: one statement compiled once and stepped per row costs SQLite what a multi-row one does,
        # without Django rewriting a statement of thousands of placeholders on every call.
        cursor.executemany(insert + "VALUES " + _values_sql(1, len(columns)) + conflict, rows)
        return
    for rows_sql, params in _row_sources(model, columns, rows):
        cursor.execute(insert + rows_sql + conflict, params)


def rollups_apply(cursor: Any, records: Iterable[UsageRecord]) -> None:
    """Add records to every rollup without storing them as events (the usage benchmark builds its rollups so). The
    caller holds the transaction and vouches that the records are new and their references exist."""
    _rollups_add(cursor, _by_event_key(records).items())


def _rollups_add(cursor: Any, events: Iterable[tuple[EventKey, UsageRecord]]) -> None:
    deltas = rollup_deltas(events)
    adapt_time = cache(connection.ops.adapt_datetimefield_value)  # a batch spans a few hours and days
    adapt_day = cache(connection.ops.adapt_datefield_value)
    _upsert(
        cursor,
        UsageHourly,
        COUNTERS,
        [(adapt_time(h), u, m, k, v, c, *n) for (h, u, m, k, v, c), n in deltas.hourly.items()],
    )
    _upsert(
        cursor,
        UsageDaily,
        COUNTERS,
        [(adapt_day(d), u, m, k, c, *n) for (d, u, m, k, c), n in deltas.daily.items()],
    )
    _upsert(
        cursor,
        ModelUsageDaily,
        MODEL_COUNTERS,
        [(m, adapt_day(d), *n) for (m, d), n in deltas.model_daily.items()],
    )
    _upsert(
        cursor,
        ModelLatencyDaily,
        ("count",),
        [(m, adapt_day(d), b, n) for (m, d, b), n in deltas.latency.items()],
    )
    _upsert(
        cursor, ModelBuyerDays, ("days",), [(*key, bits) for key, bits in deltas.buyers.items()], combine="|"
    )
