"""The JWKS client: discovery, Cache-Control, unknown-kid cooldown, outages and timeouts.

Every test talks to a scripted issuer through ``httpx.MockTransport``; time is a ManualClock.
"""

import json
from typing import Any

import anyio
import httpx
import pytest

from jotauth import jose
from jotauth.guard import Guard, JWKSClient, KeySourceError
from jotauth.guard.jwks_client import cache_ttl
from jotauth.guard.response import error_response
from jotauth.guard.testing import LocalIssuer, ManualClock, make_token

NOW = 1_900_000_000
ISSUER = "https://auth.test"


class FakeIssuer:
    """Serves discovery and a JWK Set; can be switched to fail in several ways."""

    def __init__(self, *keys: jose.Key, cache_control: str | None = "public, max-age=300") -> None:
        self.keys = [key.public() for key in keys]
        self.cache_control = cache_control
        self.failure: str | None = None
        self.jwks_requests = 0
        self.discovery_requests = 0
        self.discovery: dict[str, Any] = {
            "issuer": ISSUER,
            "jwks_uri": ISSUER + "/.well-known/jwks.json",
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.failure == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if self.failure == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if request.url.path == "/.well-known/openid-configuration":
            self.discovery_requests += 1
            return httpx.Response(200, json=self.discovery)
        if request.url.path != "/.well-known/jwks.json":
            return httpx.Response(404)
        self.jwks_requests += 1
        if self.failure == "500":
            return httpx.Response(500, text="oops")
        if self.failure == "html":
            return httpx.Response(200, text="<html>")
        headers = {} if self.cache_control is None else {"Cache-Control": self.cache_control}
        body = {"keys": [key.to_jwk() for key in self.keys]}
        return httpx.Response(200, content=json.dumps(body), headers=headers)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


def token_for(key: jose.Key, **claims: Any) -> str:
    claims.setdefault("now", NOW)
    return make_token(key, issuer=ISSUER, audience="api", **claims)


def build(fake: FakeIssuer, clock: ManualClock, **options: Any) -> Guard:
    return Guard(issuer=ISSUER, audience="api", transport=fake.transport(), clock=clock, **options)


def test_discovery_then_jwks_once(ed_key: jose.Key, clock: ManualClock) -> None:
    """With only issuer= the guard discovers the JWKS URL, fetches once, then verifies locally."""
    fake = FakeIssuer(ed_key)
    guard = build(fake, clock)
    for n in range(5):
        assert guard.authenticate_sync(token_for(ed_key, sub=str(n))).sub == str(n)
    assert (fake.discovery_requests, fake.jwks_requests) == (1, 1)


def test_explicit_jwks_url_skips_discovery(ed_key: jose.Key, clock: ManualClock) -> None:
    """jwks_url= is used as given."""
    fake = FakeIssuer(ed_key)
    guard = Guard(
        jwks_url=ISSUER + "/.well-known/jwks.json",
        issuer=ISSUER,
        audience="api",
        transport=fake.transport(),
        clock=clock,
    )
    assert guard.authenticate_sync(token_for(ed_key))
    assert fake.discovery_requests == 0


def test_cache_control_max_age_is_honoured(ed_key: jose.Key, clock: ManualClock) -> None:
    """The set is refetched only after max-age has passed."""
    fake = FakeIssuer(ed_key, cache_control="public, max-age=120")
    guard = build(fake, clock)
    guard.authenticate_sync(token_for(ed_key, sub="a"))
    clock.advance(119)
    guard.authenticate_sync(token_for(ed_key, sub="b", now=NOW + 119))
    assert fake.jwks_requests == 1
    clock.advance(2)
    guard.authenticate_sync(token_for(ed_key, sub="c", now=NOW + 121))
    assert fake.jwks_requests == 2


@pytest.mark.parametrize(
    ("header", "ttl"),
    [
        (None, 300),
        ("public, max-age=600", 600),
        ("max-age=1", 30),
        ("max-age=999999999", 86400),
        ("no-store", 30),
        ("private, no-cache", 30),
        ('max-age="90"', 90),
        ("s-maxage=10", 300),
        ("max-age=abc", 300),
    ],
)
def test_cache_ttl_bounds(header: str | None, ttl: float) -> None:
    """Cache-Control is honoured within [min_ttl, max_ttl]; unusable headers give the default."""
    assert cache_ttl(header, default=300, low=30, high=86400) == ttl


def test_unknown_kid_flood_costs_one_fetch_per_cooldown(
    ed_key: jose.Key, other_key: jose.Key, clock: ManualClock
) -> None:
    """A thousand tokens with made-up kids cause one refetch per cooldown, not a thousand."""
    fake = FakeIssuer(ed_key)
    guard = build(fake, clock, jwks_cooldown=30)
    guard.authenticate_sync(token_for(ed_key))
    assert fake.jwks_requests == 1
    for n in range(200):  # within the first fetch's cooldown: no refetch at all
        with pytest.raises(jose.NoMatchingKeyError):
            guard.authenticate_sync(token_for(other_key, headers={"kid": f"early-{n}"}))
    assert fake.jwks_requests == 1
    clock.advance(31)
    for n in range(1000):
        clock.advance(0.01)  # 10 s of flood, all inside one cooldown
        forged = token_for(other_key, headers={"kid": f"made-up-{n}"}, now=clock.now)
        with pytest.raises(jose.NoMatchingKeyError):
            guard.authenticate_sync(forged)
    assert fake.jwks_requests == 2
    clock.advance(31)
    for n in range(100):
        with pytest.raises(jose.NoMatchingKeyError):
            guard.authenticate_sync(token_for(other_key, headers={"kid": f"x-{n}"}, now=clock.now))
    assert fake.jwks_requests == 3
    assert guard.authenticate_sync(token_for(ed_key, sub="ok", now=clock.now)).sub == "ok"


def test_new_key_is_picked_up_by_one_refetch(
    ed_key: jose.Key, other_key: jose.Key, clock: ManualClock
) -> None:
    """After rotation, the first token with the new kid triggers a refetch and passes."""
    fake = FakeIssuer(ed_key)
    guard = build(fake, clock)
    guard.authenticate_sync(token_for(ed_key))
    clock.advance(31)  # past the initial fetch's cooldown
    fake.keys.append(other_key.public())
    assert guard.authenticate_sync(token_for(other_key, sub="new", now=NOW + 31)).sub == "new"
    assert fake.jwks_requests == 2


@pytest.mark.parametrize("failure", ["down", "timeout", "500", "html"])
def test_issuer_down_known_keys_keep_working(
    ed_key: jose.Key, clock: ManualClock, failure: str
) -> None:
    """When refetching fails, cached keys keep verifying, and retries respect the cooldown."""
    fake = FakeIssuer(ed_key, cache_control="max-age=60")
    guard = build(fake, clock, jwks_cooldown=30)
    guard.authenticate_sync(token_for(ed_key))
    fake.failure = failure
    requests_before = fake.jwks_requests
    clock.advance(61)
    for n in range(50):
        assert guard.authenticate_sync(token_for(ed_key, sub=str(n), now=NOW + 61))
    assert fake.jwks_requests - requests_before <= 1
    fake.failure = None
    clock.advance(31)
    assert guard.authenticate_sync(token_for(ed_key, sub="back", now=NOW + 92))


@pytest.mark.parametrize(
    ("failure", "message"),
    [("down", "ConnectError"), ("timeout", "timed out"), ("500", "HTTP 500"), ("html", "not JSON")],
)
def test_no_keys_and_no_cache_is_key_source_error(
    ed_key: jose.Key, clock: ManualClock, failure: str, message: str
) -> None:
    """Keys unavailable with nothing cached raises KeySourceError saying why; it recovers."""
    fake = FakeIssuer(ed_key)
    fake.failure = failure
    guard = build(fake, clock)
    with pytest.raises(KeySourceError, match=message):
        guard.authenticate_sync(token_for(ed_key))
    fake.failure = None
    clock.advance(31)
    assert guard.authenticate_sync(token_for(ed_key, now=NOW + 31))


def test_discovery_must_name_the_same_issuer(ed_key: jose.Key, clock: ManualClock) -> None:
    """A discovery document for another issuer is refused (OIDC Discovery 4.3)."""
    fake = FakeIssuer(ed_key)
    fake.discovery["issuer"] = "https://evil.test"
    with pytest.raises(KeySourceError, match="names issuer"):
        build(fake, clock).authenticate_sync(token_for(ed_key))
    fake.discovery = {"issuer": ISSUER, "jwks_uri": "file:///etc/passwd"}
    clock.advance(31)
    with pytest.raises(KeySourceError, match="no usable jwks_uri"):
        build(fake, clock).authenticate_sync(token_for(ed_key, now=NOW + 31))


def test_unusable_entries_are_skipped(ed_key: jose.Key, clock: ManualClock) -> None:
    """Broken, symmetric and encryption keys in the set are skipped; good keys still load."""
    good = ed_key.public().to_jwk()
    entries = [
        {"kty": "RSA", "kid": "broken", "n": "AQAB", "e": "AQAB"},
        {"kty": "oct", "kid": "secret", "k": "a" * 43, "alg": "HS256"},
        {**jose.Key.generate("ES256").public().to_jwk(), "use": "enc"},
        "not an object",
        good,
    ]

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"keys": entries})

    client = JWKSClient(ISSUER + "/jwks", transport=httpx.MockTransport(handle))
    keys = client.load(NOW)
    assert [key.kid for key in keys] == [ed_key.kid]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"nokeys": []}, 'no "keys" array'),
        ([1, 2], 'no "keys" array'),
        ({"keys": []}, "no usable signing key"),
    ],
)
def test_bad_jwk_sets(body: Any, message: str) -> None:
    """A JWK Set without usable keys is a KeySourceError naming the problem."""
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    with pytest.raises(KeySourceError, match=message):
        JWKSClient(ISSUER + "/jwks", transport=transport).load(NOW)


def test_algorithm_filter(ed_key: jose.Key) -> None:
    """Keys for algorithms the guard does not allow are not loaded."""
    es = jose.Key.generate("ES256")
    keys = {"keys": [ed_key.public().to_jwk(), es.public().to_jwk()]}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=keys))
    loaded = JWKSClient(ISSUER + "/jwks", algorithms=["ES256"], transport=transport).load(NOW)
    assert [key.kid for key in loaded] == [es.kid]


def test_oversized_jwks_is_refused() -> None:
    """A JWK Set over 1 MiB is refused rather than parsed."""
    huge = b'{"keys": [], "pad": "' + b"x" * (1 << 20) + b'"}'
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=huge))
    with pytest.raises(KeySourceError, match="larger than"):
        JWKSClient(ISSUER + "/jwks", transport=transport).load(NOW)


def test_client_argument_checks() -> None:
    """Impossible settings are refused at construction."""
    with pytest.raises(ValueError, match="jwks_url= or issuer="):
        JWKSClient()
    with pytest.raises(ValueError, match="min_ttl"):
        JWKSClient("https://x.test/jwks", min_ttl=10, default_ttl=5)
    with pytest.raises(ValueError, match="cooldown"):
        JWKSClient("https://x.test/jwks", cooldown=-1)


def test_cooldown_without_keys_is_key_source_error(ed_key: jose.Key, clock: ManualClock) -> None:
    """While the first fetch's failure cools down, an unknown kid does not refetch."""
    fake = FakeIssuer(ed_key)
    fake.failure = "down"
    client = JWKSClient(ISSUER + "/.well-known/jwks.json", transport=fake.transport())
    with pytest.raises(KeySourceError):
        client.load(NOW)
    with pytest.raises(KeySourceError, match="cooldown"):
        client.load_unknown("kid", NOW + 1)
    client.close()


@pytest.mark.anyio
async def test_concurrent_cold_start_fetches_once(ed_key: jose.Key, clock: ManualClock) -> None:
    """Twenty concurrent first requests share one JWKS fetch (worker thread, one lock)."""
    fake = FakeIssuer(ed_key)
    guard = build(fake, clock)
    results: list[str] = []

    async def one(n: int) -> None:
        results.append((await guard.authenticate(token_for(ed_key, sub=str(n)))).sub)

    async with anyio.create_task_group() as tg:
        for n in range(20):
            tg.start_soon(one, n)
    assert sorted(results, key=int) == [str(n) for n in range(20)]
    assert fake.jwks_requests == 1


@pytest.mark.anyio
async def test_async_unknown_kid_refetch(
    ed_key: jose.Key, other_key: jose.Key, clock: ManualClock
) -> None:
    """The async path refetches for a new kid too."""
    fake = FakeIssuer(ed_key)
    guard = build(fake, clock)
    await guard.authenticate(token_for(ed_key))
    clock.advance(31)
    with pytest.raises(jose.NoMatchingKeyError):
        await guard.authenticate(token_for(other_key, now=NOW + 31))
    assert fake.jwks_requests == 2
    fake.keys.append(other_key.public())
    clock.advance(31)
    assert await guard.authenticate(token_for(other_key, now=NOW + 62))


def test_local_issuer_transport(issuer: LocalIssuer, clock: ManualClock) -> None:
    """LocalIssuer.transport() serves discovery and JWKS for JWKS-configured guards."""
    guard = Guard(
        issuer=issuer.issuer, audience="articles", transport=issuer.transport(), clock=clock
    )
    assert guard.authenticate_sync(issuer.make_token(now=NOW))
    guard.close()


def test_duplicate_kids_and_symmetric_keys(ed_key: jose.Key) -> None:
    """A set whose keys share a kid is unusable; a published HMAC secret is never trusted."""
    twin = jose.Key.generate("EdDSA", kid=ed_key.kid)
    secret = jose.Key.from_secret(b"0123456789abcdef" * 4, kid="hs").to_jwk(private=True)
    body = {"keys": [ed_key.public().to_jwk(), twin.public().to_jwk(), secret]}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    with pytest.raises(KeySourceError, match="unusable"):
        JWKSClient(ISSUER + "/jwks", transport=transport).load(NOW)
    only_secret = httpx.MockTransport(lambda request: httpx.Response(200, json={"keys": [secret]}))
    with pytest.raises(KeySourceError, match="no usable signing key"):
        JWKSClient(ISSUER + "/jwks", transport=only_secret).load(NOW)


def test_known_kid_needs_no_refetch(ed_key: jose.Key) -> None:
    """load_unknown for a kid that is (by now) in the set returns it without a request."""
    fake = FakeIssuer(ed_key)
    client = JWKSClient(ISSUER + "/.well-known/jwks.json", transport=fake.transport())
    keys = client.load(NOW)
    assert client.load_unknown(ed_key.kid, NOW + 1000) is keys
    assert fake.jwks_requests == 1


# -- keys published without "alg" (issue 12, point 12) ---------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> jose.Key:
    """A 2048-bit RSA key, bound per test to RS256 or PS256."""
    return jose.Key.generate("RS256")


def _alg_less(*keys: jose.Key) -> httpx.MockTransport:
    """A discovery document and a JWK Set whose keys carry no "alg", as Entra ID publishes them."""
    entries = [
        {name: value for name, value in key.public().to_jwk().items() if name != "alg"}
        for key in keys
    ]
    for entry in entries:
        if entry["kty"] == "RSA":
            entry["x5t"] = "dGh1bWJwcmludA"  # Entra adds x5t/x5c; they are not key sources
    discovery = {"issuer": ISSUER, "jwks_uri": ISSUER + "/keys"}

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json=discovery)
        return httpx.Response(200, json={"keys": entries})

    return httpx.MockTransport(handle)


def _guard(transport: httpx.MockTransport, clock: ManualClock, **options: Any) -> Guard:
    return Guard(issuer=ISSUER, audience="api", transport=transport, clock=clock, **options)


def test_rsa_key_without_alg_bound_by_the_only_rsa_algorithm_allowed(
    rsa_key: jose.Key, clock: ManualClock
) -> None:
    """An alg-less RSA key (Entra ID, Cognito) verifies when algorithms= names one RSA alg."""
    ec_key = jose.Key.generate("ES256")
    transport = _alg_less(rsa_key, ec_key)
    guard = _guard(transport, clock, algorithms=["RS256"])
    assert guard.authenticate_sync(token_for(rsa_key, sub="entra")).sub == "entra"
    both = _guard(transport, clock, algorithms=["RS256", "ES256"])
    assert both.authenticate_sync(token_for(rsa_key, sub="rsa")).sub == "rsa"
    assert both.authenticate_sync(token_for(ec_key, sub="ec")).sub == "ec"  # the curve decides
    no_kid = token_for(rsa_key, headers={"kid": None})
    assert guard.authenticate_sync(no_kid).sub == "user-1"


def test_rsa_key_without_alg_refused_with_the_cause_not_a_503(
    rsa_key: jose.Key, clock: ManualClock
) -> None:
    """Where algorithms= cannot decide, the 401 says so and what to set: never a network 503."""
    ec_key = jose.Key.generate("ES256")
    token = token_for(rsa_key)
    for options, cause in (
        ({}, r"no \"alg\".*algorithms=\['RS256'\]"),
        ({"algorithms": ["RS256", "PS256"]}, r"several RSA algorithms \(PS256, RS256\); narrow"),
    ):
        for transport in (_alg_less(rsa_key), _alg_less(rsa_key, ec_key)):
            guard = _guard(transport, clock, **options)
            with pytest.raises(jose.NoMatchingKeyError, match=cause) as info:
                guard.authenticate_sync(token)
            assert "is in the JWK Set but was not loaded" in str(info.value)
            answer = error_response(info.value)
            assert answer.status == 401
            assert "cannot obtain the keys" not in answer.body["error_description"]
            assert "algorithms=" in answer.body["error_description"]
    no_kid = token_for(rsa_key, headers={"kid": None})
    with pytest.raises(jose.NoMatchingKeyError, match=r"left out of the JWK Set: .*no \"alg\""):
        _guard(_alg_less(rsa_key), clock).authenticate_sync(no_kid)


def test_alg_less_rsa_key_accepted_under_the_allowed_pss_alg(clock: ManualClock) -> None:
    """The one allowed RSA algorithm binds the key, whichever family: PS256 here."""
    ps_key = jose.Key.generate("PS256")
    guard = _guard(_alg_less(ps_key), clock, algorithms=["PS256", "ES256"])
    assert guard.authenticate_sync(token_for(ps_key)).sub == "user-1"
    rs_only = _guard(_alg_less(ps_key), clock, algorithms=["RS256"])
    with pytest.raises(jose.AlgorithmNotAllowedError, match="PS256 is not allowed"):
        rs_only.authenticate_sync(token_for(ps_key))


@pytest.mark.parametrize("name", ["EdDSA", "Ed25519"])
def test_alg_less_edwards_key_verifies_either_eddsa_name(name: str, clock: ManualClock) -> None:
    """An alg-less Ed25519 key (panva/jose's exportJWK) verifies EdDSA and Ed25519 tokens."""
    key = jose.Key.generate(name)
    for algorithms in (None, [name]):
        guard = _guard(_alg_less(key), clock, algorithms=algorithms)
        assert guard.authenticate_sync(token_for(key)).sub == "user-1"


def test_keys_outside_algorithms_say_why_they_were_left_out(
    ed_key: jose.Key, clock: ManualClock
) -> None:
    """A key the allowlist cannot use is left out with its reason, not as an unknown kid."""
    es384 = jose.Key.generate("ES384")
    fake = FakeIssuer(ed_key, es384)
    guard = build(fake, clock, algorithms=["EdDSA", "ES384"])
    assert guard.authenticate_sync(token_for(es384)).sub == "user-1"
    narrow = build(fake, clock, algorithms=["EdDSA"])
    client = narrow.key_source
    assert isinstance(client, JWKSClient)
    keys = client.load(NOW)
    assert [key.kid for key in keys] == [ed_key.kid]
    assert "which algorithms= does not allow" in keys.skipped[es384.kid]
