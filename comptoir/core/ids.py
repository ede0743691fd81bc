"""Time-ordered UUIDs (RFC 9562 version 7): unique everywhere, and they index like a sequence."""

import os
import time
import uuid


def uuid7() -> uuid.UUID:
    return uuid7s(1)[0]


def uuid7s(count: int) -> list[uuid.UUID]:
    """`count` version-7 UUIDs from one read of the OS's random source (on a batch of
    thousands, a read per id costs more than everything else)."""
    millis = time.time_ns() // 1_000_000 & (1 << 48) - 1
    head = millis << 80 | 0x7 << 76 | 0b10 << 62
    raw = os.urandom(10 * count)
    ids = []
    for i in range(count):
        bits = int.from_bytes(raw[10 * i : 10 * i + 10], "big")  # 80 random bits, 74 used
        rand_a = bits >> 62 & 0xFFF
        rand_b = bits & (1 << 62) - 1
        ids.append(uuid.UUID(int=head | rand_a << 64 | rand_b))
    return ids
