"""Time-ordered UUIDs (RFC 9562 version 7): unique everywhere, and they index like a sequence."""

import secrets
import time
import uuid


def uuid7() -> uuid.UUID:
    millis = time.time_ns() // 1_000_000 & (1 << 48) - 1
    rand_a = secrets.randbits(12)
    rand_b = secrets.randbits(62)
    return uuid.UUID(int=millis << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b)
