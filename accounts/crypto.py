"""Encryption at rest for tokens, with Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`.

TOKEN_ENCRYPTION_KEYS holds one or more Fernet keys; the first encrypts, all decrypt, so keys can
be rotated by putting a new key first.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(plaintext: str) -> bytes:
    return _fernet(tuple(settings.TOKEN_ENCRYPTION_KEYS)).encrypt(plaintext.encode())


def decrypt(ciphertext: bytes | memoryview) -> str:
    return _fernet(tuple(settings.TOKEN_ENCRYPTION_KEYS)).decrypt(bytes(ciphertext)).decode()
