"""Guard(decrypt_with=...): encrypted (nested) access tokens, verified like plain ones."""

import pytest

from jotauth import jose
from jotauth.guard import Guard, RevokedTokenError
from jotauth.guard.response import error_response
from jotauth.guard.testing import LocalIssuer, ManualClock as Clock, make_token
from jotauth.jose import jwe

NOW = 1_900_000_000

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def service_key() -> jose.Key:
    """The service's private decryption key (its public half is what the issuer encrypts to)."""
    return jose.Key.generate("ECDH-ES+A256KW", crv="P-256", kid="svc-enc-1")


@pytest.fixture(scope="module")
def rsa_service_key() -> jose.Key:
    """A second decryption key, RSA-OAEP-256, as a service with only RSA would publish."""
    return jose.Key.generate("RSA-OAEP-256", kid="svc-enc-rsa")


def test_encrypted_token_is_decrypted_and_verified(
    issuer: LocalIssuer, service_key: jose.Key, clock: Clock
) -> None:
    """The principal of a nested token is that of its inner claims; the cache holds it."""
    guard = issuer.guard(clock=clock, decrypt_with=service_key)
    token = issuer.make_token(
        sub="42", now=NOW, scope="articles:read", encrypt_to=service_key.public()
    )
    assert token.count(".") == 4
    principal = guard.authenticate_sync(token)
    assert principal.sub == "42"
    assert principal.claims["scope"] == "articles:read"  # re-read from the inner JWS
    assert principal.can("articles", "read")
    assert guard.authenticate_sync(token) is principal  # a cache hit
    assert guard.stats()["verified"] == 1


async def test_encrypted_token_async_and_keyset(
    issuer: LocalIssuer, service_key: jose.Key, rsa_service_key: jose.Key, clock: Clock
) -> None:
    """A KeySet of decryption keys: each token is opened by the key its header names."""
    guard = issuer.guard(clock=clock, decrypt_with=jose.KeySet([service_key, rsa_service_key]))
    for key in (service_key, rsa_service_key):
        token = issuer.make_token(sub=key.kid, now=NOW, encrypt_to=key.public())
        assert (await guard.authenticate(token)).sub == key.kid


def test_plain_token_refused_when_encryption_required(
    issuer: LocalIssuer, service_key: jose.Key, clock: Clock
) -> None:
    """With decrypt_with, a signed-only token is refused by default: secret claims must not
    arrive in the clear; require_encryption=False accepts both while an issuer migrates."""
    plain = issuer.make_token(sub="1", now=NOW)
    strict = issuer.guard(clock=clock, decrypt_with=service_key)
    assert strict.require_encryption
    with pytest.raises(jose.MalformedTokenError, match="only encrypted"):
        strict.authenticate_sync(plain)
    lenient = issuer.guard(clock=clock, decrypt_with=service_key, require_encryption=False)
    assert lenient.authenticate_sync(plain).sub == "1"
    nested = issuer.make_token(sub="2", now=NOW, encrypt_to=service_key.public())
    assert lenient.authenticate_sync(nested).sub == "2"


def test_encrypted_token_refused_without_decrypt_with(
    issuer: LocalIssuer, service_key: jose.Key, clock: Clock
) -> None:
    """A guard with no decryption key refuses a JWE as a malformed token, not a 500."""
    guard = issuer.guard(clock=clock)
    token = issuer.make_token(now=NOW, encrypt_to=service_key.public())
    with pytest.raises(jose.MalformedTokenError):
        guard.authenticate_sync(token)


def test_wrong_decryption_key_is_one_uniform_invalid_token(
    issuer: LocalIssuer, service_key: jose.Key, clock: Clock
) -> None:
    """A token for another key, with our kid, with another kid or with no kid at all, or one
    tampered with: the same 401 invalid_token, "decryption failed", and no JWKS refresh."""
    guard = issuer.guard(clock=clock, decrypt_with=service_key)
    stranger = jose.Key.generate("ECDH-ES+A256KW", crv="P-256", kid="svc-enc-1")
    other_kid = jose.Key.generate("ECDH-ES+A256KW", crv="P-256", kid="elsewhere")
    inner = make_token(issuer.key, issuer=issuer.issuer, audience=issuer.audience, now=NOW)
    tokens = [
        issuer.make_token(now=NOW, encrypt_to=stranger.public()),
        issuer.make_token(now=NOW, encrypt_to=other_kid.public()),
        jwe.encrypt(inner, stranger.public(), headers={"cty": "JWT", "kid": None}),
    ]
    good = issuer.make_token(now=NOW, encrypt_to=service_key.public())
    head, tag = good.rsplit(".", 1)
    tokens.append(head + "." + ("B" if tag[0] == "A" else "A") + tag[1:])  # a tampered tag
    answers = set()
    for token in tokens:
        with pytest.raises(jose.DecryptionError) as info:
            guard.authenticate_sync(token)
        response = error_response(info.value)
        assert response.status == 401
        assert response.body["error"] == "invalid_token"
        answers.add((response.body["error_description"], tuple(response.headers)))
    challenge = 'Bearer error="invalid_token", error_description="decryption failed"'
    assert answers == {("decryption failed", (("WWW-Authenticate", challenge),))}
    assert guard.stats()["rejected"] == {"decryption_failed": 4}
    assert guard.stats()["jwks_fetches"] == 0


def test_inner_token_is_held_to_the_policy(
    issuer: LocalIssuer, service_key: jose.Key, other_key: jose.Key, clock: Clock
) -> None:
    """Decrypting proves nothing about the signer: the inner JWS must verify with the issuer's
    keys and meet the audience, typ and exp rules; a JWE without cty JWT is refused."""
    guard = issuer.guard(clock=clock, decrypt_with=service_key)
    public = service_key.public()
    forged = make_token(
        other_key, issuer=issuer.issuer, audience="articles", now=NOW, encrypt_to=public
    )
    with pytest.raises(jose.NoMatchingKeyError):
        guard.authenticate_sync(forged)
    with pytest.raises(jose.InvalidClaimError):
        guard.authenticate_sync(issuer.make_token(now=NOW, audience="billing", encrypt_to=public))
    with pytest.raises(jose.ExpiredTokenError):
        guard.authenticate_sync(issuer.make_token(now=NOW - 3600, encrypt_to=public))
    with pytest.raises(jose.InvalidClaimError):
        guard.authenticate_sync(issuer.make_token(now=NOW, typ="JWT", encrypt_to=public))
    no_cty = jwe.encrypt(issuer.make_token(now=NOW), public)
    with pytest.raises(jose.MalformedTokenError, match="cty"):
        guard.authenticate_sync(no_cty)
    not_jws = jwe.encrypt(b"\xff\x00 not a token", public, headers={"cty": "JWT"})
    with pytest.raises(jose.MalformedTokenError):
        guard.authenticate_sync(not_jws)


@pytest.mark.parametrize("hit_cache_first", [False, True])
def test_revocations_apply_to_encrypted_tokens(
    issuer: LocalIssuer, service_key: jose.Key, clock: Clock, hit_cache_first: bool
) -> None:
    """The inner jti, sub/iat, sid and the signing key's kid drive revocation as for any token."""
    guard = issuer.guard(clock=clock, decrypt_with=service_key)
    public = service_key.public()
    by_jti = issuer.make_token(sub="1", jti="j-1", now=NOW, encrypt_to=public)
    by_sid = issuer.make_token(sub="3", sid="s-1", now=NOW, encrypt_to=public)
    later = issuer.make_token(sub="2", now=NOW, encrypt_to=public)
    if hit_cache_first:
        for token in (by_jti, by_sid, later):
            guard.authenticate_sync(token)
    guard.revocations.apply(
        [
            {"type": "token", "jti": "j-1", "exp": NOW + 900},
            {"type": "session", "sid": "s-1", "exp": NOW + 900},
        ]
    )
    with pytest.raises(RevokedTokenError):
        guard.authenticate_sync(by_jti)
    with pytest.raises(RevokedTokenError):
        guard.authenticate_sync(by_sid)
    assert guard.authenticate_sync(later).sub == "2"
    # The key revoked is the issuer's signing key, not the service's decryption key.
    guard.revocations.apply([{"type": "key", "kid": service_key.kid}])
    assert guard.authenticate_sync(later).sub == "2"
    guard.revocations.apply([{"type": "key", "kid": issuer.key.kid}])
    with pytest.raises(RevokedTokenError) as info:
        guard.authenticate_sync(later)
    assert info.value.reason == "key"


def test_decrypt_with_takes_a_configured_decrypter(
    issuer: LocalIssuer, service_key: jose.Key, clock: Clock
) -> None:
    """A jwe.Decrypter narrows the algorithms: a token under another one is refused."""
    guard = Guard(
        issuer=issuer.issuer,
        audience=issuer.audience,
        keys=issuer.key.public(),
        clock=clock,
        decrypt_with=jwe.Decrypter(service_key, encryptions=["A256GCM"]),
    )
    ok = issuer.make_token(sub="9", now=NOW, encrypt_to=service_key.public())
    assert guard.authenticate_sync(ok).sub == "9"
    inner = issuer.make_token(now=NOW)
    cbc = jwe.encrypt(inner, service_key.public(), enc="A128CBC-HS256", headers={"cty": "JWT"})
    with pytest.raises(jose.AlgorithmNotAllowedError):
        guard.authenticate_sync(cbc)
