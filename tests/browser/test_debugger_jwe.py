"""The debugger on encrypted tokens, in a real Chromium: the JWE's protected header and parts,
decryption in WebCrypto with a pasted private JWK, and the inner token verified as any other."""

import base64
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from jotauth import jose
from jotauth.jose import jwe

pytestmark = pytest.mark.browser


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def shot(page: Any, tmp_path: Path, name: str) -> None:
    """A full-page screenshot, into JOTAUTH_SCREENSHOT_DIR when set (to look at), else tmp."""
    folder = Path(os.environ.get("JOTAUTH_SCREENSHOT_DIR") or tmp_path)
    page.screenshot(path=str(folder / f"jwe4-{name}.png"), full_page=True)


def open_debugger(watched: Any, server: Any) -> Any:
    page = watched.page
    page.goto(server.origin + "/debugger")
    page.wait_for_selector("body[data-ready=true]")
    return page


def decrypt_in_page(page: Any, token: str, key_text: str) -> tuple[str, str]:
    """Paste the token and the key; the result's status and text once decryption ran."""
    page.fill("#token", token)
    page.fill("#decrypt-key", key_text)
    page.wait_for_selector("#decrypt-result:not([data-status=pending]):not([data-status=none])")
    return (
        page.get_attribute("#decrypt-result", "data-status") or "",
        page.text_content("#decrypt-result") or "",
    )


def test_nested_token_header_parts_decrypt_and_verify(
    watched: Any, server: Any, signing_key: jose.Key, tmp_path: Path
) -> None:
    """A nested JWT shows its protected header and five parts; the private JWK decrypts it
    in the page, the inner claims appear NOT verified, and the inner token then verifies with
    the server's JWKS. Nothing is sent anywhere."""
    recipient = jose.Key.generate("ECDH-ES+A256KW", crv="P-256", kid="svc-enc")
    claims = {"sub": "42", "salary": 90000, "exp": int(time.time()) + 600}
    token = jose.encode(
        claims, signing_key, headers={"typ": "at+jwt"}, encrypt_to=recipient.public()
    )
    page = open_debugger(watched, server)
    page.fill("#token", token)
    header = json.loads(page.text_content("#jwe-header") or "")
    assert header["alg"] == "ECDH-ES+A256KW"
    assert header["enc"] == "A256GCM"
    assert header["cty"] == "JWT"
    assert header["kid"] == "svc-enc"
    parts = page.locator("#jwe-parts li").all_text_contents()
    assert [p.split(":")[0] for p in parts[:5]] == [
        "Protected header", "Encrypted key", "IV", "Ciphertext", "Tag"
    ]  # fmt: skip
    assert page.is_hidden("#decoded")
    assert page.is_visible("#jwe-support")
    status, text = decrypt_in_page(page, token, json.dumps(recipient.to_jwk(private=True)))
    assert status == "valid", text
    assert "ECDH-ES+A256KW, A256GCM, key svc-enc" in text
    assert "not verified" in text
    assert json.loads(page.text_content("#jwe-inner-claims") or "")["salary"] == 90000
    assert json.loads(page.text_content("#jwe-inner-header") or "")["typ"] == "at+jwt"
    shot(page, tmp_path, "decrypted")
    page.click("#open-inner")
    assert json.loads(page.text_content("#claims") or "")["salary"] == 90000
    page.click("#use-server-jwks")
    page.wait_for_selector("#verify-result[data-status=valid]")
    assert watched.requests_outside(server.origin) == []


def _cases() -> list[tuple[str, jose.Key, str, dict[str, Any]]]:
    password = jose.Key.from_secret("correct horse battery staple", "PBES2-HS256+A128KW")
    return [
        ("RSA-OAEP-256", jose.Key.generate("RSA-OAEP-256"), "A256GCM", {}),
        ("RSA-OAEP", jose.Key.generate("RSA-OAEP"), "A128CBC-HS256", {}),
        ("dir", jose.Key.generate("dir", enc="A128GCM"), "A128GCM", {}),
        ("A256KW", jose.Key.generate("A256KW"), "A256CBC-HS512", {}),
        ("A128GCMKW", jose.Key.generate("A128GCMKW"), "A256GCM", {}),
        ("ECDH-ES X25519", jose.Key.generate("ECDH-ES", crv="X25519"), "A256GCM", {}),
        (
            "ECDH-ES+A128KW P-521",
            jose.Key.generate("ECDH-ES+A128KW", crv="P-521"),
            "A256CBC-HS512",
            {"apu": b64(b"alice"), "apv": b64(b"bob")},
        ),
        ("ECDH-ES+A256KW P-384", jose.Key.generate("ECDH-ES+A256KW", crv="P-384"), "A128GCM", {}),
        ("PBES2", password, "A128GCM", {"p2c": 2000}),
    ]


def test_each_algorithm_the_page_has_decrypts(watched: Any, server: Any) -> None:
    """Every key management and content algorithm the page lists decrypts what jotauth made."""
    page = open_debugger(watched, server)
    for name, key, enc, headers in _cases():
        text = f"secret for {name}"
        recipient = key if key.kty == "oct" else key.public()
        token = jwe.encrypt(text, recipient, enc=enc, headers={"cty": "text/plain", **headers})
        key_text = (
            "correct horse battery staple"
            if name == "PBES2"
            else json.dumps(key.to_jwk(private=True))
        )
        status, message = decrypt_in_page(page, token, key_text)
        assert status == "valid", (name, message)
        assert page.text_content("#jwe-inner-claims") == text, name
        assert page.is_hidden("#open-inner")


def test_wrong_keys_and_what_the_page_cannot_do(watched: Any, server: Any, tmp_path: Path) -> None:
    """Another private key: the one "decryption failed"; a public key or a signature key: said
    so; RSA1_5, X448 and 192-bit AES: named as not available here, with the CLI to use."""
    recipient = jose.Key.generate("ECDH-ES+A256KW", crv="P-256", kid="svc-enc")
    token = jwe.encrypt("x", recipient.public(), headers={"cty": "text/plain"})
    page = open_debugger(watched, server)
    stranger = jose.Key.generate("ECDH-ES+A256KW", crv="P-256", kid="svc-enc")
    for key_text, expected in [
        (json.dumps(stranger.to_jwk(private=True)), "decryption_failed: decryption failed"),
        (json.dumps(recipient.public().to_jwk()), "invalid_key: this is a public key"),
        (json.dumps(jose.Key.generate("ES256").to_jwk(private=True)), "invalid_key"),
        ("not json", "invalid_key"),
    ]:
        status, message = decrypt_in_page(page, token, key_text)
        assert status == "invalid"
        assert expected in message
    fake = ".".join([b64(json.dumps({"alg": "RSA1_5", "enc": "A128GCM"}).encode()), "AAAA",
                     "AAAA", "AAAA", "AAAA"])  # fmt: skip
    status, message = decrypt_in_page(page, fake, json.dumps(recipient.to_jwk(private=True)))
    assert "unsupported_algorithm: RSA1_5 is not in WebCrypto" in message
    assert "jotauth token decode --key FILE" in message
    aes192 = jose.Key.generate("A192KW")
    token192 = jwe.encrypt("x", aes192, enc="A256GCM")
    status, message = decrypt_in_page(page, token192, json.dumps(aes192.to_jwk(private=True)))
    assert status == "invalid"
    assert "192-bit AES" in message
    x448 = jose.Key.generate("ECDH-ES", crv="X448")
    token448 = jwe.encrypt("x", x448.public())
    status, message = decrypt_in_page(page, token448, json.dumps(x448.to_jwk(private=True)))
    assert "X448 is not in WebCrypto" in message
    page.fill("#verify-key", json.dumps(recipient.public().to_jwk()))
    page.click("#verify")
    assert "encrypted: decrypt it" in (page.text_content("#verify-result") or "")
    shot(page, tmp_path, "unsupported")
    assert watched.requests_outside(server.origin) == []
