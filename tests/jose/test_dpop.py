"""DPoP proofs (RFC 9449): jose.make_proof / jose.verify_proof, every check, and interop.

Each attack test is named after what it stops; the proofs are forged by hand (tests/jose/forge)
so that the only thing wrong with a proof is the thing the test is about.
"""

import functools
import hashlib
import json
from typing import Any

import jwt as pyjwt
import pytest
from joserfc import jws as joserfc_jws
from joserfc.jwk import JWKRegistry
from jwcrypto import jwk as jwcrypto_jwk, jwt as jwcrypto_jwt
from tests.jose.forge import NOW, Segment, b64, forge, rejects

from jotauth import jose
from jotauth.jose import dpop

URL = "https://api.example/articles"
TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiI0MiJ9.c2ln"
ALGS = ["ES256", "ES384", "ES512", "EdDSA", "Ed25519", "Ed448", "PS256", "RS256"]


@pytest.fixture(scope="module")
def keys(private_keys: dict[str, jose.Key]) -> dict[str, jose.Key]:
    """The asymmetric test keys, by algorithm."""
    return {alg: private_keys[alg] for alg in ALGS}


@pytest.fixture(scope="module")
def es256(keys: dict[str, jose.Key]) -> jose.Key:
    """The client's P-256 key."""
    return keys["ES256"]


def public_jwk(key: jose.Key) -> dict[str, Any]:
    """The key's public JWK members, as a client puts them in the header."""
    jwk = key.public().to_jwk()
    return {name: jwk[name] for name in ("kty", "crv", "x", "y", "n", "e") if name in jwk}


def claims(**extra: Any) -> dict[str, Any]:
    """Valid proof claims for GET URL at NOW."""
    return {"jti": "j-1", "htm": "GET", "htu": URL, "iat": NOW, **extra}


def header(key: jose.Key, **extra: Any) -> dict[str, Any]:
    """A valid proof header for ``key``."""
    return {"typ": "dpop+jwt", "alg": key.alg, "jwk": public_jwk(key), **extra}


def verify(proof: str, **options: Any) -> jose.DPoPProof:
    """verify_proof for GET URL at NOW, with overrides."""
    arguments: dict[str, Any] = {"htm": "GET", "htu": URL, "now": NOW, **options}
    return jose.verify_proof(proof, **arguments)


# -- making and verifying -------------------------------------------------------------------


@pytest.mark.parametrize("alg", ALGS)
def test_proofs_round_trip(alg: str, keys: dict[str, jose.Key]) -> None:
    """A proof made with each asymmetric algorithm verifies and names the key's thumbprint."""
    key = keys[alg]
    proof = jose.make_proof(key, "POST", URL, access_token=TOKEN, iat=NOW, jti="abc")
    got = verify(proof, htm="POST", access_token=TOKEN)
    assert got.jkt == key.thumbprint()
    assert (got.jti, got.iat, got.htm, got.htu) == ("abc", NOW, "POST", URL)
    assert got.public_key.thumbprint() == key.thumbprint()
    assert not got.public_key.is_private
    assert got.expires_at == NOW + dpop.DEFAULT_MAX_AGE


def test_make_proof_header_and_claims(es256: jose.Key) -> None:
    """The header carries typ, alg and only the public jwk; claims are normalized and complete."""
    proof = jose.make_proof(
        es256, "GET", "HTTPS://API.Example:443/articles?page=2#top", access_token=TOKEN,
        nonce="n-1", iat=NOW,
    )  # fmt: skip
    head, body = jose.peek_header(proof), jose.peek_claims(proof)
    assert head == {"alg": "ES256", "typ": "dpop+jwt", "jwk": public_jwk(es256)}
    assert "d" not in head["jwk"]
    assert body["htu"] == URL
    assert body["ath"] == b64(hashlib.sha256(TOKEN.encode()).digest())
    assert body["nonce"] == "n-1"
    assert set(body) == {"jti", "htm", "htu", "iat", "ath", "nonce"}


def test_make_proof_jti_is_random_128_bits(es256: jose.Key) -> None:
    """Two proofs never share a jti, and a jti carries at least 128 random bits."""
    first = jose.peek_claims(jose.make_proof(es256, "GET", URL))["jti"]
    second = jose.peek_claims(jose.make_proof(es256, "GET", URL))["jti"]
    assert first != second
    assert len(first) * 6 >= 128


def test_make_proof_refuses_public_and_symmetric_keys(
    es256: jose.Key, private_keys: dict[str, jose.Key]
) -> None:
    """A proof needs a private asymmetric key: not a public key, not an HMAC secret."""
    rejects(jose.DPoPProofError, lambda: jose.make_proof(es256.public(), "GET", URL))
    rejects(jose.DPoPProofError, lambda: jose.make_proof(private_keys["HS256"], "GET", URL))


def test_access_token_hash_matches_rfc_9449_example() -> None:
    """``ath`` of the access token of RFC 9449 section 7.1 is the value the RFC prints."""
    token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
    assert jose.access_token_hash(token) == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"


# -- htu normalization ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("https://api.example/articles", "https://api.example/articles"),
        ("HTTPS://API.EXAMPLE/articles", "https://api.example/articles"),
        ("https://api.example:443/articles", "https://api.example/articles"),
        ("http://api.example:80/a", "http://api.example/a"),
        ("https://api.example:8443/a", "https://api.example:8443/a"),
        ("https://api.example:/a", "https://api.example/a"),
        ("https://api.example", "https://api.example/"),
        ("https://api.example?x=1", "https://api.example/"),
        ("https://api.example/a?x=1#f", "https://api.example/a"),
        ("https://api.example/a#f?x", "https://api.example/a"),
        ("https://api.example/a/./b/../c", "https://api.example/a/c"),
        ("https://api.example/a/b/..", "https://api.example/a/"),
        ("https://api.example/a/.", "https://api.example/a/"),
        ("https://api.example/../../a", "https://api.example/a"),
        ("https://api.example/%7euser/%2e%2e/x", "https://api.example/x"),
        ("https://api.example/caf%c3%a9", "https://api.example/caf%C3%A9"),
        ("https://api.example/a%2Fb", "https://api.example/a%2Fb"),
        ("https://api.example/a|b", "https://api.example/a%7Cb"),
        ("https://[2001:DB8::1]:443/x", "https://[2001:db8::1]/x"),
        ("https://[2001:db8::1]:8080/x", "https://[2001:db8::1]:8080/x"),
    ],
)
def test_normalize_htu(url: str, normal: str) -> None:
    """RFC 3986 6.2.2 and 6.2.3 normalization, query and fragment dropped (RFC 9449 4.3)."""
    assert jose.normalize_htu(url) == normal


@pytest.mark.parametrize(
    "url",
    [
        "https://user@api.example/a",
        "https://api.example@evil.example/a",
        "https://api.example\\@evil.example/a",
        "ftp://api.example/a",
        "//api.example/a",
        "/articles",
        "https:///a",
        "https://api.example:http/a",
        "https://api.example:99999/a",
        "https://api.example/a b",
        "https://api.example/a\t",
        "https://api.exämple/a",
        "https://api.example/%zz",
        "https://api.example/%4",
        "https://[::1/a",
        "https://[::1]x/a",
        "https://[zz]/a",
        "https://ap%41.example/a",
        "https://api.example/" + "a" * 9000,
        42,
    ],
)
def test_normalize_htu_refuses_ambiguous_uris(url: str) -> None:
    """What two URL parsers may read differently is refused, not guessed at."""
    error = rejects(jose.DPoPProofError, lambda: jose.normalize_htu(url))
    assert error.check == "htu"


# -- checks, each named after what it stops ---------------------------------------------------


def test_valid_forged_proof_passes(es256: jose.Key) -> None:
    """The hand-made proof the attack tests start from is itself accepted."""
    assert verify(forge(es256, header(es256), claims())).jti == "j-1"


def test_proof_without_typ_is_refused(es256: jose.Key) -> None:
    """An ordinary JWT (an access or ID token signed by the client) is not a proof."""
    head = header(es256)
    del head["typ"]
    assert rejects(jose.DPoPProofError, lambda: verify(forge(es256, head, claims()))).check == "typ"
    for typ in ("JWT", "at+jwt", "dpop"):
        proof = forge(es256, header(es256, typ=typ), claims())
        assert rejects(jose.DPoPProofError, functools.partial(verify, proof)).check == "typ"


def test_typ_compares_as_a_media_type(es256: jose.Key) -> None:
    """``application/dpop+jwt`` and other cases are the same media type (RFC 7515 4.1.9)."""
    for typ in ("application/dpop+jwt", "DPoP+JWT"):
        assert verify(forge(es256, header(es256, typ=typ), claims())).jti == "j-1"


def test_alg_none_proof_is_refused(es256: jose.Key) -> None:
    """An unsigned proof proves nothing, whatever algorithms are passed."""
    head = header(es256, alg="none")
    proof = f"{b64(json.dumps(head))}.{b64(json.dumps(claims()))}."
    assert rejects(jose.DPoPProofError, lambda: verify(proof)).check == "alg"
    error = rejects(jose.DPoPProofError, lambda: verify(proof, algorithms=["none", "ES256"]))
    assert error.check == "alg"


def test_hmac_proof_is_refused(private_keys: dict[str, jose.Key]) -> None:
    """An HMAC proof (the "public key" would be the secret) is refused even if HS256 is listed."""
    secret = private_keys["HS256"]
    jwk = {"kty": "oct", "k": secret.to_jwk(private=True)["k"]}
    proof = forge(secret, {"typ": "dpop+jwt", "alg": "HS256", "jwk": jwk}, claims())
    assert rejects(jose.DPoPProofError, lambda: verify(proof)).check == "alg"
    assert rejects(jose.DPoPProofError, lambda: verify(proof, algorithms=["HS256"])).check == "alg"


def test_symmetric_jwk_is_refused(es256: jose.Key) -> None:
    """An ``oct`` key in the jwk header is refused as a key, even under an asymmetric alg."""
    proof = forge(es256, header(es256, jwk={"kty": "oct", "k": b64(b"k" * 32)}), claims())
    error = rejects(jose.DPoPProofError, lambda: verify(proof))
    assert error.check == "jwk"
    assert "symmetric" in str(error)


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "RS256"])
def test_private_key_in_jwk_header_is_refused(alg: str, keys: dict[str, jose.Key]) -> None:
    """A proof whose jwk holds private members is refused (the client leaked its key)."""
    key = keys[alg]
    jwk = key.to_jwk(private=True)
    del jwk["kid"], jwk["use"]
    proof = forge(key, header(key, jwk=jwk), claims())
    error = rejects(jose.DPoPProofError, lambda: verify(proof), *jwk.get("d", ""))
    assert error.check == "jwk"
    assert "private" in str(error)


def test_missing_or_malformed_jwk_is_refused(es256: jose.Key, keys: dict[str, jose.Key]) -> None:
    """No jwk, a jwk that is not an object, or one that does not fit the alg: refused."""
    head = header(es256)
    del head["jwk"]
    cases = [
        head,
        header(es256, jwk="not an object"),
        header(es256, jwk={"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}),
        header(es256, jwk=public_jwk(keys["ES384"])),
        header(es256, jwk=public_jwk(keys["EdDSA"])),
    ]
    for head in cases:
        proof = forge(es256, head, claims())
        assert rejects(jose.DPoPProofError, functools.partial(verify, proof)).check == "jwk"


def test_proof_signed_by_another_key_than_its_jwk_is_refused(keys: dict[str, jose.Key]) -> None:
    """A jwk of one key and a signature by another: the signature check fails."""
    signer, named = keys["ES256"], jose.Key.generate("ES256")
    proof = forge(signer, header(named), claims())
    assert rejects(jose.DPoPProofError, lambda: verify(proof)).check == "signature"


def test_tampered_claims_are_refused(es256: jose.Key) -> None:
    """Changing the payload of a signed proof (another URL) breaks the signature."""
    head, _, signature = forge(es256, header(es256), claims()).split(".")
    other = b64(json.dumps(claims(htu="https://api.example/admin")))
    error = rejects(jose.DPoPProofError, lambda: verify(f"{head}.{other}.{signature}"))
    assert error.check == "signature"


def test_alg_outside_the_allowlist_is_refused(keys: dict[str, jose.Key]) -> None:
    """A server that takes only ES256 refuses an RS256 proof."""
    key = keys["RS256"]
    proof = forge(key, header(key), claims())
    assert rejects(jose.DPoPProofError, lambda: verify(proof, algorithms=["ES256"])).check == "alg"


def test_proof_for_another_method_is_refused(es256: jose.Key) -> None:
    """A proof made for GET does not authorize a DELETE."""
    proof = forge(es256, header(es256), claims())
    assert rejects(jose.DPoPProofError, lambda: verify(proof, htm="DELETE")).check == "htm"
    assert rejects(jose.DPoPProofError, lambda: verify(proof, htm="get")).check == "htm"


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example/admin",
        "https://api.example/articles/1",
        "https://evil.example/articles",
        "http://api.example/articles",
        "https://api.example:8443/articles",
        "https://api.example/Articles",
    ],
)
def test_proof_for_another_url_is_refused(url: str, es256: jose.Key) -> None:
    """A proof made for one URI does not authorize a request to another."""
    proof = forge(es256, header(es256), claims())
    assert rejects(jose.DPoPProofError, lambda: verify(proof, htu=url)).check == "htu"


@pytest.mark.parametrize(
    "htu",
    [
        "https://api.example/articles?admin=1",
        "https://api.example/articles#x",
        "https://api.example/articles?",
        "https://api.example/admin?/articles",
        "https://api.example/admin#/articles",
    ],
)
def test_query_or_fragment_in_htu_is_refused(htu: str, es256: jose.Key) -> None:
    """An htu with a query or fragment is refused, even where stripping it would match."""
    proof = forge(es256, header(es256), claims(htu=htu))
    assert rejects(jose.DPoPProofError, lambda: verify(proof)).check == "htu"


def test_request_query_is_ignored(es256: jose.Key) -> None:
    """The request's own query and fragment are not part of the URI compared (RFC 9449 4.3)."""
    proof = forge(es256, header(es256), claims())
    assert verify(proof, htu=URL + "?page=2#x").htu == URL


def test_equivalent_spellings_of_htu_match(es256: jose.Key) -> None:
    """A proof and a request that spell the same URI differently still match."""
    proof = forge(es256, header(es256), claims(htu="HTTPS://API.example:443/%61rticles"))
    assert verify(proof, htu="https://api.example/./articles").htu == URL


def test_stale_proof_is_refused(es256: jose.Key) -> None:
    """A proof older than max_age is refused; one just inside the window passes."""
    proof = forge(es256, header(es256), claims(iat=NOW - 61))
    error = rejects(jose.DPoPProofError, lambda: verify(proof))
    assert error.check == "iat"
    assert "stale" in str(error)
    assert verify(forge(es256, header(es256), claims(iat=NOW - 60))).iat == NOW - 60
    assert verify(proof, max_age=120).expires_at == NOW - 61 + 120


def test_future_proof_is_refused(es256: jose.Key) -> None:
    """A proof dated ahead of the clock beyond the leeway (made in advance) is refused."""
    proof = forge(es256, header(es256), claims(iat=NOW + 6))
    error = rejects(jose.DPoPProofError, lambda: verify(proof))
    assert error.check == "iat"
    assert "future" in str(error)
    assert verify(forge(es256, header(es256), claims(iat=NOW + 5))).iat == NOW + 5
    assert verify(proof, leeway=10).iat == NOW + 6


@pytest.mark.parametrize("iat", [10**400, -(10**400), 10**20, -1e308, 1e308])
def test_iat_of_any_magnitude_is_refused_cleanly(iat: float, es256: jose.Key) -> None:
    """A date far outside float range is a stale or future proof, never an OverflowError."""
    error = rejects(
        jose.DPoPProofError, lambda: verify(forge(es256, header(es256), claims(iat=iat)))
    )
    assert error.check == "iat"


@pytest.mark.parametrize("name", ["jti", "htm", "htu", "iat"])
def test_missing_claim_is_refused(name: str, es256: jose.Key) -> None:
    """Every required claim must be present."""
    body = claims()
    del body[name]
    error = rejects(jose.DPoPProofError, lambda: verify(forge(es256, header(es256), body)))
    assert error.check == name


@pytest.mark.parametrize(
    ("name", "value"),
    [("jti", ""), ("jti", 7), ("jti", "j" * 257), ("htm", ["GET"]), ("htu", None),
     ("iat", "1900000000"), ("iat", True), ("nonce", 5)],
)  # fmt: skip
def test_mistyped_claim_is_refused(name: str, value: Any, es256: jose.Key) -> None:
    """Claims of the wrong type (or an over-long jti) are refused."""
    body = claims(**{name: value})
    error = rejects(jose.DPoPProofError, lambda: verify(forge(es256, header(es256), body)))
    assert error.check == name


def test_proof_without_ath_is_refused_with_a_token(es256: jose.Key) -> None:
    """At a resource server a proof must say which token it goes with."""
    proof = forge(es256, header(es256), claims())
    assert rejects(jose.DPoPProofError, lambda: verify(proof, access_token=TOKEN)).check == "ath"


def test_wrong_ath_is_refused(es256: jose.Key) -> None:
    """A proof made for another access token does not go with this one."""
    proof = forge(es256, header(es256), claims(ath=jose.access_token_hash("another token")))
    assert rejects(jose.DPoPProofError, lambda: verify(proof, access_token=TOKEN)).check == "ath"
    assert verify(proof).jti == "j-1"  # without a token to check (a token endpoint): ignored


def test_nonce_required_is_a_nonce_error(es256: jose.Key) -> None:
    """Without the server's nonce, or with an old one, the distinct DPoPNonceError is raised."""
    bare = forge(es256, header(es256), claims())
    old = forge(es256, header(es256), claims(nonce="old"))
    error = rejects(jose.DPoPNonceError, lambda: verify(bare, nonce="current"))
    assert error.code == "use_dpop_nonce"
    assert error.check == "nonce"
    assert isinstance(error, jose.DPoPProofError)
    rejects(jose.DPoPNonceError, lambda: verify(old, nonce="current"))
    good = forge(es256, header(es256), claims(nonce="current"))
    assert verify(good, nonce="current").nonce == "current"


@pytest.mark.parametrize(
    "proof",
    ["", "a.b", "a.b.c.d.e", "not a jws", "é.é.é", 42, b"x" * 9000],
)
def test_malformed_proof_is_refused(proof: Any) -> None:
    """Anything that is not one compact JWS is refused before any key is loaded."""
    assert rejects(jose.DPoPProofError, lambda: verify(proof)).check == "syntax"


def test_payload_that_is_not_json_is_refused(es256: jose.Key) -> None:
    """A signed payload that is not a JSON object is refused after the signature check."""
    proof = forge(es256, header(es256), Segment(b64(b"not json")))
    assert rejects(jose.DPoPProofError, lambda: verify(proof)).check == "syntax"


def test_critical_header_is_refused(es256: jose.Key) -> None:
    """A proof naming an extension in ``crit`` is refused, as every JWS is."""
    proof = forge(es256, header(es256, crit=["exp"], exp=1), claims())
    assert rejects(jose.DPoPProofError, lambda: verify(proof)).check == "syntax"


def test_check_algorithms_refuses_symmetric_and_unknown() -> None:
    """Configuring HMAC, none or a typo for proofs fails at startup."""
    assert dpop.check_algorithms(["ES256", "EdDSA"]) == {"ES256", "EdDSA"}
    for wrong in (["HS256"], ["none"], ["ES265"], []):
        with pytest.raises(ValueError, match="DPoP"):
            dpop.check_algorithms(wrong)


def test_errors_name_no_key_material(es256: jose.Key) -> None:
    """A refusal never echoes the proof or its key."""
    jwk = es256.to_jwk(private=True)
    proof = forge(es256, header(es256, jwk=jwk), claims())
    rejects(jose.DPoPProofError, lambda: verify(proof), proof, jwk["d"])


# -- interop ------------------------------------------------------------------------------------


def test_jwcrypto_proof_verifies(es256: jose.Key) -> None:
    """A proof signed by jwcrypto, with its own public JWK export, verifies here."""
    key = jwcrypto_jwk.JWK.generate(kty="EC", crv="P-256")
    public = json.loads(key.export_public())
    token = jwcrypto_jwt.JWT(
        header={"typ": "dpop+jwt", "alg": "ES256", "jwk": public},
        claims=claims(ath=jose.access_token_hash(TOKEN)),
    )
    token.make_signed_token(key)
    got = verify(token.serialize(), access_token=TOKEN)
    assert got.jkt == key.thumbprint()


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated via RFC 9864")
@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "Ed25519"])
def test_joserfc_proof_verifies(alg: str) -> None:
    """A proof signed by joserfc (P-256 and Ed25519 keys) verifies here, thumbprints agree."""
    kind = ("EC", "P-256") if alg == "ES256" else ("OKP", "Ed25519")
    key = JWKRegistry.generate_key(kind[0], kind[1], private=True)
    public = key.as_dict(private=False)
    public.pop("kid", None)
    proof = joserfc_jws.serialize_compact(
        {"typ": "dpop+jwt", "alg": alg, "jwk": public},
        json.dumps(claims()).encode(),
        key,
        algorithms=[alg],
    )
    assert verify(proof).jkt == key.thumbprint()


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "PS256"])
def test_jotauth_proof_verifies_in_pyjwt(alg: str, keys: dict[str, jose.Key]) -> None:
    """PyJWT verifies a jotauth proof with the key from its own jwk header."""
    proof = jose.make_proof(keys[alg], "GET", URL, access_token=TOKEN, iat=NOW)
    head = pyjwt.get_unverified_header(proof)
    assert head["typ"] == "dpop+jwt"
    public = pyjwt.PyJWK(head["jwk"], algorithm=alg)
    body = pyjwt.decode(proof, public.key, algorithms=[alg], options={"verify_iat": False})
    assert body["htu"] == URL
    assert body["ath"] == jose.access_token_hash(TOKEN)


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated via RFC 9864")
@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_jotauth_proof_verifies_in_joserfc(alg: str, keys: dict[str, jose.Key]) -> None:
    """joserfc verifies a jotauth proof with its jwk header, and computes the same thumbprint."""
    proof = jose.make_proof(keys[alg], "GET", URL, iat=NOW)
    head = jose.peek_header(proof)
    public = JWKRegistry.import_key(head["jwk"])
    got = joserfc_jws.deserialize_compact(proof, public, algorithms=[alg])
    assert json.loads(got.payload)["htm"] == "GET"
    assert public.thumbprint() == keys[alg].thumbprint()


def test_remembered_header_still_meets_the_allowlist(keys: dict[str, jose.Key]) -> None:
    """A header verified once (and remembered) is refused by a verifier that does not allow its
    alg: the key memo cannot widen what is accepted."""
    key = keys["RS256"]
    first = jose.make_proof(key, "GET", URL, iat=NOW)
    assert verify(first).jkt == key.thumbprint()
    second = jose.make_proof(key, "GET", URL, iat=NOW)
    assert jose.peek_header(second) == jose.peek_header(first)
    assert rejects(jose.DPoPProofError, lambda: verify(second, algorithms=["ES256"])).check == "alg"


def test_refused_header_is_refused_every_time(es256: jose.Key) -> None:
    """A header that failed a check is not remembered as good."""
    jwk = es256.to_jwk(private=True)
    for _ in range(2):
        proof = forge(es256, header(es256, jwk=jwk), claims())
        assert rejects(jose.DPoPProofError, functools.partial(verify, proof)).check == "jwk"
