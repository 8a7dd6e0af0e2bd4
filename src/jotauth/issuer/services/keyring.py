"""The signing key ring: next → active → retiring → retired, or revoked.

- The **next** key is in the JWKS from the moment it is made, so every cache knows it before
  it signs anything; rotation promotes it and makes a new next key.
- The **active** key signs. Rotation is scheduled (``JOTAUTH_KEY_ROTATION_DAYS``) and manual.
- A **retiring** key is published until ``retire_after`` = rotation time + the longest access
  token lifetime (``JOTAUTH_ACCESS_TTL``, or a client's longer ``access_ttl``) + a minute, i.e.
  until every token it signed has expired; then it is retired.
- A **revoked** key leaves the JWKS at once and its kid goes into the revocation feed, so
  guards reject its tokens even before their JWKS cache refreshes.

Private keys are stored AES-GCM sealed under the master key, with the kid as associated data.
Every worker re-reads the ring at most ``cache_seconds`` after a change by another worker, and
before signing it confirms, at most every half second, that its signing key is still the
one it loaded (one primary-key read). ``revoke`` returns only after that half second (and a
margin) has passed, so once it returns no worker of any instance starts signing with the
revoked key; a token that was signed with it anyway (a worker stalled mid-signing) is still
refused everywhere, by the key's revocation event.

A key signs only once services can know it
-------------------------------------------
A guard that fetched the JWKS just before two key changes (rotate + rotate, rotate + revoke)
does not know the key made by the first of them, and refetches for an unknown kid only once
per cooldown (30 s by default, ``JWKSClient(cooldown=)``). So a key signs only after it has
been published for ``PUBLISH_LEAD`` = that cooldown + the ring cache of other instances (5 s)
+ 1 s: any guard that lacks it then last fetched more than a cooldown ago and refetches at
once. Until then the ring keeps signing with the newest key guards already know: the active
key if it is old enough, else a retiring one whose tokens expire before it is unpublished.
The keys made with a fresh ring count as known at once (no guard could have fetched an
older set). A single rotation is unaffected: the next key was published at the previous
rotation. ``revoke`` refuses (409) to remove the last key that could sign under this rule,
so the server is never left without a signing key services know; the refusal says how long
to wait.
"""

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from jotauth import jose
from jotauth.issuer.errors import ConfigurationError, ConflictError, NotFoundError
from jotauth.issuer.services.sealing import open_sealed, seal
from jotauth.issuer.settings import Settings
from jotauth.store.records import KeyRecord
from jotauth.store.sql import SQLStore

__all__ = ["PUBLISH_LEAD", "KeyRing", "RingView", "verified_algorithms"]

PUBLISHED = ("next", "active", "retiring")
PUBLISH_LEAD = 30.0 + 5.0 + 1.0  # guards' unknown-kid cooldown + other instances' ring cache
_RETIRE_MARGIN = 60.0  # > PUBLISH_LEAD: a retiring key may sign while the new one is too young
_CONFIRM_SECONDS = 0.5  # how stale "the signing key is still the one loaded" may be
_CONFIRM_MARGIN = 0.1  # revoke waits this much longer, for a signing already under way
_RING_LOCK = 74052  # advisory lock id: one instance at a time creates the first keys


_EDDSA_NAMES: Final = ("EdDSA", "Ed25519", "Ed448")


def verified_algorithms(signing_alg: str) -> list[str]:
    """The names the server's own tokens may carry: its setting, and for EdDSA every name of it.

    Moving ``JOTAUTH_SIGNING_ALG`` from ``EdDSA`` to ``Ed25519`` (RFC 9864) changes the name of
    new keys only; the keys already in the ring sign under the old name until rotated out, and
    their tokens must keep working here meanwhile. Each key still answers only to the names of
    its own curve (``jose.Key.accepts``).
    """
    return list(_EDDSA_NAMES) if signing_alg in _EDDSA_NAMES else [signing_alg]


@dataclass(frozen=True)
class RingView:
    """One consistent read of the ring: the signing key and the keys that verify."""

    signer: jose.Key
    published: jose.KeySet
    records: tuple[KeyRecord, ...]
    loaded_at: float
    signer_state: str = "active"


class KeyRing:
    """Creates, seals, rotates and revokes the server's signing keys."""

    def __init__(
        self,
        store: SQLStore,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        cache_seconds: float = 5.0,
        alg: str | None = None,
        owns: Callable[[str], bool] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.alg = alg or settings.signing_alg
        self._owns = owns
        self.alongside: KeyRing | None = None
        """A second ring in the same table (the RS256 ID-token keys): published in this
        ring's JWKS and rotated with it."""
        self.clock = clock
        self.sleep = sleep
        self.cache_seconds = cache_seconds
        self._view: RingView | None = None
        self._confirmed_at = -math.inf
        self._lock = threading.RLock()  # _load may rotate, which takes the lock again
        if self.alg.startswith("HS"):
            secret = settings.hmac_secret or b""
            self._hmac: jose.Key | None = jose.Key.from_secret(secret, self.alg)
        else:
            self._hmac = None
            if settings.master_key is None:
                raise ConfigurationError(
                    "the key ring needs JOTAUTH_MASTER_KEY; make one with `jotauth keys master`"
                )
            self._master: bytes = settings.master_key

    @property
    def symmetric(self) -> bool:
        """True when tokens are HMAC-signed with the configured secret (no ring, no JWKS)."""
        return self._hmac is not None

    # -- records -----------------------------------------------------------------------------

    def _keys(self, states: tuple[str, ...] | None = None) -> list[KeyRecord]:
        """This ring's keys of the table (all of them unless ``owns`` picks some by alg)."""
        records = self.store.list_keys(states)
        return records if self._owns is None else [r for r in records if self._owns(r.alg)]

    def _mine(self, records: list[KeyRecord]) -> list[KeyRecord]:
        return records if self._owns is None else [r for r in records if self._owns(r.alg)]

    def _new_record(self, state: str, now: float) -> KeyRecord:
        key = jose.Key.generate(self.alg)
        private = json.dumps(key.to_jwk(private=True)).encode()
        return KeyRecord(
            kid=key.kid,
            alg=key.alg,
            state=state,
            public_jwk=key.to_jwk(),
            private_sealed=seal(self._master, private, key.kid.encode()),
            created_at=now,
            activated_at=now if state == "active" else None,
        )

    def _private(self, record: KeyRecord) -> jose.Key:
        raw = open_sealed(self._master, record.private_sealed, record.kid.encode())
        return jose.Key.from_jwk(json.loads(raw), alg=record.alg)

    # -- lifecycle ---------------------------------------------------------------------------

    def ensure(self) -> None:
        """Make the first active and next keys on a fresh database (idempotent)."""
        if self.symmetric:
            return
        with self.store.exclusive(_RING_LOCK):
            self._ensure()

    def _ensure(self) -> None:
        now = self.clock()
        records = self._keys(PUBLISHED)
        states = {r.state for r in records}
        if "active" not in states:
            if "next" in states:
                with self._lock:
                    self._rotate_records(records, now)
                    self._view = None
                return
            self.store.add_key(self._new_record("active", now))
        if "next" not in states:
            self.store.add_key(self._new_record("next", now))
        for record in records[:1]:
            self._private(record)  # a wrong master key stops the server here, at start
        self._view = None

    def view(self) -> RingView:
        """The current ring, reloaded every ``cache_seconds`` (scheduled rotation happens here)."""
        now = self.clock()
        view = self._view
        if view is not None and now - view.loaded_at < self.cache_seconds:
            return view
        with self._lock:
            view = self._view
            if view is not None and now - view.loaded_at < self.cache_seconds:
                return view
            self._view = view = self._load(now)
            return view

    def _load(self, now: float) -> RingView:
        if self._hmac is not None:
            return RingView(self._hmac, jose.KeySet([self._hmac]), (), now)
        self.store.retire_keys(now=now)
        records = self._keys(PUBLISHED)
        active = [r for r in records if r.state == "active"]
        if not active or not any(r.state == "next" for r in records):
            self.ensure()
            records = self._keys(PUBLISHED)
            active = [r for r in records if r.state == "active"]
        due = (active[-1].activated_at or active[-1].created_at) + self.settings.rotation_period
        if due <= now:
            self._rotate_records(records, now)
            records = self._keys(PUBLISHED)
            active = [r for r in records if r.state == "active"]
        # The last resort (no key old enough) cannot arise through this ring: revoke refuses it.
        signer = self._known_signer(self._keys(), now) or active[-1]
        public = jose.KeySet([jose.Key.from_jwk(r.public_jwk, alg=r.alg) for r in records])
        return RingView(self._private(signer), public, tuple(records), now, signer.state)

    def _known_signer(self, every: list[KeyRecord], now: float) -> KeyRecord | None:
        """The key to sign with: the newest that every guard can know by now (module doc).

        ``every`` is the whole ring, revoked keys included: the keys made with the ring are the
        oldest ones, and count as known at once.
        """
        if not every:
            return None
        birth = min(r.created_at for r in every)

        def known(record: KeyRecord) -> bool:
            return record.created_at <= birth or now - record.created_at >= PUBLISH_LEAD

        active = [r for r in every if r.state == "active"]
        if not active:  # the next key is promoted when a reload finds no active key
            active = [r for r in every if r.state == "next"][:1]
        if active and known(active[-1]):
            return active[-1]
        fallback = [
            r
            for r in every
            if r.state == "retiring"
            and known(r)
            and (r.retire_after or 0.0) >= now + self.settings.access_ttl
        ]
        fallback.sort(key=lambda r: (r.activated_at or r.created_at, r.created_at))
        return fallback[-1] if fallback else None

    def _rotate_records(self, records: list[KeyRecord], now: float) -> str:
        nexts = [r for r in records if r.state == "next"]
        actives = [r for r in records if r.state == "active"]
        if not nexts:
            raise ConflictError("no next key to promote; run ensure() first")
        longest = max(self.settings.access_ttl, self.store.longest_access_ttl(now=now) or 0)
        retire_after = now + longest + _RETIRE_MARGIN
        promoted = nexts[0]
        self.store.rotate_keys(
            next_kid=promoted.kid,
            active_kid=actives[-1].kid if actives else None,
            new_next=self._new_record("next", now),
            now=now,
            retire_after=retire_after,
        )
        return promoted.kid

    def rotate(self) -> str:
        """Promote the next key now; returns the new active kid."""
        if self.symmetric:
            raise ConflictError("HMAC signing uses one configured secret; there is no ring")
        with self._lock:
            kid = self._rotate_records(self._keys(PUBLISHED), self.clock())
            self._view = None
        if self.alongside is not None and self.alongside._keys(("next",)):
            self.alongside.rotate()  # not made yet (first use): nothing to rotate
        return kid

    def revoke(self, kid: str) -> KeyRecord:
        """Emergency revocation: unpublish ``kid`` now and replace it if it was signing.

        Refused with ConflictError, changing nothing, when no key services already know would
        be left to sign (see the module doc). Returns once no instance signs with the key any
        more: after the half-second confirmation interval, and a margin, has passed.
        """
        if self.symmetric:
            raise ConflictError("HMAC signing uses one configured secret; there is no ring")
        now = self.clock()

        def still_signable(remaining: list[KeyRecord]) -> None:
            remaining = self._mine(remaining)
            if self._known_signer(remaining, now) is not None:
                return
            young = [r.created_at for r in remaining if r.state in ("active", "next")]
            wait = max(1, math.ceil(max(young, default=now) + PUBLISH_LEAD - now))
            raise ConflictError(
                f"revoking {kid!r} now would leave no signing key that services already know "
                f"(the replacement was published less than {PUBLISH_LEAD:g} s ago, and guards "
                f"refetch keys at most every 30 s); retry in {wait} s"
            )

        with self._lock:
            record = self.store.revoke_key(kid, now=now, check=still_signable)
            if record is None:
                raise NotFoundError(f"no revocable key with kid {kid!r}")
            self._view = None
        self.ensure()
        self.sleep(_CONFIRM_SECONDS + _CONFIRM_MARGIN)
        return record

    def invalidate(self) -> None:
        """Forget the cached view (after a change made elsewhere)."""
        self._view = None

    # -- reads -------------------------------------------------------------------------------

    def cached_keys(self, now: float) -> jose.KeySet | None:
        """The published keys if the cached view is fresh, without touching the database."""
        view = self._view
        if view is None or now - view.loaded_at >= self.cache_seconds:
            return None
        return view.published

    def signer(self) -> jose.Key:
        """The private key that signs new tokens, confirmed active in the database.

        The cached view may be up to ``cache_seconds`` old: another instance may have
        emergency-revoked its signing key since, and every token signed with it would be
        refused. So a cached signer's state is read back, at most every ``_CONFIRM_SECONDS``
        (a read per token cost a quarter of refresh throughput); if it is no longer in the
        state it was loaded in (active, or retiring while the new key is too young) the ring is
        reloaded now (which promotes the next key when the active one was revoked).
        """
        before = self._view
        view = self.view()
        if self._hmac is not None or view is not before:
            return view.signer  # HMAC has no ring; a view loaded just now is current
        now = self.clock()
        if now - max(view.loaded_at, self._confirmed_at) < _CONFIRM_SECONDS:
            return view.signer  # confirmed a moment ago: one read per interval, not per token
        if self.store.key_state(view.signer.kid) == view.signer_state:
            self._confirmed_at = now
            return view.signer
        with self._lock:
            if self._view is view:
                self._view = None
        return self.view().signer

    def ready_signer(self) -> jose.Key | None:
        """``signer()``'s key when it would answer from memory (the view fresh, its key
        confirmed less than half a second ago), else None: never blocks, so the event loop
        may sign with it and spare the request a worker thread."""
        view, now = self._view, self.clock()
        if view is None or now - view.loaded_at >= self.cache_seconds:
            return None
        if self._hmac is not None:
            return view.signer
        if now - max(view.loaded_at, self._confirmed_at) < _CONFIRM_SECONDS:
            return view.signer
        return None

    def verification_keys(self) -> jose.KeySet:
        """Public keys a token of this server may be signed with (next, active, retiring)."""
        return self.view().published

    def jwks(self) -> dict[str, Any]:
        """The JWK Set to publish (empty for HMAC: a shared secret is never published)."""
        keys = [] if self.symmetric else self.view().published.to_jwks()["keys"]
        if self.alongside is not None:
            keys = keys + self.alongside.jwks()["keys"]
        return {"keys": keys}

    def list(self) -> list[KeyRecord]:
        """Every key of the ring, retired and revoked included, oldest first; then those of
        the ring kept alongside (the ID-token keys)."""
        return self._keys() + ([] if self.alongside is None else self.alongside.list())
