"""``Guard``: verify an access token locally and say who it speaks for.

Built once per service; each request then costs, on a cache hit, one dictionary lookup and a
few comparisons (``exp``/``nbf`` against the clock, the revocation view), and on a miss one
``jose.Verifier.verify`` (the policy is compiled once per key set). The auth server is never
called on the hot path: keys come from a ``KeySource`` (static keys or a cached JWKS), and
revocations from a ``RevocationSource`` that runs beside the requests.

Tokens bound to a client's key (DPoP, RFC 9449: ``cnf.jkt``) need, on every request, the
DPoP scheme and a fresh proof by that key; ``authenticate(token, dpop=DPoPRequest(...))``
checks it after the token (``jotauth.guard.dpop``), and the proof's ``jti`` is remembered in
the replay cache until the proof goes stale. Without ``dpop=`` a bound token is refused.

Encrypted access tokens (nested JWTs: signed by the issuer, then encrypted to this service's
published ``use: enc`` key) are opened with ``decrypt_with``; the inner JWS is then verified,
cached and re-checked exactly as a plain token, keyed by the token as sent.
"""

import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from jotauth import jose
from jotauth.errors import JotauthError
from jotauth.guard.admission import Admission
from jotauth.guard.cache import TokenCache
from jotauth.guard.credentials import CookieSettings, extract_credentials
from jotauth.guard.dpop import DPoPPolicy, DPoPRequest
from jotauth.guard.dpop_nonce import NonceSource
from jotauth.guard.dpop_replay import MemoryReplayCache, ReplayCache
from jotauth.guard.errors import RevokedTokenError
from jotauth.guard.keysource import KeySource, StaticKeySource
from jotauth.guard.principal import Principal, ShapeMemo, build_principal
from jotauth.guard.response import ErrorResponse, error_response
from jotauth.guard.revocation import RevocationSource, RevocationView
from jotauth.jose import dpop as jose_dpop, jwe
from jotauth.jose.claims import normalize_typ

if TYPE_CHECKING:
    from jotauth.guard.ratelimit import ClientRateLimiter

__all__ = ["Guard"]

_KID_MEMO_SIZE: Final = 256
_UNSEEN: Final = object()
_KEY_FAILURES: Final = (jose.DecryptionError, jose.NoMatchingKeyError, jose.InvalidKeyError)


class Guard(Admission):
    """Verifies jotauth (or any OIDC issuer's) access tokens for one service.

    Give it where keys come from: ``keys=`` (static keys or an HMAC secret), ``jwks_url=``,
    or only ``issuer=`` to discover the JWKS URL. ``audience`` is this service's identifier;
    ``typ="at+jwt"`` keeps ID tokens and other JWTs from passing as access tokens (RFC 9068).

    ``cookie`` names the cookie a browser sends the token in (with the CSRF double submit of
    ``csrf_cookie`` / ``csrf_header``); ``csrf_origins`` also refuses unsafe cookie requests
    from an ``Origin`` that is neither the request's host nor one of them.

    ``decrypt_with`` (this service's private JWE keys, a KeySet of them, or a configured
    ``jose.jwe.Decrypter``) opens encrypted tokens; with ``require_encryption=True`` (the
    default once ``decrypt_with`` is given) a plain signed token is refused, so claims meant to
    be secret cannot arrive in the clear; ``False`` accepts both, for the time an issuer moves
    an audience to encrypted tokens.

    ``rate_limiter`` (a ``jotauth.guard.ratelimit.ClientRateLimiter``) enforces each client's
    tier limit from its token's ``rate_limit`` claim on every route the guard protects.

    DPoP (tokens bound by ``cnf.jkt``): ``dpop_algorithms`` the proof algorithms accepted (and
    advertised in ``algs=``), ``dpop_max_age`` how old a proof may be (seconds; 5 s of clock
    skew into the future are allowed as well), ``dpop_replay`` where used proofs are
    remembered (a bounded ``MemoryReplayCache`` by default; a ``RedisReplayCache`` shares it
    between instances), ``dpop_nonce`` a ``NonceSource`` to require server nonces, and
    ``external_url`` the public URL of the service when it sits behind a proxy (proofs name
    the URI the client used).
    """

    def __init__(
        self,
        *,
        issuer: str | Collection[str] | None = None,
        audience: str | Collection[str] | None = None,
        jwks_url: str | None = None,
        keys: jose.Key | jose.KeySet | Iterable[jose.Key] | None = None,
        key_source: KeySource | None = None,
        algorithms: Collection[str] | None = None,
        leeway: float = 30,
        typ: str | None = "at+jwt",
        require: Collection[str] = ("exp", "sub"),
        revocation: RevocationSource | None = None,
        roles: Mapping[str, Iterable[str]] | None = None,
        cache_size: int = 10_000,
        max_token_size: int = 8192,
        cookie: str | None = None,
        csrf_cookie: str = "csrf_token",
        csrf_header: str = "X-CSRF-Token",
        csrf_origins: Collection[str] | None = None,
        realm: str | None = None,
        jwks_timeout: float = 3.0,
        jwks_cooldown: float = 30.0,
        transport: Any = None,
        clock: Callable[[], float] = time.time,
        decrypt_with: jwe.Decrypter | jose.Key | jose.KeySet | Iterable[jose.Key] | None = None,
        require_encryption: bool = True,
        rate_limiter: "ClientRateLimiter | None" = None,
        dpop_algorithms: Collection[str] = jose_dpop.DEFAULT_DPOP_ALGS,
        dpop_max_age: int = jose_dpop.DEFAULT_MAX_AGE,
        dpop_replay: ReplayCache | None = None,
        dpop_nonce: NonceSource | None = None,
        external_url: str | None = None,
    ) -> None:
        sources = [s for s in (keys, jwks_url, key_source) if s is not None]
        if len(sources) > 1:
            raise ValueError("give only one of keys=, jwks_url= and key_source=")
        if key_source is None:
            if keys is not None:
                key_source = StaticKeySource(keys)
            elif jwks_url is not None or isinstance(issuer, str):
                from jotauth.guard.jwks_client import JWKSClient  # httpx only when needed

                key_source = JWKSClient(
                    jwks_url,
                    issuer=issuer if isinstance(issuer, str) else None,
                    algorithms=algorithms,
                    timeout=jwks_timeout,
                    cooldown=jwks_cooldown,
                    transport=transport,
                    clock=clock,
                )
            else:
                raise ValueError(
                    "the guard needs keys: pass keys=, jwks_url=, or issuer= (JWKS discovery)"
                )
        self.key_source = key_source
        self.issuer = issuer
        self.audience = audience
        self._options: dict[str, Any] = {
            "algorithms": algorithms,
            "issuer": issuer,
            "audience": audience,
            "leeway": leeway,
            "typ": typ,
            "require": require,
            "max_size": max_token_size,
        }
        # Build one verifier now, so a bad policy (unknown algorithm, bad leeway) fails here.
        probe = jose.Verifier(jose.KeySet([]), **self._options)
        self._leeway = probe.policy.leeway
        self._verifier: tuple[jose.KeySet, jose.Verifier] | None = None
        self._roles = {role: tuple(grants) for role, grants in (roles or {}).items()}
        self._shapes: ShapeMemo = {}
        self._cache = TokenCache(cache_size)
        self._verified = 0
        self._rejected: dict[str, int] = {}
        self._kids: dict[str, str | None] = {}
        self.revocation = revocation
        self.revocations = RevocationView(leeway=self._leeway)
        self._started = revocation is None
        self._start_lock = threading.Lock()
        origins = None if csrf_origins is None else frozenset(o.rstrip("/") for o in csrf_origins)
        self.cookie = (
            None if cookie is None else CookieSettings(cookie, csrf_cookie, csrf_header, origins)
        )
        self.realm = realm
        self._clock = clock
        if decrypt_with is None or isinstance(decrypt_with, jwe.Decrypter):
            self._decrypter = decrypt_with
        else:
            self._decrypter = jwe.Decrypter(decrypt_with, max_size=max_token_size)
        self.require_encryption = self._decrypter is not None and require_encryption
        self.rate_limiter = rate_limiter
        self.dpop = DPoPPolicy(
            algorithms=dpop_algorithms,
            max_age=dpop_max_age,
            external_url=external_url,
            nonces=dpop_nonce,
        )
        self.dpop_replay: ReplayCache = (
            MemoryReplayCache(clock=clock) if dpop_replay is None else dpop_replay
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Attach the revocation source (done on first use; call it to start earlier)."""
        with self._start_lock:
            if not self._started and self.revocation is not None:
                self.revocation.attach(self.revocations)
            self._started = True

    def close(self) -> None:
        """Stop the revocation source and close HTTP clients."""
        if self.revocation is not None:
            self.revocation.close()
        close = getattr(self.key_source, "close", None)
        if callable(close):
            close()

    # -- the hot path ------------------------------------------------------------------------

    def authenticate_sync(self, token: str, *, dpop: DPoPRequest | None = None) -> Principal:
        """The principal for ``token``, or the JoseError / GuardError saying why not.

        ``dpop``: the request's DPoP facts when it used the DPoP scheme; a token bound to a
        key is refused without them, and an unbound one with them.
        """
        if not self._started:
            self.start()
        now = self._clock()
        try:
            cached = self._cache.get(token)
            if cached is not None:
                principal = self._recheck(token, cached, now)
            else:
                principal = self._miss_sync(token, now)
            if dpop is None and principal._jkt is None:
                return principal  # the plain Bearer case: nothing more to check
            proof = self.dpop.check(principal._jkt, token, dpop, now)
            if proof is not None:
                self._check_replay(proof)
            return principal
        except JotauthError as exc:
            self._count(exc)
            raise

    def _miss_sync(self, token: str, now: float) -> Principal:
        signed = self._open(token)
        source = self.key_source
        keys = source.cached(now)
        if keys is None:
            keys = source.load(now)
        try:
            return self._verify(token, signed, keys, now)
        except jose.NoMatchingKeyError:
            fresh = source.load_unknown(self._kid(signed), now)
            if fresh is keys:
                raise
            return self._verify(token, signed, fresh, now)

    async def authenticate(self, token: str, *, dpop: DPoPRequest | None = None) -> Principal:
        """Async twin of ``authenticate_sync``: key fetches (and a replay cache that does
        network I/O) run in a worker thread."""
        if not self._started:
            self.start()
        now = self._clock()
        try:
            cached = self._cache.get(token)
            if cached is not None:
                principal = self._recheck(token, cached, now)
            else:
                principal = await self._miss(token, now)
            if dpop is None and principal._jkt is None:
                return principal  # the plain Bearer case: nothing more to check
            proof = self.dpop.check(principal._jkt, token, dpop, now)
            if proof is not None:
                if self.dpop_replay.blocking:
                    import anyio.to_thread  # a dependency of httpx

                    await anyio.to_thread.run_sync(self._check_replay, proof)
                else:
                    self._check_replay(proof)
            return principal
        except JotauthError as exc:
            self._count(exc)
            raise

    def _check_replay(self, proof: jose.DPoPProof) -> None:
        if self.dpop_replay.seen(proof.jti, proof.jkt, proof.expires_at):
            raise jose.DPoPProofError(
                "jti", "this DPoP proof was already used (a replay); make a new proof per request"
            )

    async def _miss(self, token: str, now: float) -> Principal:
        signed = self._open(token)
        source = self.key_source
        keys = source.cached(now)
        if keys is None:
            keys = await _in_thread(source.load, now)
        try:
            return self._verify(token, signed, keys, now)
        except jose.NoMatchingKeyError:
            fresh = await _in_thread(source.load_unknown, self._kid(signed), now)
            if fresh is keys:
                raise
            return self._verify(token, signed, fresh, now)

    def extract(
        self,
        authorization: Sequence[str],
        cookie_header: str | None = None,
        method: str = "GET",
        csrf_value: str | None = None,
        *,
        origin: str | None = None,
        host: str | None = None,
    ) -> str:
        """The Bearer (or cookie) token of a request; a DPoP-scheme token counts as none.

        For callers that check no proofs; the adapters use ``extract_credentials``.
        """
        if len(authorization) == 1:
            header = authorization[0]  # the cached fast path, as in _credentials
            if header[:7].lower() == "bearer ":
                token = header[7:]
                if token in self._cache:
                    return token
        return self._credentials(
            authorization, cookie_header, method, csrf_value, origin, host, dpop=False
        )[0]

    def extract_credentials(
        self,
        authorization: Sequence[str],
        cookie_header: str | None = None,
        method: str = "GET",
        csrf_value: str | None = None,
        *,
        origin: str | None = None,
        host: str | None = None,
    ) -> tuple[str, bool]:
        """``(token, dpop)``: the token of a request and whether it came with the DPoP scheme
        (see ``jotauth.guard.credentials.extract_credentials``)."""
        return self._credentials(
            authorization, cookie_header, method, csrf_value, origin, host, dpop=True
        )

    def _credentials(
        self,
        authorization: Sequence[str],
        cookie_header: str | None,
        method: str,
        csrf_value: str | None,
        origin: str | None,
        host: str | None,
        *,
        dpop: bool,
    ) -> tuple[str, bool]:
        if len(authorization) == 1:
            # A token this guard has verified and cached is known to be well-formed, and the
            # header wins over any cookie: skip the grammar check that costs most of a hit.
            header = authorization[0]
            if header[:7].lower() == "bearer ":
                token = header[7:]
                if token in self._cache:
                    return token, False
            elif dpop and header[:5].lower() == "dpop ":
                token = header[5:]
                if token in self._cache:
                    return token, True
        try:
            return extract_credentials(
                authorization,
                cookie_header,
                method,
                csrf_value,
                self.cookie,
                origin=origin,
                host=host,
                dpop=dpop,
            )
        except JotauthError as exc:
            self._count(exc)
            raise

    def refusal(self, exc: JotauthError, *, dpop: bool = False) -> ErrorResponse:
        """The HTTP answer to ``exc`` for this guard: its realm, and for a request that used
        the DPoP scheme (or a DPoP failure) the ``DPoP`` challenge with this guard's ``algs``."""
        return error_response(exc, self.realm, dpop=dpop, dpop_algs=self.dpop.challenge_algs)

    def stats(self) -> dict[str, Any]:
        """Counters for monitoring (the tutorial's "collect metrics on token validation").

        ``verified``: signatures checked and accepted; ``cache_hits``/``cache_misses``;
        ``rejected``: refusals by error code (``expired_token``, ``bad_signature``,
        ``missing_token``, ``insufficient_scope``, ...); ``jwks_fetches``; ``cache_entries``.
        Plain integers, so keeping them costs nothing; ``jotauth.guard.metrics`` exports them.
        """
        return {
            "verified": self._verified,
            "cache_hits": self._cache.hits,
            "cache_misses": self._cache.misses,
            "rejected": dict(self._rejected),
            "jwks_fetches": int(getattr(self.key_source, "fetches", 0)),
            "cache_entries": len(self._cache),
        }

    def record_rejection(self, exc: JotauthError) -> None:
        """Count a refusal decided beside the guard (the issuer's database revocation check),
        so that ``stats()["rejected"]`` covers every refused token of the service."""
        self._count(exc)

    def _count(self, exc: JotauthError) -> None:
        self._rejected[exc.code] = self._rejected.get(exc.code, 0) + 1

    # -- internals ---------------------------------------------------------------------------

    def _recheck(self, token: str, principal: Principal, now: float) -> Principal:
        leeway = self._leeway
        exp = principal._exp
        if now - leeway >= exp:
            self._cache.discard(token)
            raise jose.ExpiredTokenError(exp, now, leeway)
        nbf = principal._nbf
        if nbf is not None and nbf > now + leeway:
            raise jose.ImmatureTokenError(
                "nbf", "check_failed", "token is not valid yet (nbf is in the future)"
            )
        view = self.revocations
        if view.version:
            verdict = view.check(
                principal._jti, principal.sub, principal._iat, principal._kid, principal._sid
            )
            if verdict is not None:
                self._cache.discard(token)  # a revoked token gets no more cache hits
                raise RevokedTokenError(*verdict)
        return principal

    def _verifier_for(self, keys: jose.KeySet) -> jose.Verifier:
        current = self._verifier
        if current is not None and current[0] is keys:
            return current[1]
        verifier = jose.Verifier(keys, **self._options)
        self._verifier = (keys, verifier)
        return verifier

    def _open(self, token: str) -> str:
        """The signed token to verify: ``token`` itself, or the JWS inside an encrypted one.

        Every way our keys fail to open a token (no key with its kid, a key that does not
        unwrap, a wrong tag) is the one ``DecryptionError``: the answer must not tell a prober
        which of our keys exist. Such a failure never refreshes the issuer's JWKS either, since
        the decryption keys are this service's own.
        """
        decrypter = self._decrypter
        if decrypter is None:
            return token  # a JWE then fails jws.split's check: "5 segments, encrypted"
        if type(token) is str and token.count(".") == 2:
            if self.require_encryption:
                raise jose.MalformedTokenError(
                    "this service accepts only encrypted tokens (a nested JWT in a JWE); "
                    "this is a signed JWS (3 segments)"
                )
            return token
        try:
            header, inner = decrypter.decrypt_compact(token)
        except _KEY_FAILURES:
            raise jose.DecryptionError() from None
        cty = header.get("cty")
        if type(cty) is not str or normalize_typ(cty) != "jwt":
            raise jose.MalformedTokenError(
                'a nested JWT needs "cty": "JWT" in the JWE header (RFC 7519 section 5.2)'
            )
        try:
            signed = inner.decode("ascii")
        except UnicodeDecodeError:
            raise jose.MalformedTokenError("the encrypted token does not hold a JWS") from None
        if signed.count(".") != 2:
            raise jose.MalformedTokenError("the encrypted token does not hold a JWS")
        return signed

    def _verify(self, token: str, signed: str, keys: jose.KeySet, now: float) -> Principal:
        claims = self._verifier_for(keys).verify(signed, now)
        principal = build_principal(claims, self._roles, signed, self._shapes)
        principal._kid = self._signer_kid(signed, keys)
        self._cache.put(token, principal, now)
        self._verified += 1
        return self._recheck(token, principal, now)

    def _kid(self, token: str) -> str | None:
        segment = token[: token.find(".")]
        # One read, not "in" then "[]": another thread may clear the memo between the two.
        known = self._kids.get(segment, _UNSEEN)
        if known is not _UNSEEN:
            return known  # type: ignore[return-value]
        value = jose.peek_header(token).get("kid")
        kid = value if isinstance(value, str) else None
        if len(self._kids) >= _KID_MEMO_SIZE:
            self._kids.clear()
        self._kids[segment] = kid
        return kid

    def _signer_kid(self, token: str, keys: jose.KeySet) -> str | None:
        """The kid of the key that verified ``token``: the header's, or for a token that names
        none, the key the set chose for its alg (so a key revocation cannot be dodged by
        leaving ``kid`` out)."""
        kid = self._kid(token)
        if kid is not None:
            return kid
        alg = jose.peek_header(token).get("alg")
        try:
            return keys.select(str(alg), None).kid
        except jose.JoseError:
            return None

    @property
    def cache(self) -> TokenCache:
        """The verified-token cache (``hits``, ``misses``, ``len()``)."""
        return self._cache


async def _in_thread(function: Callable[..., jose.KeySet], *args: Any) -> jose.KeySet:
    import anyio.to_thread  # a dependency of httpx; only needed when keys are fetched

    return await anyio.to_thread.run_sync(function, *args)
