"""The token debugger in a real Chromium: decode, verify with the server's JWKS, see a tampered
token flagged, sign in the builder, and prove the page talks to nothing but its own server.
"""

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from jotauth import jose

pytestmark = pytest.mark.browser

STATIC = Path(jose.__file__).parents[1] / "tools" / "static"


def make_token(key: jose.Key, **claims: Any) -> str:
    claims.setdefault("sub", "42")
    claims.setdefault("exp", int(time.time()) + 12 * 60 + 10)
    return jose.encode(claims, key, headers={"typ": "at+jwt"})


def open_debugger(watched: Any, server: Any) -> Any:
    page = watched.page
    page.goto(server.origin + "/debugger")
    page.wait_for_selector("body[data-ready=true]")
    return page


def test_decode_shows_header_claims_and_expiry(
    watched: Any, server: Any, signing_key: jose.Key
) -> None:
    """Pasting a token shows its header, claims and 'Expires in 12 min', marked unverified."""
    page = open_debugger(watched, server)
    page.fill("#token", make_token(signing_key, name="John Doe"))
    assert json.loads(page.text_content("#header"))["kid"] == signing_key.kid
    claims = json.loads(page.text_content("#claims"))
    assert claims["name"] == "John Doe"
    assert page.text_content("#expiry") == "Expires in 12 min"
    assert page.get_attribute("#expiry", "data-status") == "valid"
    assert page.is_visible("#unverified")
    assert page.locator("#claims .j-key").first.text_content() == '"name"'


def test_bearer_prefix_and_line_breaks_are_tolerated(
    watched: Any, server: Any, signing_key: jose.Key
) -> None:
    """A token pasted as an Authorization header value, wrapped over lines, still decodes."""
    token = make_token(signing_key, sub="wrapped")
    page = open_debugger(watched, server)
    page.fill("#token", "Bearer " + "\n".join(token[i : i + 50] for i in range(0, len(token), 50)))
    assert json.loads(page.text_content("#claims"))["sub"] == "wrapped"


def test_expired_token_and_hints(watched: Any, server: Any, signing_key: jose.Key) -> None:
    """An expired token reads 'Expired 3 h ago'; sensitive claims get a hint."""
    page = open_debugger(watched, server)
    page.fill("#token", make_token(signing_key, exp=int(time.time()) - 3 * 3600, password="x"))
    assert page.text_content("#expiry") == "Expired 3 h ago"
    assert page.get_attribute("#expiry", "data-status") == "invalid"
    assert "sensitive-looking claims (password)" in page.text_content("#hints")


def test_malformed_token_error_and_no_injection(watched: Any, server: Any) -> None:
    """Garbage gets a clear error; HTML in claims is shown as text, never run."""
    page = open_debugger(watched, server)
    page.fill("#token", "not-a-token")
    assert "3 dot-separated parts" in page.text_content("#decode-error")
    evil = jose.jws.sign(json.dumps({"x": "<img src=x onerror=alert(1)>"}).encode(),
                         jose.Key.generate("EdDSA"))  # fmt: skip
    page.fill("#token", evil)
    assert "<img src=x onerror=alert(1)>" in page.text_content("#claims")
    assert page.locator("#claims img").count() == 0


def test_verify_with_the_servers_jwks(watched: Any, server: Any, signing_key: jose.Key) -> None:
    """'Use this server's JWKS' loads /.well-known/jwks.json and the signature verifies."""
    page = open_debugger(watched, server)
    page.fill("#token", make_token(signing_key))
    page.click("#use-server-jwks")
    expect(page.locator("#verify-key")).to_have_value(re.compile('"keys"'))
    page.click("#verify")
    page.wait_for_selector("#verify-result[data-status=valid]")
    assert signing_key.kid in page.text_content("#verify-result")
    assert watched.requests_outside(server.origin) == []


def test_tampered_token_is_flagged(watched: Any, server: Any, signing_key: jose.Key) -> None:
    """Changing one claim after signing gives bad_signature."""
    header, _, signature = make_token(signing_key, role="user").split(".")
    forged = jose.encode({"sub": "42", "role": "admin", "exp": 4_000_000_000}, signing_key)
    page = open_debugger(watched, server)
    page.fill("#token", f"{header}.{forged.split('.')[1]}.{signature}")
    page.click("#use-server-jwks")
    expect(page.locator("#verify-key")).to_have_value(re.compile('"keys"'))
    page.click("#verify")
    page.wait_for_selector("#verify-result[data-status=invalid]")
    assert "bad_signature" in page.text_content("#verify-result")


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("unknown-kid", "no_matching_key"),
        ("expired", "expired_token"),
        ("none", "unsupported_algorithm"),
    ],
)
def test_verify_failures(
    watched: Any, server: Any, signing_key: jose.Key, case: str, expected: str
) -> None:
    """Unknown kid, expiry and alg none each get their own code in the page."""
    jwks = json.dumps(jose.KeySet([signing_key.public()]).to_jwks())
    token = {
        "unknown-kid": make_token(jose.Key.generate("EdDSA", kid="gone")),
        "expired": make_token(signing_key, exp=int(time.time()) - 60),
        "none": "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
    }[case]
    page = open_debugger(watched, server)
    page.fill("#token", token)
    page.fill("#verify-key", jwks)
    page.click("#verify")
    page.wait_for_selector("#verify-result[data-status=invalid]")
    assert expected in page.text_content("#verify-result")


def test_expected_issuer_and_audience(watched: Any, server: Any, signing_key: jose.Key) -> None:
    """Optional issuer/audience fields give the CLI's 'expected vs found' reasons."""
    token = make_token(signing_key, iss="https://auth", aud=["billing", "mail"])
    page = open_debugger(watched, server)
    page.fill("#token", token)
    page.fill("#verify-key", json.dumps(signing_key.public().to_jwk()))
    page.fill("#verify-aud", "orders")
    page.click("#verify")
    page.wait_for_selector("#verify-result[data-status=invalid]")
    assert 'audience is "billing", "mail"; expected "orders"' in page.text_content("#verify-result")
    page.fill("#verify-aud", "mail")
    page.fill("#verify-iss", "https://other")
    page.click("#verify")
    expect(page.locator("#verify-result")).to_contain_text(
        'issuer is "https://auth"; expected "https://other"'
    )
    page.fill("#verify-iss", "https://auth")
    page.click("#verify")
    page.wait_for_selector("#verify-result[data-status=valid]")


@pytest.mark.parametrize("alg", ["ES256", "RS256", "PS256", "HS256", "EdDSA"])
def test_pasted_keys_of_each_family(watched: Any, server: Any, alg: str) -> None:
    """Python-signed tokens verify in the page with a pasted JWK (PEM for ES256)."""
    key = jose.Key.generate(alg, **({"size": 2048} if alg[:2] in ("RS", "PS") else {}))
    if alg == "HS256":
        key_text = json.dumps(key.to_jwk(private=True))
    elif alg == "ES256":
        key_text = key.public().to_pem().decode()
    else:
        key_text = json.dumps(key.public().to_jwk())
    page = open_debugger(watched, server)
    page.fill("#token", make_token(key))
    page.fill("#verify-key", key_text)
    page.click("#verify")
    page.wait_for_selector("#verify-result[data-status=valid]")


def test_builder_signs_a_token_python_verifies(watched: Any, server: Any) -> None:
    """Generate a key and sign in the page; the jotauth core verifies the result."""
    page = open_debugger(watched, server)
    page.select_option("#build-alg", "ES256")
    page.click("#generate-key")
    expect(page.locator("#build-public")).to_have_value(re.compile('"kid"'))
    page.fill("#build-typ", "at+jwt")
    page.fill("#build-claims", json.dumps({"sub": "7", "exp": int(time.time()) + 600}))
    page.click("#sign")
    expect(page.locator("#built-token")).to_have_value(re.compile(r"^[\w-]+\.[\w-]+\.[\w-]+$"))
    token = page.input_value("#built-token")
    public = json.loads(page.input_value("#build-public"))
    key = jose.Key.from_jwk(public)
    assert public["kid"] == key.thumbprint()
    assert jose.decode(token, key, typ="at+jwt")["sub"] == "7"
    page.click("#use-built")
    page.wait_for_selector("#verify-result[data-status=valid]")
    assert watched.requests_outside(server.origin) == []


def test_builder_errors(watched: Any, server: Any) -> None:
    """Bad claims JSON and a public key in place of a private one are explained."""
    page = open_debugger(watched, server)
    page.click("#generate-key")
    expect(page.locator("#build-public")).to_have_value(re.compile('"kid"'))
    page.fill("#build-claims", "{nope")
    page.click("#sign")
    assert "not valid JSON" in page.text_content("#build-error")
    page.fill("#build-claims", "{}")
    page.fill("#build-key", page.input_value("#build-public"))
    page.click("#sign")
    page.wait_for_selector("#build-error:not([hidden])")
    assert "public key" in page.text_content("#build-error")


def test_opened_directly_as_a_file(watched: Any, signing_key: jose.Key) -> None:
    """The same HTML works from disk: decoding and verifying need no server."""
    page = watched.page
    page.goto((STATIC / "debugger.html").as_uri())
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#token", make_token(signing_key))
    assert page.text_content("#expiry") == "Expires in 12 min"
    page.fill("#verify-key", json.dumps(signing_key.public().to_jwk()))
    page.click("#verify")
    page.wait_for_selector("#verify-result[data-status=valid]")


def test_the_csp_is_enforced_in_the_browser(watched: Any, server: Any) -> None:
    """The header policy is live: an injected inline script and a foreign script are refused."""
    page = open_debugger(watched, server)
    watched.expect_csp_violations = True
    outcome = page.evaluate(
        """() => new Promise((resolve) => {
            const seen = [];
            document.addEventListener("securitypolicyviolation", (e) => {
                seen.push(e.violatedDirective);
                const ran = window.__ran ? " ran" : "";
                if (seen.length === 2) resolve(seen.sort().join(" ") + ran);
            });
            const inline = document.createElement("script");
            inline.textContent = "window.__ran = true";
            document.body.appendChild(inline);
            const foreign = document.createElement("script");
            foreign.src = "http://198.51.100.7/x.js";
            document.body.appendChild(foreign);
            setTimeout(() => resolve("timeout " + seen.join(" ")), 5000);
        })"""
    )
    assert outcome == "script-src-elem script-src-elem"
