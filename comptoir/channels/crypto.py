"""Channel secrets are encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache

from cryptography.fernet import Fernet
from django.conf import settings


@cache
def _fernet() -> Fernet:
    key = settings.COMPTOIR_ENCRYPTION_KEY
    if not key:
        digest = hashlib.sha256(b"comptoir.channels:" + settings.SECRET_KEY.encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key)


def encrypt_secrets(values: dict[str, str]) -> str:
    return _fernet().encrypt(json.dumps(values).encode()).decode() if values else ""


def decrypt_secrets(token: str) -> dict[str, str]:
    if not token:
        return {}
    data: dict[str, str] = json.loads(_fernet().decrypt(token.encode()))
    return data
