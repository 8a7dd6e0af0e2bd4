"""DPoP at the guard (RFC 9449 section 7): each test is named after the attack it stops.

A thief holds a token bound to a client's key (``cnf.jkt``) but not the private key, or holds
one proof captured in transit. The guard's checks, in ``Guard.authenticate(token, dpop=...)``,
must leave them nothing. The adapters' tests at the end check that every adapter hands the
guard the request's facts and answers with the DPoP challenge.
"""

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from tests.jose.forge import b64, forge

from jotauth import jose
from jotauth.guard import (
    DPoPRequest,
    Guard,
    MemoryReplayCache,
    MissingTokenError,
    RedisReplayCache,
    ReplayCheckError,
    RotatingNonce,
    TokenBindingError,
)
from jotauth.guard.dpop import raw_path
from jotauth.guard.testing import LocalIssuer, ManualClock

NOW = 1_900_000_000
URL = "https://api.example/articles"


@pytest.fixture(scope="module")
def client_key() -> jose.Key:
    """The client's DPoP key (P-256)."""
    return jose.Key.generate("ES256")


@pytest.fixture
def clock() -> ManualClock:
    """The guard's clock, at NOW."""
    return ManualClock(NOW)


@pytest.fixture
def guard(issuer: LocalIssuer, clock: ManualClock) -> Guard:
    """A guard at NOW for issuer's tokens."""
    return issuer.guard(clock=clock)


@pytest.fixture
def token(issuer: LocalIssuer, client_key: jose.Key) -> str:
    """An access token bound to client_key."""
    return issuer.make_token(sub="7", now=NOW, bound_to=client_key)


def request(
    proofs: str | tuple[str, ...], method: str = "GET", url: str = "https://api.example/articles"
) -> DPoPRequest:
    """The DPoP facts of a request to ``url`` carrying ``proofs``, its path as an adapter
    hands it over (``raw_path``: the query cut off)."""
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    return DPoPRequest(
        method,
        scheme,
        host,
        raw_path(("/" + path).encode()),
        (proofs,) if isinstance(proofs, str) else proofs,
    )


def proof(key: jose.Key, token: str, method: str = "GET", url: str = URL, **options: Any) -> str:
    """A fresh proof by ``key`` at NOW for ``token``."""
    options.setdefault("iat", NOW)
    return jose.make_proof(key, method, url, access_token=token, **options)


def header(key: jose.Key, **extra: Any) -> dict[str, Any]:
    """A valid proof header for ``key``."""
    jwk = key.public().to_jwk()
    public = {name: jwk[name] for name in ("kty", "crv", "x", "y", "n", "e") if name in jwk}
    return {"typ": "dpop+jwt", "alg": key.alg, "jwk": public, **extra}


def body(token: str, **extra: Any) -> dict[str, Any]:
    """Valid proof claims for GET URL at NOW with ``token``."""
    claims = {"jti": uuid.uuid4().hex, "htm": "GET", "htu": URL, "iat": NOW}
    return {**claims, "ath": jose.access_token_hash(token), **extra}


def refused(guard: Guard, token: str, dpop: DPoPRequest | None, error: type[Exception]) -> Any:
    """Authenticate and expect exactly ``error``."""
    with pytest.raises(error) as info:
        guard.authenticate_sync(token, dpop=dpop)
    assert type(info.value) is error, type(info.value)
    return info.value


# -- the happy path ------------------------------------------------------------------------------


def test_bound_token_with_a_fresh_proof_is_accepted(
    guard: Guard, token: str, client_key: jose.Key
) -> None:
    """A bound token with a proof by its key, for this request, gets in; each request anew."""
    principal = guard.authenticate_sync(token, dpop=request(proof(client_key, token)))
    assert principal.sub == "7"
    assert principal.jkt == client_key.thumbprint()
    again = guard.authenticate_sync(token, dpop=request(proof(client_key, token)))
    assert again is principal  # the token's verification is cached; the proof is not


@pytest.mark.anyio
async def test_async_path_checks_the_proof_too(
    guard: Guard, token: str, client_key: jose.Key
) -> None:
    """``await guard.authenticate`` makes the same checks."""
    fresh = proof(client_key, token)
    assert (await guard.authenticate(token, dpop=request(fresh))).sub == "7"
    with pytest.raises(jose.DPoPProofError, match="replay"):
        await guard.authenticate(token, dpop=request(fresh))
    with pytest.raises(TokenBindingError):
        await guard.authenticate(token)


# -- replays ---------------------------------------------------------------------------------------


def test_replayed_proof_is_refused(guard: Guard, token: str, client_key: jose.Key) -> None:
    """A captured proof sent again to the same instance is refused."""
    captured = proof(client_key, token)
    guard.authenticate_sync(token, dpop=request(captured))
    error = refused(guard, token, request(captured), jose.DPoPProofError)
    assert error.check == "jti"
    assert guard.stats()["rejected"] == {"invalid_dpop_proof": 1}


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A Redis key prefix of this test alone; its keys are deleted afterwards."""
    name = f"jotauth:test:dpop:{uuid.uuid4().hex}:"
    yield name
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(name + "*"):
        client.delete(key)
    client.close()


def test_replayed_proof_is_refused_by_another_instance_sharing_redis(
    issuer: LocalIssuer, token: str, client_key: jose.Key, redis_url: str, prefix: str
) -> None:
    """A proof used at one instance is refused at a second one sharing the Redis cache."""
    clock = ManualClock(NOW)
    first = issuer.guard(clock=clock, dpop_replay=RedisReplayCache(redis_url, prefix=prefix))
    second = issuer.guard(clock=clock, dpop_replay=RedisReplayCache(redis_url, prefix=prefix))
    captured = proof(client_key, token)
    first.authenticate_sync(token, dpop=request(captured))
    assert refused(second, token, request(captured), jose.DPoPProofError).check == "jti"


_OTHER_PROCESS = """
import sys
from jotauth import jose
from jotauth.guard import DPoPRequest, RedisReplayCache
from jotauth.guard.testing import LocalIssuer, ManualClock

key, url, prefix, token, proof = sys.argv[1:6]
issuer = LocalIssuer(key=jose.Key.from_jwk(key), issuer="https://auth.test", audience="articles")
cache = RedisReplayCache(url, prefix=prefix)
guard = issuer.guard(clock=ManualClock(1_900_000_000), dpop_replay=cache)
request = DPoPRequest("GET", "https", "api.example", "/articles", (proof,))
try:
    print(guard.authenticate_sync(token, dpop=request).sub)
except jose.DPoPProofError as exc:
    print(exc.check)
"""


def test_replayed_proof_is_refused_by_another_process_sharing_redis(
    issuer: LocalIssuer, token: str, client_key: jose.Key, redis_url: str, prefix: str
) -> None:
    """A proof replayed to a guard in another process (sharing Redis) is refused there, and
    one first used there is refused here."""
    here = issuer.guard(
        clock=ManualClock(NOW), dpop_replay=RedisReplayCache(redis_url, prefix=prefix)
    )

    def elsewhere(sent: str) -> str:
        jwk = json.dumps(issuer.key.to_jwk(private=True))
        result = subprocess.run(
            [sys.executable, "-c", _OTHER_PROCESS, jwk, redis_url, prefix, token, sent],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        return result.stdout.strip()

    used_here = proof(client_key, token)
    here.authenticate_sync(token, dpop=request(used_here))
    assert elsewhere(used_here) == "jti"
    used_there = proof(client_key, token)
    assert elsewhere(used_there) == "7"
    assert refused(here, token, request(used_there), jose.DPoPProofError).check == "jti"


@pytest.mark.anyio
async def test_async_path_with_redis_refuses_replays(
    issuer: LocalIssuer, token: str, client_key: jose.Key, redis_url: str, prefix: str
) -> None:
    """``await guard.authenticate`` runs the Redis check in a worker thread, with the same
    verdicts, and fails closed when Redis is away."""
    guard = issuer.guard(
        clock=ManualClock(NOW), dpop_replay=RedisReplayCache(redis_url, prefix=prefix)
    )
    sent = proof(client_key, token)
    assert (await guard.authenticate(token, dpop=request(sent))).sub == "7"
    with pytest.raises(jose.DPoPProofError, match="replay"):
        await guard.authenticate(token, dpop=request(sent))
    away = issuer.guard(
        clock=ManualClock(NOW), dpop_replay=RedisReplayCache("redis://127.0.0.1:1/0", timeout=0.3)
    )
    with pytest.raises(ReplayCheckError):
        await away.authenticate(token, dpop=request(proof(client_key, token)))


def test_replay_cache_unavailable_refuses_the_proof(
    issuer: LocalIssuer, token: str, client_key: jose.Key
) -> None:
    """With the shared cache away the proof cannot be checked for replay: refused (503)."""
    guard = issuer.guard(
        clock=ManualClock(NOW), dpop_replay=RedisReplayCache("redis://127.0.0.1:1/0", timeout=0.3)
    )
    refused(guard, token, request(proof(client_key, token)), ReplayCheckError)
    answer = guard.refusal(ReplayCheckError("down"), dpop=True)
    assert answer.status == 503
    assert dict(answer.headers)["Retry-After"]


def test_full_replay_cache_refuses_rather_than_forget(
    issuer: LocalIssuer, token: str, client_key: jose.Key
) -> None:
    """A flood of proofs cannot push a live proof out of the cache to replay it later."""
    clock = ManualClock(NOW)
    guard = issuer.guard(clock=clock, dpop_replay=MemoryReplayCache(2, clock=clock))
    captured = proof(client_key, token)
    guard.authenticate_sync(token, dpop=request(captured))
    guard.authenticate_sync(token, dpop=request(proof(client_key, token)))
    refused(guard, token, request(proof(client_key, token)), ReplayCheckError)
    assert refused(guard, token, request(captured), jose.DPoPProofError).check == "jti"


# -- a proof for another request ----------------------------------------------------------------


def test_proof_for_another_method_is_refused(
    guard: Guard, token: str, client_key: jose.Key
) -> None:
    """A proof for GET does not authorize a DELETE of the same URI."""
    sent = request(proof(client_key, token, "GET"), method="DELETE")
    assert refused(guard, token, sent, jose.DPoPProofError).check == "htm"


@pytest.mark.parametrize(
    "url",
    ["https://api.example/admin", "https://other.example/articles", "http://api.example/articles"],
)
def test_proof_for_another_url_is_refused(
    url: str, guard: Guard, token: str, client_key: jose.Key
) -> None:
    """A proof for one URI does not authorize a request to another path, host or scheme."""
    sent = request(proof(client_key, token), url=url)
    assert refused(guard, token, sent, jose.DPoPProofError).check == "htu"


def test_query_and_fragment_tricks_in_htu_are_refused(
    guard: Guard, token: str, client_key: jose.Key
) -> None:
    """An htu that smuggles the real path in a query or fragment is refused; the request's own
    query plays no part."""
    for htu in (URL + "?x=1", "https://api.example/admin?/articles", URL + "#frag"):
        sent = request(forge(client_key, header(client_key), body(token, htu=htu)))
        assert refused(guard, token, sent, jose.DPoPProofError).check == "htu"
    with_query = request(proof(client_key, token), url=URL + "?page=2#top")
    assert guard.authenticate_sync(token, dpop=with_query).sub == "7"


def test_proxy_external_url_is_the_uri_compared(
    issuer: LocalIssuer, token: str, client_key: jose.Key
) -> None:
    """Behind a proxy the service sees http://internal:8000/...; external_url makes the
    public URI the one a proof must name, and the internal one is then refused."""
    guard = issuer.guard(clock=ManualClock(NOW), external_url="https://API.example:443/")
    inside = "http://internal:8000/articles"
    assert (
        guard.authenticate_sync(token, dpop=request(proof(client_key, token), url=inside)).sub
        == "7"
    )
    internal = request(proof(client_key, token, url=inside), url=inside)
    assert refused(guard, token, internal, jose.DPoPProofError).check == "htu"
    prefixed = issuer.guard(clock=ManualClock(NOW), external_url="https://api.example/svc")
    sent = request(proof(client_key, token, url="https://api.example/svc/articles"))
    assert prefixed.authenticate_sync(token, dpop=sent).sub == "7"


@pytest.mark.parametrize(
    ("host", "htu"),
    [
        ("other.example/public#", "https://other.example/public"),
        ("api.example/public?", "https://api.example/public"),
        ("api.example/public", "https://api.example/public/articles"),
        ("api.example#", "https://api.example/"),
        ("evil.example@api.example", "https://api.example/articles"),
        ("api.example\\evil", "https://api.example/articles"),
        ("api.example evil", "https://api.example/articles"),
        ("api.example:abc", "https://api.example/articles"),
        ("[::1", "https://[::1]/articles"),
        ("[::1]x", "https://[::1]/articles"),
        ("api.example%2F", "https://api.example/articles"),
    ],
)
def test_host_header_that_is_not_an_authority_is_refused(
    host: str, htu: str, guard: Guard, token: str, client_key: jose.Key
) -> None:
    """Without external_url the Host header is part of the URI: a Host carrying a path, query,
    fragment, userinfo or anything but host[:port] would let the attacker choose the path a
    proof must name (``Host: other.example/public#`` + ``GET /admin`` matched a proof for
    https://other.example/public). It is refused before a URI is built from it."""
    sent = DPoPRequest("GET", "https", host, "/admin", (proof(client_key, token, url=htu),))
    assert refused(guard, token, sent, jose.DPoPProofError).check == "htu"


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("API.example:443", "https://api.example/articles"),
        ("api.example:8443", "https://api.example:8443/articles"),
        ("127.0.0.1:8080", "https://127.0.0.1:8080/articles"),
        ("[::1]", "https://[::1]/articles"),
        ("[2001:DB8::1]:8443", "https://[2001:db8::1]:8443/articles"),
    ],
)
def test_every_valid_host_still_works(
    host: str, url: str, guard: Guard, token: str, client_key: jose.Key
) -> None:
    """reg-names, IPv4 and bracketed IPv6, with or without a port, match their proofs."""
    sent = DPoPRequest("GET", "https", host, "/articles", (proof(client_key, token, url=url),))
    assert guard.authenticate_sync(token, dpop=sent).sub == "7"


@pytest.mark.parametrize(
    ("path", "htu"),
    [
        (".evil.example/x", "https://api.example.evil.example/x"),
        (":8443/articles", "https://api.example:8443/articles"),
        ("@evil.example/articles", "https://evil.example/articles"),
        ("*", "https://api.example*"),
        ("", "https://api.example/"),
        ("https://api.example/articles", "https://api.example/articles"),
        ("/files#/../secret", "https://api.example/files"),
        ("/files?x/secret", "https://api.example/files"),
    ],
)
@pytest.mark.parametrize("external_url", [None, "https://api.example"])
def test_request_target_that_is_not_an_absolute_path_is_refused(
    path: str,
    htu: str,
    external_url: str | None,
    issuer: LocalIssuer,
    token: str,
    client_key: jose.Key,
) -> None:
    """A target not starting with "/" would be glued onto the host (``GET .evil.example/x``
    with ``Host: api.example`` matched a proof for https://api.example.evil.example/x), with
    or without external_url; asterisk and absolute-form are refused too, and so is a path
    whose "?" or "#" would cut the URI short."""
    guard = issuer.guard(clock=ManualClock(NOW), external_url=external_url)
    sent = DPoPRequest("GET", "https", "api.example", path, (proof(client_key, token, url=htu),))
    assert refused(guard, token, sent, jose.DPoPProofError).check == "htu"


# -- time ---------------------------------------------------------------------------------------


def test_stale_proof_is_refused(guard: Guard, token: str, client_key: jose.Key) -> None:
    """A proof made more than dpop_max_age (60 s) ago is refused."""
    sent = request(proof(client_key, token, iat=NOW - 61))
    assert refused(guard, token, sent, jose.DPoPProofError).check == "iat"


def test_proof_from_the_future_is_refused(guard: Guard, token: str, client_key: jose.Key) -> None:
    """A proof dated ahead (made in advance with a stolen key) is refused beyond 5 s of skew."""
    sent = request(proof(client_key, token, iat=NOW + 30))
    assert refused(guard, token, sent, jose.DPoPProofError).check == "iat"


def test_dpop_max_age_is_configurable(
    issuer: LocalIssuer, token: str, client_key: jose.Key
) -> None:
    """``dpop_max_age`` widens or narrows the window."""
    guard = issuer.guard(clock=ManualClock(NOW), dpop_max_age=10)
    sent = request(proof(client_key, token, iat=NOW - 11))
    assert refused(guard, token, sent, jose.DPoPProofError).check == "iat"
    with pytest.raises(ValueError, match="dpop_max_age"):
        issuer.guard(dpop_max_age=0)


# -- the key --------------------------------------------------------------------------------------


def test_proof_signed_with_another_key_than_cnf_jkt_is_refused(guard: Guard, token: str) -> None:
    """The thief's own key makes valid proofs, but not for a token bound to the client's key."""
    thief = jose.Key.generate("ES256")
    error = refused(guard, token, request(proof(thief, token)), TokenBindingError)
    assert error.reason == "key"
    answer = guard.refusal(error, dpop=True)
    assert answer.status == 401
    assert dict(answer.headers)["WWW-Authenticate"].startswith('DPoP error="invalid_token"')


def test_wrong_ath_is_refused(
    guard: Guard, token: str, issuer: LocalIssuer, client_key: jose.Key
) -> None:
    """A proof made for another of the client's tokens does not go with this one."""
    other = issuer.make_token(sub="7", now=NOW, bound_to=client_key)
    assert (
        refused(guard, token, request(proof(client_key, other)), jose.DPoPProofError).check == "ath"
    )
    no_ath = forge(client_key, header(client_key), {**body(token), "ath": None})
    assert refused(guard, token, request(no_ath), jose.DPoPProofError).check == "ath"


def test_private_key_in_the_jwk_header_is_refused(
    guard: Guard, token: str, client_key: jose.Key
) -> None:
    """A proof that carries the private key is refused (and the key is not echoed)."""
    jwk = client_key.to_jwk(private=True)
    sent = request(forge(client_key, header(client_key, jwk=jwk), body(token)))
    error = refused(guard, token, sent, jose.DPoPProofError)
    assert error.check == "jwk"
    assert jwk["d"] not in json.dumps(guard.refusal(error, dpop=True).body)


def test_symmetric_jwk_is_refused(guard: Guard, token: str, client_key: jose.Key) -> None:
    """An oct key in the jwk header is refused."""
    jwk = {"kty": "oct", "k": b64(b"s" * 32)}
    sent = request(forge(client_key, header(client_key, jwk=jwk), body(token)))
    assert refused(guard, token, sent, jose.DPoPProofError).check == "jwk"


def test_alg_none_and_hmac_proofs_are_refused(
    guard: Guard, token: str, client_key: jose.Key
) -> None:
    """Unsigned and HMAC-signed proofs are refused, whatever they carry."""
    unsigned = f"{b64(json.dumps(header(client_key, alg='none')))}.{b64(json.dumps(body(token)))}."
    assert refused(guard, token, request(unsigned), jose.DPoPProofError).check == "alg"
    secret = jose.Key.from_secret(b"s" * 32)
    jwk = {"kty": "oct", "k": b64(b"s" * 32)}
    hmac_proof = forge(secret, {"typ": "dpop+jwt", "alg": "HS256", "jwk": jwk}, body(token))
    assert refused(guard, token, request(hmac_proof), jose.DPoPProofError).check == "alg"
    with pytest.raises(ValueError, match="asymmetric"):
        Guard(keys=[jose.Key.generate("EdDSA").public()], dpop_algorithms=["HS256"])


def test_proof_without_typ_is_refused(guard: Guard, token: str, client_key: jose.Key) -> None:
    """A JWT signed by the client's key that is not a proof (no typ) is refused."""
    head = header(client_key)
    del head["typ"]
    sent = request(forge(client_key, head, body(token)))
    assert refused(guard, token, sent, jose.DPoPProofError).check == "typ"


def test_proof_alg_outside_dpop_algorithms_is_refused(
    issuer: LocalIssuer, token: str, client_key: jose.Key
) -> None:
    """A service that takes only EdDSA proofs refuses an ES256 one, and advertises EdDSA."""
    guard = issuer.guard(clock=ManualClock(NOW), dpop_algorithms=["EdDSA"])
    error = refused(guard, token, request(proof(client_key, token)), jose.DPoPProofError)
    assert error.check == "alg"
    challenge = dict(guard.refusal(error, dpop=True).headers)["WWW-Authenticate"]
    assert challenge.endswith('algs="EdDSA"')


# -- the scheme and the headers -----------------------------------------------------------------


def test_bound_token_downgraded_to_bearer_is_refused(guard: Guard, token: str) -> None:
    """Dropping the proof and sending the bound token as Bearer does not work."""
    error = refused(guard, token, None, TokenBindingError)
    assert error.reason == "bearer"
    answer = guard.refusal(error)
    assert answer.status == 401
    challenge = dict(answer.headers)["WWW-Authenticate"]
    assert challenge.startswith('DPoP error="invalid_token"')
    assert 'algs="ES256 ES384 ES512 EdDSA Ed25519 Ed448 PS256' in challenge


def test_bound_token_in_a_cookie_is_refused(
    issuer: LocalIssuer, clock: ManualClock, token: str
) -> None:
    """A bound token in the access cookie is a downgrade too (a cookie carries no proof)."""
    guard = issuer.guard(clock=clock, cookie="access_token")
    found = guard.extract_credentials([], f"access_token={token}")
    assert found == (token, False)
    assert refused(guard, token, None, TokenBindingError).reason == "bearer"


def test_missing_proof_is_refused(guard: Guard, token: str) -> None:
    """The DPoP scheme without a DPoP header is refused."""
    error = refused(guard, token, request(()), jose.DPoPProofError)
    assert error.check == "header"


def test_two_dpop_headers_are_refused(guard: Guard, token: str, client_key: jose.Key) -> None:
    """Two proofs (one for this request, one not) are refused: exactly one header (4.3)."""
    sent = request((proof(client_key, token), proof(client_key, token, url="https://x.example/")))
    error = refused(guard, token, sent, jose.DPoPProofError)
    assert error.check == "header"
    assert "exactly one" in str(error)


def test_unbound_token_with_the_dpop_scheme_is_refused(
    guard: Guard, issuer: LocalIssuer, client_key: jose.Key
) -> None:
    """A Bearer token dressed as DPoP is refused: the scheme must say what the token is."""
    plain = issuer.make_token(now=NOW)
    error = refused(guard, plain, request(proof(client_key, plain)), TokenBindingError)
    assert error.reason == "unbound"
    assert guard.authenticate_sync(plain).sub == "user-1"


@pytest.mark.parametrize(
    "cnf", [{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}, "jkt", {"jkt": 7}, {}]
)
def test_binding_this_guard_cannot_check_is_refused(
    cnf: Any, guard: Guard, issuer: LocalIssuer
) -> None:
    """A token bound in another way (mTLS) or malformed ``cnf`` is not taken as unbound."""
    bound = issuer.make_token(now=NOW, cnf=cnf)
    with pytest.raises(jose.InvalidClaimError, match="cnf"):
        guard.authenticate_sync(bound)


def test_extract_credentials_tells_the_schemes_apart(guard: Guard, token: str) -> None:
    """``DPoP`` and ``Bearer`` (any case) are told apart; ``extract`` knows only Bearer."""
    assert guard.extract_credentials([f"DPoP {token}"]) == (token, True)
    assert guard.extract_credentials([f"dpop {token}"]) == (token, True)
    assert guard.extract_credentials([f"Bearer {token}"]) == (token, False)
    with pytest.raises(MissingTokenError):
        guard.extract([f"DPoP {token}"])


# -- server nonces ---------------------------------------------------------------------------------


def test_nonce_required_answers_use_dpop_nonce_with_a_fresh_nonce(
    issuer: LocalIssuer, token: str, client_key: jose.Key
) -> None:
    """With dpop_nonce, a proof without the nonce gets use_dpop_nonce and a DPoP-Nonce to retry
    with; the retry gets in; a nonce two periods old is refused again."""
    clock = ManualClock(NOW)
    nonces = RotatingNonce(b"n" * 32, period=300)
    guard = issuer.guard(clock=clock, dpop_nonce=nonces)
    error = refused(guard, token, request(proof(client_key, token)), jose.DPoPNonceError)
    answer = guard.refusal(error, dpop=True)
    assert answer.status == 401
    headers = dict(answer.headers)
    assert headers["WWW-Authenticate"].startswith('DPoP error="use_dpop_nonce"')
    nonce = headers["DPoP-Nonce"]
    assert nonce == nonces.current(NOW)
    assert answer.body["error"] == "use_dpop_nonce"
    retry = request(proof(client_key, token, nonce=nonce))
    assert guard.authenticate_sync(token, dpop=retry).sub == "7"
    clock.advance(600)
    late = request(proof(client_key, token, nonce=nonce, iat=NOW + 600))
    assert refused(guard, token, late, jose.DPoPNonceError).nonce == nonces.current(NOW + 600)


def test_nonces_are_shared_by_instances_with_one_secret() -> None:
    """Two RotatingNonce with one secret agree; the previous period's nonce is still taken."""
    first, second = RotatingNonce(b"k" * 32, period=60), RotatingNonce(b"k" * 32, period=60)
    nonce = first.current(NOW)
    assert second.accepts(nonce, NOW)
    assert second.accepts(nonce, NOW + 60)
    assert not second.accepts(nonce, NOW + 120)
    assert not RotatingNonce(b"x" * 32).accepts(nonce, NOW)
    with pytest.raises(ValueError, match="32 bytes"):
        RotatingNonce(b"short")
    with pytest.raises(ValueError, match="period"):
        RotatingNonce(period=0)
    own = RotatingNonce()  # a random secret: fine for one instance, unlike any other's
    assert own.accepts(own.current(NOW), NOW)
    assert not RotatingNonce().accepts(own.current(NOW), NOW)
