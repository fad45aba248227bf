"""Password hashing with argon2id, run in a worker thread so the loop never blocks."""
from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's argon2id minimum (19 MiB, t=2, p=1); a hash takes milliseconds of CPU, hence the worker
# thread (timings in docs/benchmarks.md, "Why the code is the way it is").
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return await asyncio.to_thread(_hasher.verify, password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
