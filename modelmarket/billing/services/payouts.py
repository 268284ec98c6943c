"""Creator payouts: a creator asks for (part of) their pending earnings to be sent to a wallet address; staff send
it on chain and record the transfer's signature, or cancel the request.

The ledger carries each step (`accounting.payout_*_book`): a request moves the amount from the creator's pending
earnings to "payout requested" (InsufficientFunds — 402 `insufficient_credit` — when they lack it, and then nothing
is written: the Payout row rolls back with the refused booking), recording it moves it out to `payouts`, a
cancellation moves it back. Each change locks the payout row first, so two staff recording one payout at once
cannot both book it."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from modelmarket.accounts.models import User
from modelmarket.billing.models import Chain, Currency, Payout, PayoutStatus, Refund
from modelmarket.billing.money import MAX_AMOUNT_MINOR, format_money
from modelmarket.billing.services import accounting
from modelmarket.core.exceptions import BadRequest, Conflict, NotFound, PermissionDenied, ValidationFailed
from modelmarket.notifications.services import notification_send

NOTE_MAX_LENGTH = 300

_BASE58 = "1-9A-HJ-NP-Za-km-z"  # Bitcoin's alphabet: no 0, O, I or l
_SOLANA_ADDRESS = re.compile(rf"[{_BASE58}]{{32,44}}")
_EVM_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
# Legacy (P2PKH "1...", P2SH "3...") base58 addresses, and bech32/bech32m segwit addresses ("bc1q...", "bc1p...")
# in one case: bech32 is case-insensitive but may not mix cases.
_BITCOIN_BASE58_ADDRESS = re.compile(rf"[13][{_BASE58}]{{25,34}}")
_BITCOIN_BECH32_ADDRESS = re.compile(r"bc1[02-9ac-hj-np-z]{11,71}")
_ADDRESS_FORMATS: dict[str, tuple[str, list[re.Pattern[str]]]] = {
    Chain.SOLANA: ("a Solana address (base58, 32 to 44 characters)", [_SOLANA_ADDRESS]),
    Chain.ETHEREUM: ("an EVM address (0x and 40 hex digits)", [_EVM_ADDRESS]),
    Chain.BASE: ("an EVM address (0x and 40 hex digits)", [_EVM_ADDRESS]),
    Chain.POLYGON: ("an EVM address (0x and 40 hex digits)", [_EVM_ADDRESS]),
    Chain.BITCOIN: (
        "a Bitcoin address (bech32 bc1..., or base58 starting with 1 or 3)",
        [_BITCOIN_BASE58_ADDRESS, _BITCOIN_BECH32_ADDRESS],
    ),
}
# What a transfer's id looks like on each chain: a Solana signature is 64 bytes in base58, an EVM transaction hash
# 32 bytes as 0x-hex, a Bitcoin txid 32 bytes as hex.
_SIGNATURE_FORMATS: dict[str, tuple[str, re.Pattern[str]]] = {
    Chain.SOLANA: (
        "a Solana transaction signature (base58, 64 to 88 characters)",
        re.compile(rf"[{_BASE58}]{{64,88}}"),
    ),
    Chain.ETHEREUM: ("a transaction hash (0x and 64 hex digits)", re.compile(r"0x[0-9a-fA-F]{64}")),
    Chain.BASE: ("a transaction hash (0x and 64 hex digits)", re.compile(r"0x[0-9a-fA-F]{64}")),
    Chain.POLYGON: ("a transaction hash (0x and 64 hex digits)", re.compile(r"0x[0-9a-fA-F]{64}")),
    Chain.BITCOIN: ("a Bitcoin transaction id (64 hex digits)", re.compile(r"[0-9a-fA-F]{64}")),
}


def _payout_currency(code: object) -> Currency:
    """The currency, which must be one we pay out on chain. ValidationFailed `unknown_currency` otherwise."""
    if not isinstance(code, str) or not 0 < len(code) <= 10:
        raise ValidationFailed(f"Unknown currency {code!r}.", code="unknown_currency")
    currency = Currency.objects.filter(code=code.strip().upper()).first()
    if currency is None:
        raise ValidationFailed(f"Unknown currency {code!r}.", code="unknown_currency")
    if currency.chain not in _ADDRESS_FORMATS:
        raise BadRequest(
            f"{currency.code} earnings are not paid out on chain; request a payout in a crypto currency.",
            code="payout_currency_unsupported",
            details={"currency": currency.code},
        )
    return currency


def wallet_address_validate(*, currency: Currency, wallet_address: object) -> str:
    """The address, trimmed, if it has the shape of an address on the currency's chain; BadRequest
    `invalid_wallet_address` otherwise. A shape check: it cannot tell whether the address is the creator's."""
    address = wallet_address.strip() if isinstance(wallet_address, str) else ""
    description, patterns = _ADDRESS_FORMATS[currency.chain]
    if (
        currency.chain == Chain.BITCOIN
        and address[:3].lower() == "bc1"
        and address
        in {
            address.lower(),
            address.upper(),
        }
    ):
        address = address.lower()
    if not any(pattern.fullmatch(address) for pattern in patterns):
        raise BadRequest(
            f"{currency.code} is paid out on {currency.get_chain_display()}: the wallet address must be {description}.",
            code="invalid_wallet_address",
            details={"currency": currency.code, "chain": currency.chain},
        )
    return address


def transaction_signature_validate(*, currency: Currency, transaction_signature: object) -> str:
    signature = transaction_signature.strip() if isinstance(transaction_signature, str) else ""
    description, pattern = _SIGNATURE_FORMATS[currency.chain]
    if not pattern.fullmatch(signature):
        raise BadRequest(
            f"The transfer's id must be {description}.",
            code="invalid_transaction_signature",
            details={"chain": currency.chain},
        )
    return signature


def _amount_validate(amount_minor: object) -> int:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise ValidationFailed("amount_minor must be a whole number of minor units.", code="invalid_amount")
    if amount_minor < 1:
        raise ValidationFailed("A payout is at least one minor unit.", code="amount_too_small")
    if amount_minor > MAX_AMOUNT_MINOR:
        raise ValidationFailed("The amount is too large.", code="amount_too_large")
    return amount_minor


@transaction.atomic
def payout_request(*, creator: User, currency: str, amount_minor: int, wallet_address: str) -> Payout:
    """Ask for `amount_minor` of the creator's pending earnings in `currency` to be sent to `wallet_address`.
    Raises ValidationFailed (unknown currency, amount below one minor unit), BadRequest (`invalid_wallet_address`,
    `payout_currency_unsupported`) or InsufficientFunds (402 `insufficient_credit`: more than is pending); in each
    case nothing is written."""
    payout_currency = _payout_currency(currency)
    amount = _amount_validate(amount_minor)
    address = wallet_address_validate(currency=payout_currency, wallet_address=wallet_address)
    payout = Payout.objects.create(
        creator=creator, currency=payout_currency, amount_minor=amount, wallet_address=address
    )
    accounting.payout_request_book(payout=payout)
    return payout


def _locked(payout: Payout) -> Payout:
    """The payout's row, locked for the rest of the caller's transaction (a consistent order: payout, then the
    ledger accounts in id order)."""
    try:
        return Payout.objects.select_for_update().select_related("creator", "currency").get(pk=payout.pk)
    except Payout.DoesNotExist:
        raise NotFound("No such payout.", code="payout_not_found") from None


def _require_staff(actor: User, payout: Payout) -> None:
    if actor.is_active and actor.is_staff:
        return
    if payout.creator_id == actor.pk:
        raise PermissionDenied("Only staff record payouts.", code="staff_only")
    raise NotFound("No such payout.", code="payout_not_found")


def _require_requested(payout: Payout) -> None:
    if payout.status != PayoutStatus.REQUESTED:
        raise Conflict(
            f"This payout is already {payout.get_status_display().lower()}.",
            code=f"payout_already_{payout.status}",
            details={"status": payout.status},
        )


@transaction.atomic
def payout_record_paid(*, actor: User, payout: Payout, transaction_signature: str) -> Payout:
    """Staff: the requested amount was sent on chain in the transfer `transaction_signature`. Conflict when the
    payout is not waiting (recorded twice, or cancelled) or the signature is already recorded (for any payout or
    refund); the creator is notified."""
    _require_staff(actor, payout)
    payout = _locked(payout)
    _require_requested(payout)
    signature = transaction_signature_validate(
        currency=payout.currency, transaction_signature=transaction_signature
    )
    if (
        Payout.objects.filter(transaction_signature=signature).exists()
        or Refund.objects.filter(transaction_signature=signature).exists()
    ):
        raise Conflict("This transaction signature is already recorded.", code="signature_already_recorded")
    payout.status = PayoutStatus.PAID
    payout.transaction_signature = signature
    payout.paid_at = timezone.now()
    payout.recorded_by = actor
    try:
        with transaction.atomic():
            payout.save(
                update_fields=["status", "transaction_signature", "paid_at", "recorded_by", "updated_at"]
            )
    except IntegrityError:  # recorded for another payout by someone else a moment ago
        raise Conflict(
            "This transaction signature is already recorded.", code="signature_already_recorded"
        ) from None
    accounting.payout_paid_book(payout=payout)
    amount = format_money(payout.amount_minor, payout.currency_id)
    notification_send(
        user=payout.creator,
        kind="payout_recorded",
        title=f"Payout of {amount} sent",
        body=f"We sent {amount} to {payout.wallet_address}. Transaction: {signature}.",
        url=reverse("billing_earnings"),
        dedupe_key=f"payout:{payout.public_id}",
    )
    return payout


@transaction.atomic
def payout_cancel(*, actor: User, payout: Payout, note: str = "") -> Payout:
    """Withdraw a requested payout: the amount returns to the creator's pending earnings. Staff may cancel any
    requested payout (the creator is told, with the note); a creator their own."""
    if not (actor.is_active and actor.is_staff) and payout.creator_id != actor.pk:
        raise NotFound("No such payout.", code="payout_not_found")
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationFailed(f"The note has at most {NOTE_MAX_LENGTH} characters.", code="invalid_note")
    payout = _locked(payout)
    _require_requested(payout)
    payout.status = PayoutStatus.CANCELLED
    payout.note = note
    payout.recorded_by = actor
    payout.save(update_fields=["status", "note", "recorded_by", "updated_at"])
    accounting.payout_cancel_book(payout=payout)
    if payout.creator_id != actor.pk:
        amount = format_money(payout.amount_minor, payout.currency_id)
        notification_send(
            user=payout.creator,
            kind="general",
            title=f"Payout request of {amount} cancelled",
            body=f"Staff cancelled your payout request; the amount is back in your pending earnings. {note}".strip(),
            url=reverse("billing_earnings"),
            dedupe_key=f"payout_cancelled:{payout.public_id}",
        )
    return payout
