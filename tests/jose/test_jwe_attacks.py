"""Attacks on JWE, one test each, named after what it stops (as tests/jose/test_advisories.py
does for JWS): invalid-curve ECDH, the PBES2 iteration DoS, Bleichenbacher on RSA1_5,
decompression bombs, padding and MAC oracles, truncated tags, ``dir`` with a wrong-length key,
header swaps, an unsigned inner token and header-embedded keys."""

import json
import time
import zlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.keywrap import aes_key_wrap
from tests.jose.forge import b64

from jotauth import jose
from jotauth.jose import jwe
from jotauth.jose._b64 import b64decode
from jotauth.jose._jwe.content import CONTENT

UNIFORM = "decryption failed"


def _d(text: str) -> bytes:
    return b64decode(text.encode("ascii"))


def _header(token: str) -> dict[str, Any]:
    return jwe.peek_header(token)


def _with_header(token: str, header: dict[str, Any]) -> str:
    """The token with its protected header replaced (so its tag no longer matches)."""
    return ".".join([b64(json.dumps(header, separators=(",", ":"))), *token.split(".")[1:]])


def _seal(key: bytes, enc: str, header: dict[str, Any], plaintext: bytes, **parts: bytes) -> str:
    """A JWE made by hand with a known CEK: what an attacker who holds a key could send."""
    protected = b64(json.dumps(header, separators=(",", ":"))).encode()
    iv, ciphertext, tag = CONTENT[enc].encrypt(key, plaintext, protected)
    segments = [protected, parts.get("encrypted_key", b""), iv, ciphertext, tag]
    return ".".join(s.decode() if i == 0 else b64(s) for i, s in enumerate(segments))


# -- invalid-curve ECDH ---------------------------------------------------------------------------


def test_invalid_curve_epk_point_off_the_curve_is_refused() -> None:
    """An epk that is not on P-256 is refused before any exchange (invalid-curve attack)."""
    key = jose.Key.generate("ECDH-ES+A128KW", crv="P-256")
    token = jwe.encrypt(b"x", key.public())
    header = _header(token)
    y = _d(header["epk"]["y"])
    off_curve = {**header["epk"], "y": b64(y[:-1] + bytes([y[-1] ^ 1]))}
    with pytest.raises(jose.MalformedTokenError, match="not a point on P-256"):
        jwe.decrypt(_with_header(token, {**header, "epk": off_curve}), key)


def test_invalid_curve_epk_from_another_curve_is_refused() -> None:
    """A valid P-384 point sent to a P-256 key is refused: the curve is the key's, not the
    token's."""
    key = jose.Key.generate("ECDH-ES", crv="P-256")
    token = jwe.encrypt(b"x", key.public())
    other = jose.Key.generate("ECDH-ES", crv="P-384").public().to_jwk()
    epk = {name: other[name] for name in ("kty", "crv", "x", "y")}
    with pytest.raises(jose.MalformedTokenError, match="key's curve P-256"):
        jwe.decrypt(_with_header(token, {**_header(token), "epk": epk}), key)


def test_invalid_curve_epk_with_a_private_part_is_refused() -> None:
    """An epk carrying ``d`` is a key the sender gave away; it is refused, not used."""
    key = jose.Key.generate("ECDH-ES", crv="P-256")
    token = jwe.encrypt(b"x", key.public())
    header = _header(token)
    with pytest.raises(jose.MalformedTokenError, match="private"):
        jwe.decrypt(_with_header(token, {**header, "epk": {**header["epk"], "d": "AA"}}), key)


@pytest.mark.parametrize(("crv", "size"), [("X25519", 32), ("X448", 56)])
def test_small_order_x_point_fails_as_decryption(crv: str, size: int) -> None:
    """An all-zero X25519/X448 epk (small order: a shared secret of zeros) fails decryption."""
    key = jose.Key.generate("ECDH-ES+A256KW", crv=crv)
    token = jwe.encrypt(b"x", key.public())
    epk = {"kty": "OKP", "crv": crv, "x": b64(bytes(size))}
    with pytest.raises(jose.DecryptionError, match=UNIFORM):
        jwe.decrypt(_with_header(token, {**_header(token), "epk": epk}), key)


# -- PBES2 count DoS --------------------------------------------------------------------------


def test_pbes2_p2c_of_a_billion_is_refused_before_any_derivation() -> None:
    """A token asking for 10**9 PBKDF2 iterations fails at once, even with PBES2 allowed."""
    password = jose.Key.from_secret("correct horse battery staple", "PBES2-HS256+A128KW")
    token = jwe.encrypt(b"x", password)
    bomb = _with_header(token, {**_header(token), "p2c": 10**9})
    with pytest.raises(jose.AlgorithmNotAllowedError, match="PBES2"):
        jwe.decrypt(bomb, password)  # not even considered without the opt-in
    start = time.perf_counter()
    with pytest.raises(jose.MalformedTokenError, match="max_p2c"):
        jwe.decrypt(bomb, password, algorithms=["PBES2-HS256+A128KW"])
    assert time.perf_counter() - start < 0.5


def test_pbes2_weak_count_and_short_salt_are_refused() -> None:
    """p2c below RFC 7518's 1000 and a p2s under 8 bytes are refused."""
    password = jose.Key.from_secret("correct horse battery staple", "PBES2-HS256+A128KW")
    token = jwe.encrypt(b"x", password)
    options: dict[str, Any] = {"algorithms": ["PBES2-HS256+A128KW"]}
    with pytest.raises(jose.MalformedTokenError, match="at least 1000"):
        jwe.decrypt(_with_header(token, {**_header(token), "p2c": 999}), password, **options)
    with pytest.raises(jose.MalformedTokenError, match="8 bytes"):
        jwe.decrypt(
            _with_header(token, {**_header(token), "p2s": b64(b"short")}), password, **options
        )
    with pytest.raises(jose.MalformedTokenError, match="p2c"):
        jwe.decrypt(_with_header(token, {**_header(token), "p2c": True}), password, **options)


# -- Bleichenbacher -------------------------------------------------------------------------------


def test_rsa1_5_is_refused_without_opt_in(rsa_pem: bytes) -> None:
    """RSA1_5 is refused unless named, with a message saying why; jotauth never encrypts it."""
    key = jose.Key.from_pem(rsa_pem, alg="RSA1_5")
    with pytest.raises(jose.InvalidKeyError, match="Bleichenbacher"):
        jwe.encrypt(b"x", key.public())
    oaep = jose.Key.from_pem(rsa_pem, alg="RSA-OAEP")
    token = _with_header(jwe.encrypt(b"x", oaep.public()), {"alg": "RSA1_5", "enc": "A256GCM"})
    with pytest.raises(jose.AlgorithmNotAllowedError, match="Bleichenbacher") as refused:
        jwe.decrypt(token, key)
    assert "RFC 8725" in str(refused.value)
    with pytest.raises(jose.DecryptionError, match=UNIFORM):
        jwe.decrypt(token, key, algorithms=["RSA1_5"])  # an OAEP block is bad PKCS#1 v1.5


@pytest.mark.parametrize("alg", ["RSA1_5", "RSA-OAEP", "RSA-OAEP-256"])
def test_rsa_unwrap_failure_continues_with_a_random_cek(alg: str, rsa_pem: bytes) -> None:
    """A bad RSA block gives a random CEK of the right size, not an error (RFC 7516 11.5): the
    failure surfaces only at the content tag, as the same DecryptionError."""
    key = jose.Key.from_pem(rsa_pem, alg=alg)
    assert key.unwrap_fn is not None
    content = CONTENT["A128CBC-HS256"]
    for garbage in (bytes(256), b"\x01" * 256, b"short"):
        first = key.unwrap_fn(content, {}, garbage)
        assert len(first) == 32
        assert key.unwrap_fn(content, {}, garbage) != first  # drawn afresh every time
    token = jwe.encrypt(b"x", jose.Key.from_pem(rsa_pem, alg="RSA-OAEP-256").public())
    _, _, iv, ciphertext, tag = token.split(".")
    header = b64(json.dumps({"alg": alg, "enc": "A256GCM"}))
    forged = f"{header}.{b64(bytes(256))}.{iv}.{ciphertext}.{tag}"
    with pytest.raises(jose.DecryptionError, match=UNIFORM):
        jwe.decrypt(forged, key, algorithms=[alg])


# -- oracles and tags -------------------------------------------------------------------------


def test_cbc_bad_padding_with_a_valid_mac_is_the_same_error() -> None:
    """Bad PKCS#7 padding under a valid tag fails exactly like a bad tag: no padding oracle."""
    from cryptography.hazmat.primitives import hashes, hmac
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    cek = bytes(range(32))
    key = jose.Key.from_secret(cek, "dir", enc="A128CBC-HS256")
    protected = b64(json.dumps({"alg": "dir", "enc": "A128CBC-HS256"}, separators=(",", ":")))
    iv = bytes(16)
    encryptor = Cipher(algorithms.AES(cek[16:]), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(b"\x00" * 15 + b"\x11") + encryptor.finalize()  # pad 0x11
    mac = hmac.HMAC(cek[:16], hashes.SHA256())
    mac.update(protected.encode() + iv + ciphertext + (len(protected) * 8).to_bytes(8, "big"))
    tag = mac.finalize()[:16]
    padded = f"{protected}..{b64(iv)}.{b64(ciphertext)}.{b64(tag)}"
    bad_tag = f"{protected}..{b64(iv)}.{b64(ciphertext)}.{b64(bytes(16))}"
    errors = []
    for token in (padded, bad_tag):
        with pytest.raises(jose.DecryptionError) as caught:
            jwe.decrypt(token, key)
        errors.append((type(caught.value), str(caught.value), caught.value.code))
    assert errors[0] == errors[1] == (jose.DecryptionError, UNIFORM, "decryption_failed")


@pytest.mark.parametrize("enc", list(CONTENT))
def test_truncated_and_extended_tags_fail_uniformly(enc: str) -> None:
    """A tag one byte short, one byte long, empty or flipped is the one DecryptionError."""
    key = jose.Key.generate("A256KW")
    token = jwe.encrypt(b"some claims", key, enc=enc)
    head, tag = token.rsplit(".", 1)
    raw = _d(tag)
    for bad in (raw[:-1], raw + b"\x00", b"", raw[:-1] + bytes([raw[-1] ^ 1])):
        with pytest.raises(jose.DecryptionError, match=UNIFORM):
            jwe.decrypt(f"{head}.{b64(bad)}", key)


def test_wrong_key_is_the_same_error() -> None:
    """The right algorithm with the wrong key fails as the same DecryptionError."""
    token = jwe.encrypt(b"x", jose.Key.generate("A128KW", kid="k"))
    with pytest.raises(jose.DecryptionError, match=UNIFORM):
        jwe.decrypt(token, jose.Key.generate("A128KW", kid="k"))


def test_dir_with_a_wrong_length_key() -> None:
    """``alg: dir`` with a key that is not the enc's size never reaches the cipher."""
    with pytest.raises(jose.InvalidKeyError, match="exactly 32 bytes"):
        jose.Key.from_secret(b"k" * 16, "dir", enc="A256GCM")
    short = jose.Key.generate("dir", enc="A128GCM")
    long_token = jwe.encrypt(b"x", jose.Key.generate("dir", enc="A256GCM", kid=short.kid))
    with pytest.raises(jose.AlgorithmNotAllowedError, match="bound to A128GCM"):
        jwe.decrypt(long_token, short)
    assert short.unwrap_fn is not None
    with pytest.raises(jose.DecryptionError):
        short.unwrap_fn(CONTENT["A256GCM"], {}, b"")
    token = jwe.encrypt(b"x", short)
    protected, _, *rest = token.split(".")
    with pytest.raises(jose.DecryptionError, match=UNIFORM):  # dir has no encrypted key
        jwe.decrypt(".".join([protected, b64(bytes(16)), *rest]), short)


# -- header swaps ---------------------------------------------------------------------------


def test_header_swap_between_recipients() -> None:
    """Unprotected recipient headers are not authenticated; swapping them between recipients
    makes each key try the other's encrypted key, which fails as DecryptionError."""
    alice = jose.Key.generate("A256KW", kid="alice")
    bob = jose.Key.generate("A256GCMKW", kid="bob")
    text = jwe.encrypt_json(b"for both", [alice, bob])
    document = json.loads(text)
    first, second = document["recipients"]
    first["header"], second["header"] = second["header"], first["header"]
    swapped = json.dumps(document)
    for key in (alice, bob):
        assert jwe.decrypt_json(text, key).plaintext == b"for both"
        for keys in (key, jose.KeySet([key])):
            with pytest.raises(jose.DecryptionError, match=UNIFORM):
                jwe.decrypt_json(swapped, keys)


def test_protected_header_swap_between_messages() -> None:
    """The protected header is the AAD: moving one message's header onto another's content
    fails, even where both would be accepted."""
    key = jose.Key.generate("A256KW")
    one = jwe.encrypt(b"one", key, headers={"cty": "one"})
    two = jwe.encrypt(b"two", key, headers={"cty": "two"})
    mixed = ".".join([two.split(".")[0], *one.split(".")[1:]])
    with pytest.raises(jose.DecryptionError, match=UNIFORM):
        jwe.decrypt(mixed, key)


def test_header_member_in_two_header_parts_is_refused() -> None:
    """A name in both the protected and an unprotected header is refused (RFC 7516 7.2.1):
    otherwise two readers could see different values."""
    key = jose.Key.generate("A256KW")
    document = json.loads(jwe.encrypt_json(b"x", key, flatten=True))
    document["unprotected"] = {"enc": "A128GCM"}
    with pytest.raises(jose.MalformedTokenError, match="more than one header part"):
        jwe.decrypt_json(json.dumps(document), key)


def test_zip_and_crit_must_be_protected() -> None:
    """``zip`` and ``crit`` outside the protected header are refused; any ``crit`` is."""
    key = jose.Key.generate("A256KW")
    document = json.loads(jwe.encrypt_json(b"x", key, flatten=True))
    for member in ({"zip": "DEF"}, {"crit": ["exp"]}):
        with pytest.raises(jose.MalformedTokenError, match="protected"):
            jwe.decrypt_json(json.dumps({**document, "unprotected": member}), key, compression=True)
    token = jwe.encrypt(b"x", key)
    crit = _with_header(token, {**_header(token), "crit": ["exp"], "exp": 1})
    with pytest.raises(jose.CriticalHeaderError):
        jwe.decrypt(crit, key)


# -- decompression bombs ------------------------------------------------------------------------


def test_zip_bomb_is_bounded() -> None:
    """50 MB of zeros deflated into a token inflates no further than the limit, then fails."""
    key = jose.Key.generate("dir", enc="A256GCM")
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = compressor.compress(bytes(50 << 20)) + compressor.flush()
    assert len(bomb) < 100_000
    header = {"alg": "dir", "enc": "A256GCM", "zip": "DEF"}
    cek = _d(key.to_jwk(private=True)["k"])
    token = _seal(cek, "A256GCM", header, bomb)
    limits: dict[str, Any] = {"max_size": 1 << 20}
    with pytest.raises(jose.AlgorithmNotAllowedError, match="compression=True"):
        jwe.decrypt(token, key, **limits)
    start = time.perf_counter()
    with pytest.raises(jose.TokenTooLargeError, match="max_decompressed_size"):
        jwe.decrypt(token, key, compression=True, **limits)
    assert time.perf_counter() - start < 1.0
    small = _seal(cek, "A256GCM", header, zlib.compress(b"ok")[2:-4])
    assert jwe.decrypt(small, key, compression=True) == b"ok"
    with pytest.raises(jose.UnsupportedAlgorithmError, match="zip"):
        jwe.decrypt(_seal(cek, "A256GCM", {**header, "zip": "GZIP"}, b"x"), key, compression=True)


def test_size_limit_comes_before_any_decoding() -> None:
    """An oversized token, compact or JSON, is refused by size whatever it contains."""
    key = jose.Key.generate("A256KW")
    with pytest.raises(jose.TokenTooLargeError):
        jwe.decrypt("!" * 9000, key)
    with pytest.raises(jose.TokenTooLargeError):
        jwe.decrypt_json("{" * 9000, key)


# -- nested tokens and embedded keys -----------------------------------------------------------


def test_jwe_whose_inner_token_is_alg_none() -> None:
    """An encrypted token wrapping an unsigned JWT is refused: encryption is not a signature."""
    key = jose.Key.generate("ECDH-ES+A256KW")
    unsigned = f"{b64(json.dumps({'alg': 'none'}))}.{b64(json.dumps({'sub': 'admin'}))}."
    token = jwe.encrypt(unsigned, key.public(), headers={"cty": "JWT"})
    verifier = jose.Verifier(jose.Key.generate("EdDSA").public(), decrypt_with=key)
    with pytest.raises(jose.UnsupportedAlgorithmError, match="none"):
        verifier.verify(token, now=0)


def test_jwe_header_carrying_a_jwk_is_ignored() -> None:
    """A ``jwk`` (or ``jku``, ``x5u``, ``x5c``) in the header is never used as a key: a token the
    attacker encrypted to their own key, naming it, does not decrypt with ours."""
    ours = jose.Key.generate("ECDH-ES+A256KW", kid="ours")
    attacker = jose.Key.generate("ECDH-ES+A256KW", kid="ours")
    embedded = {
        "jwk": attacker.to_jwk(private=True),
        "jku": "https://attacker.example/jwks",
        "x5u": "https://attacker.example/cert",
        "x5c": ["MIIB"],
    }
    token = jwe.encrypt(b"forged", attacker.public(), headers=embedded)
    assert _header(token)["jwk"]["kid"] == "ours"
    with pytest.raises(jose.DecryptionError, match=UNIFORM):
        jwe.decrypt(token, ours)
    aes = jose.Key.generate("A256KW")
    token = jwe.encrypt(b"x", aes, headers={"jwk": {"kty": "oct", "k": b64(bytes(32))}})
    assert jwe.decrypt(token, aes) == b"x"  # present, and ignored


def test_epk_is_not_a_recipient_key() -> None:
    """``epk`` is only the sender's half of an agreement: an AES-KW token carrying one still
    needs our AES key."""
    key = jose.Key.generate("A256KW")
    epk = jose.Key.generate("ECDH-ES").public().to_jwk()
    token = _seal(bytes(32), "A256GCM", {"alg": "A256KW", "enc": "A256GCM", "epk": epk}, b"x")
    wrapped = aes_key_wrap(bytes(32), bytes(32))
    parts = token.split(".")
    parts[1] = b64(wrapped)
    with pytest.raises(jose.DecryptionError, match=UNIFORM):
        jwe.decrypt(".".join(parts), key)


def test_ec_point_validation_is_cryptographys() -> None:
    """The check that stops invalid-curve points is cryptography's own point validation."""
    with pytest.raises(ValueError, match=r"[Ii]nvalid"):
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + bytes(64))
