"""Symmetric encryption for secrets we must keep but never show (idempotent replays of new API keys now; provider
credentials and webhook tokens later). Keys derive from SECRET_KEY and SECRET_KEY_FALLBACKS, so rotating
SECRET_KEY keeps old ciphertexts readable while the old key stays listed as a fallback."""

from __future__ import annotations

import base64
import functools
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _fernet_for(secret: str) -> Fernet:
    digest = hashlib.sha256(b"modelmarket.core.crypto:" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


@functools.cache
def _cipher(secret_key: str, fallbacks: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_fernet_for(secret_key), *(_fernet_for(old) for old in fallbacks)])


def _current_cipher() -> MultiFernet:
    return _cipher(settings.SECRET_KEY, tuple(getattr(settings, "SECRET_KEY_FALLBACKS", ())))


def encrypt_bytes(plaintext: bytes) -> bytes:
    return _current_cipher().encrypt(plaintext)


def decrypt_bytes(ciphertext: bytes) -> bytes:
    """Raises ValueError when the ciphertext was not made with any configured key."""
    try:
        return _current_cipher().decrypt(bytes(ciphertext))
    except InvalidToken as exc:
        raise ValueError("ciphertext cannot be decrypted with the configured keys") from exc
