"""Pay-as-you-go credit: reserve a call's worst-case cost before it runs, settle its actual cost after, book the costs
to the ledger in batches with the usage events.

A wallet's spendable credit is its ledger balance minus what is reserved for calls in flight and what calls cost but
is not booked yet. Where that "pending" amount lives:

- Redis, when configured: a hash per wallet with the ledger `balance` and its `version` (set from the database on
  first use and after every committed ledger change: the newest version wins, so an old read never overwrites a
  newer balance) and `pending`. One Lua script checks and reserves atomically, across all workers and processes.
  Lua computes in doubles, exact to 2**53: currencies with more than 9 decimals (ETH's wei) use the database.
- The database otherwise: `LedgerAccount.held_minor`, reserved by one conditional UPDATE.

Settling gives back what a call did not use; its cost stays pending until the usage writer books it (in the same
transaction as the usage events), which releases it. A call never costs more than was reserved for it."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction

from modelmarket.billing.services.ledger import BalanceChange, credit_hold, credit_release
from modelmarket.inference.entitlements import Price
from modelmarket.inference.providers.base import Usage
from modelmarket.usage.events import UsageRecord, is_charged

logger = logging.getLogger(__name__)

# Lua numbers are doubles: exact for integers up to 2**53. 9 decimals keep 9 million whole units below that.
REDIS_MAX_DECIMALS = 9

_RESERVE = """
if redis.call('HEXISTS', KEYS[1], 'balance') == 0 then return -1 end
local balance = tonumber(redis.call('HGET', KEYS[1], 'balance'))
local pending = tonumber(redis.call('HGET', KEYS[1], 'pending') or '0')
if balance - pending < tonumber(ARGV[1]) then return 0 end
redis.call('HINCRBY', KEYS[1], 'pending', ARGV[1])
return 1
"""

_RELEASE = """
if redis.call('HEXISTS', KEYS[1], 'balance') == 0 then return 0 end
if redis.call('HINCRBY', KEYS[1], 'pending', -tonumber(ARGV[1])) < 0 then redis.call('HSET', KEYS[1], 'pending', 0) end
return 1
"""

_SET_BALANCE = """
local stored = tonumber(redis.call('HGET', KEYS[1], 'version') or '-1')
if tonumber(ARGV[2]) > stored then redis.call('HSET', KEYS[1], 'balance', ARGV[1], 'version', ARGV[2]) end
return 1
"""


def charged_minor(price: Price, *, reserved_minor: int, status: str, usage: Usage) -> int:
    """What a call that ended with `status` after using `usage` costs: nothing unless it is charged
    (`usage.events.is_charged`), and never more than was reserved for it (the reservation bounds what the caller
    agreed to risk)."""
    if not is_charged(status, output_tokens=usage.output_tokens):
        return 0
    return min(price.cost_minor(usage), reserved_minor)


@dataclass(frozen=True, slots=True)
class JobReservation:
    """The credit a pay-as-you-go call reserved, held by the long job (202) the call became until the job ends: the
    price at the time of the call and the amount (held where the gateway holds credit: Redis' pending credit when
    Redis is configured and the currency fits, else the wallet's `held_minor`). Kept with the job as JSON."""

    price: Price
    reserved_minor: int

    def as_json(self) -> dict[str, Any]:
        return {"price": self.price.as_json(), "reserved_minor": self.reserved_minor}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobReservation:
        return cls(Price.from_json(data["price"]), int(data["reserved_minor"]))

    def cost_minor(self, status: str, usage: Usage) -> int:
        """What the job costs: as any call that ended so."""
        return charged_minor(self.price, reserved_minor=self.reserved_minor, status=status, usage=usage)


def worst_case_usage(*, input_bytes: int, max_output_tokens: Any, seconds: float) -> Usage:
    """The most a call can use: every input byte a token (no tokenizer makes more), the output tokens asked for
    (capped by GATEWAY_PAYG_MAX_OUTPUT_TOKENS, also the default), and the whole time budget of compute."""
    cap = settings.GATEWAY_PAYG_MAX_OUTPUT_TOKENS
    asked = (
        max_output_tokens
        if isinstance(max_output_tokens, int) and not isinstance(max_output_tokens, bool)
        else 0
    )
    return Usage(
        input_tokens=input_bytes,
        output_tokens=asked if 0 < asked <= cap else cap,
        compute_ms=int(seconds * 1000),
    )


def credit_key(account_id: int) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:gw:credit:{account_id}"


def uses_redis(redis: Any | None, price: Price) -> bool:
    return redis is not None and price.decimals <= REDIS_MAX_DECIMALS


def _wallet_balance(account_id: int) -> tuple[int, int]:
    from modelmarket.billing.models import LedgerAccount

    balance, version = LedgerAccount.objects.values_list("balance_minor", "version").get(pk=account_id)
    return int(balance), int(version)


class CreditReserver:
    """One per gateway worker."""

    def __init__(self, redis: Any | None) -> None:
        self.redis = redis
        self._reserve = redis.register_script(_RESERVE) if redis is not None else None
        self._set_balance = redis.register_script(_SET_BALANCE) if redis is not None else None
        self._release_script = redis.register_script(_RELEASE) if redis is not None else None
        self._settling: set[asyncio.Task[None]] = set()
        # Releases still in flight, per wallet: a reservation on that wallet waits for them first, so credit this
        # worker is giving back is never refused to the same buyer's next call.
        self._releasing: dict[int, set[asyncio.Task[None]]] = {}

    async def reserve(self, price: Price, amount_minor: int) -> bool:
        """Reserve `amount_minor` on the price's wallet; False when the wallet cannot cover it."""
        if amount_minor <= 0:
            return True
        account_id = price.wallet_account_id
        pending = self._releasing.get(account_id)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if not uses_redis(self.redis, price):
            return await sync_to_async(credit_hold, thread_sensitive=False)(
                account_id=account_id, amount_minor=amount_minor
            )
        assert self._reserve is not None
        assert self._set_balance is not None
        key = credit_key(account_id)
        result = int(await self._reserve(keys=[key], args=[amount_minor]))
        if result == -1:
            balance, version = await sync_to_async(_wallet_balance, thread_sensitive=False)(account_id)
            await self._set_balance(keys=[key], args=[balance, version])
            result = int(await self._reserve(keys=[key], args=[amount_minor]))
        return result == 1

    def settle(self, price: Price, *, reserved_minor: int, cost_minor: int) -> None:
        """Give back what the call did not use, in the background (the response does not wait for it)."""
        unused = reserved_minor - cost_minor
        if unused <= 0:
            return
        task = asyncio.get_running_loop().create_task(self._release(price, unused))
        self._settling.add(task)
        wallet_tasks = self._releasing.setdefault(price.wallet_account_id, set())
        wallet_tasks.add(task)

        def done(finished: asyncio.Task[None], account_id: int = price.wallet_account_id) -> None:
            self._settling.discard(finished)
            tasks = self._releasing.get(account_id)
            if tasks is not None:
                tasks.discard(finished)
                if not tasks:
                    del self._releasing[account_id]

        task.add_done_callback(done)

    async def _release(self, price: Price, amount_minor: int) -> None:
        try:
            if uses_redis(self.redis, price):
                assert self._release_script is not None
                await self._release_script(keys=[credit_key(price.wallet_account_id)], args=[amount_minor])
            else:
                await sync_to_async(credit_release, thread_sensitive=False)(
                    account_id=price.wallet_account_id, amount_minor=amount_minor
                )
        except Exception:
            logger.exception(
                "releasing reserved credit failed", extra={"account_id": price.wallet_account_id}
            )

    async def stop(self) -> None:
        if self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)


# --- Booking, in the usage writer's thread ---------------------------------------------------------------------------
def usage_and_charges_write(records: Sequence[UsageRecord], *, redis_url: str = "") -> int:
    """Store usage events and book their pay-as-you-go costs to the ledger in one transaction (so an event is
    charged exactly when it is recorded), then release the booked amounts from Redis' pending credit."""
    from modelmarket.billing.models import Currency
    from modelmarket.billing.services.accounting import UsageCharge, usage_charges_book
    from modelmarket.catalog.models import AIModel
    from modelmarket.usage.services.record import usage_events_record

    charged = [record for record in records if record.cost_minor > 0]
    if not charged:
        return usage_events_record(records=records)
    creators = dict(
        AIModel.objects.filter(pk__in={r.model_id for r in charged}).values_list("pk", "creator_id")
    )
    decimals = dict(Currency.objects.values_list("code", "decimals"))
    in_redis = {code: bool(redis_url) and places <= REDIS_MAX_DECIMALS for code, places in decimals.items()}
    totals: dict[tuple[int, int, str], int] = defaultdict(int)
    for record in charged:
        if record.model_id in creators and record.user_id is not None:
            totals[(record.user_id, record.model_id, record.currency)] += record.cost_minor
    charges = [
        UsageCharge(
            buyer_id=buyer_id,
            creator_id=creators[model_id],
            model_id=model_id,
            currency=currency,
            cost_minor=cost,
            held_minor=0 if in_redis.get(currency) else cost,
        )
        for (buyer_id, model_id, currency), cost in totals.items()
    ]
    with transaction.atomic():
        written = usage_events_record(records=records)
        booked = usage_charges_book(reference=charged[0].event_id, charges=charges)
        redis_charges = [c for c in charges if in_redis.get(c.currency)]
        if redis_charges and booked:
            transaction.on_commit(lambda: _pending_release(redis_url, redis_charges))
    return written


def job_usage_write(record: UsageRecord, reservation: JobReservation | None, *, redis_url: str = "") -> None:
    """A long job's end, in the caller's transaction: its usage event and cost, booked as any call's
    (`usage_and_charges_write`; `record.cost_minor` from `JobReservation.cost_minor`), and what the reservation held
    beyond that cost given back (from Redis once the transaction commits)."""
    usage_and_charges_write([record], redis_url=redis_url)
    unused = reservation.reserved_minor - record.cost_minor if reservation is not None else 0
    if reservation is None or unused <= 0:
        return
    account_id = reservation.price.wallet_account_id
    if redis_url and reservation.price.decimals <= REDIS_MAX_DECIMALS:
        transaction.on_commit(lambda: _redis_release(redis_url, [(account_id, unused)]))
    else:
        credit_release(account_id=account_id, amount_minor=unused)


def _pending_release(redis_url: str, charges: Sequence[Any]) -> None:
    from modelmarket.billing.services.ledger import buyer_wallet

    try:
        releases = [
            (buyer_wallet(user_id=charge.buyer_id, currency=charge.currency).pk, charge.cost_minor)
            for charge in charges
        ]
    except Exception:
        logger.exception("finding the wallets whose booked credit Redis holds failed")
        return
    _redis_release(redis_url, releases)


def _redis_release(redis_url: str, releases: Sequence[tuple[int, int]]) -> None:
    """Lower the pending credit of wallets in Redis: (wallet account id, amount) pairs."""
    from modelmarket.core.redis import redis_client

    try:
        release = redis_client(redis_url).register_script(_RELEASE)
        for account_id, amount_minor in releases:
            release(keys=[credit_key(account_id)], args=[amount_minor])
    except Exception:
        logger.exception("releasing credit in Redis failed")


def redis_balances_refresh(changes: list[BalanceChange]) -> None:
    """A ledger balance listener (registered by billing when Redis is configured): after a transaction commits,
    the wallets it moved get their new balance in Redis, if newer than what Redis holds."""
    from modelmarket.billing.models import AccountKind
    from modelmarket.core.redis import redis_client

    wallets = [change for change in changes if change.kind == AccountKind.BUYER_WALLET]
    if not wallets or not settings.REDIS_URL:
        return
    client = redis_client()
    script = client.register_script(_SET_BALANCE)
    for change in wallets:
        script(keys=[credit_key(change.account_id)], args=[change.balance_minor, change.version])
