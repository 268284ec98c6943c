"""The gateway's usage buffer: every call appends one `UsageRecord` (no I/O on the response path); a background task
writes the buffer in batches every `interval` seconds through `usage.services.record.usage_events_record`, and the last
batch is written when the worker shuts down. A failed write keeps the batch and tries again on the next tick, so a
database hiccup delays events but loses none."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from asgiref.sync import sync_to_async

from modelmarket.usage.events import UsageRecord

logger = logging.getLogger(__name__)

Writer = Callable[[Sequence[UsageRecord]], int]


def _write_with_service(records: Sequence[UsageRecord]) -> int:
    """Usage events and, in the same transaction, their pay-as-you-go costs booked to the ledger."""
    from django.conf import settings

    from modelmarket.inference.gateway.credit import usage_and_charges_write

    return usage_and_charges_write(records, redis_url=settings.REDIS_URL)


class UsageMeter:
    def __init__(
        self, *, interval: float = 0.2, batch_size: int = 2000, writer: Writer | None = None
    ) -> None:
        self.interval = interval
        self.batch_size = batch_size
        self.writer = writer or _write_with_service
        self.pending: list[UsageRecord] = []
        self.recorded = 0  # events this worker has handed to metering
        self.written = 0  # of which written to the database
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def record(self, record: UsageRecord) -> None:
        self.pending.append(record)
        self.recorded += 1

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="usage-meter")

    async def stop(self) -> None:
        """Write everything still buffered; called on graceful shutdown."""
        self._stopping.set()
        if self._task is not None:
            await self._task
        while self.pending:
            if not await self.flush():
                logger.error(
                    "usage events could not be written at shutdown", extra={"count": len(self.pending)}
                )
                break

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval)
            await self.flush()

    async def flush(self) -> bool:
        """Write up to one batch; False when the write failed (the batch stays buffered, in order)."""
        if not self.pending:
            return True
        batch, self.pending = self.pending[: self.batch_size], self.pending[self.batch_size :]
        try:
            await sync_to_async(self.writer, thread_sensitive=False)(batch)
        except Exception:
            logger.exception(
                "writing usage events failed; keeping them for the next try", extra={"count": len(batch)}
            )
            self.pending[:0] = batch
            return False
        self.written += len(batch)
        return True
