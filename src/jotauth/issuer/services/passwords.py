"""Password hashing: Argon2id with OWASP parameters, bcrypt accepted and upgraded at login.

Hashing costs tens of milliseconds of CPU by design, so every call runs in a worker thread and
the event loop keeps serving. An unknown user is checked against a dummy hash made with the
same parameters, so "no such user" and "wrong password" take the same time.
"""

import anyio.to_thread
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

__all__ = ["PasswordService"]

# OWASP Password Storage Cheat Sheet, Argon2id: m=19 MiB, t=2, p=1.
OWASP_MEMORY_KIB = 19456
OWASP_TIME_COST = 2
OWASP_PARALLELISM = 1


class PasswordService:
    """Hash and verify passwords; ``verify`` also says when a stored hash should be upgraded."""

    def __init__(
        self,
        *,
        time_cost: int = OWASP_TIME_COST,
        memory_cost: int = OWASP_MEMORY_KIB,
        parallelism: int = OWASP_PARALLELISM,
    ) -> None:
        self.argon2 = Argon2Hasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism
        )
        self._hash = PasswordHash((self.argon2, BcryptHasher()))
        # Made now, not on the first unknown user: that login would otherwise pay two hashes
        # and answer measurably slower than a wrong password.
        self._dummy = self._hash.hash("jotauth-dummy-password")

    def hash_sync(self, password: str) -> str:
        """An Argon2id hash (blocking)."""
        return self._hash.hash(password)

    def verify_sync(self, password: str, stored: str | None) -> tuple[bool, str | None]:
        """(valid, new hash or None); ``stored`` None runs a dummy check of equal cost."""
        if stored is None:
            self._hash.verify(password, self._dummy)
            return False, None
        try:
            return self._hash.verify_and_update(password, stored)
        except Exception:  # noqa: BLE001 - an unknown or corrupt hash format is a failed login, never a 500
            self.verify_sync(password, None)
            return False, None

    def is_supported(self, stored: str) -> bool:
        """Whether ``stored`` is an Argon2 or bcrypt hash this service can verify."""
        return any(h.identify(stored) for h in (self.argon2, BcryptHasher()))

    async def hash(self, password: str) -> str:
        """``hash_sync`` off the event loop."""
        return await anyio.to_thread.run_sync(self.hash_sync, password)

    async def verify(self, password: str, stored: str | None) -> tuple[bool, str | None]:
        """``verify_sync`` off the event loop."""
        return await anyio.to_thread.run_sync(self.verify_sync, password, stored)
