"""Helpers (no tests) for the earnings, payouts and analytics tests: money booked through the same accounting
functions the payment, usage and refund flows call, so the ledger holds what production would."""

from __future__ import annotations

SOLANA_ADDRESS = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
EVM_ADDRESS = "0x52908400098527886E0F7030069857D2E4169EE7"
SOLANA_SIGNATURE = "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW"


def solana_signature(number: int) -> str:
    """A distinct, well-formed Solana signature (base58, 88 characters) per number."""
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    digits = ""
    while True:
        number, digit = divmod(number, 58)
        digits = alphabet[digit] + digits
        if not number:
            break
    return digits.rjust(88, "5")
