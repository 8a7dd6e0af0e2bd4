"""The debugger's jwt.io-style features in a real Chromium: coloured token segments, a decoded
header and payload that can be edited (re-encoding, and re-signing with the builder's key),
verification as you type, and results that never outlive the token, key or build they were for.
"""

import base64
import json
import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from jotauth import jose

pytestmark = pytest.mark.browser

HAS_KID = re.compile('"kid"')


def make_token(key: jose.Key, **claims: Any) -> str:
    claims.setdefault("sub", "42")
    claims.setdefault("exp", int(time.time()) + 600)
    return jose.encode(claims, key, headers={"typ": "at+jwt"})


def open_debugger(watched: Any, server: Any) -> Any:
    page = watched.page
    page.goto(server.origin + "/debugger")
    page.wait_for_selector("body[data-ready=true]")
    return page


def verified_with_jwks(page: Any, token: str, key: jose.Key) -> None:
    """Paste a token and its public key and wait for the page's own (typing) verification."""
    page.fill("#token", token)
    page.fill("#verify-key", json.dumps(key.public().to_jwk()))
    page.wait_for_selector("#verify-result[data-status=valid]")


def build_and_use(page: Any) -> dict[str, Any]:
    """Generate an EdDSA key in the builder, sign its default claims and move the token left."""
    page.click("#generate-key")
    expect(page.locator("#build-public")).to_have_value(HAS_KID)
    page.click("#sign")
    expect(page.locator("#built-token")).not_to_have_value("")
    page.click("#use-built")
    page.wait_for_selector("#verify-result[data-status=valid]")
    public: dict[str, Any] = json.loads(page.input_value("#build-public"))
    return public


def record_statuses(page: Any) -> None:
    """Log every data-status the verify result takes, so a flash of a stale one is caught."""
    page.evaluate(
        """() => {
            window.__statuses = [];
            const el = document.getElementById("verify-result");
            new MutationObserver(() => window.__statuses.push(el.dataset.status))
                .observe(el, { attributes: true, attributeFilter: ["data-status"] });
        }"""
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- colours ----------------------------------------------------------------------------------


def test_token_segments_are_coloured(watched: Any, server: Any, signing_key: jose.Key) -> None:
    """Header, payload and signature are painted in three distinct colours over the textarea."""
    token = make_token(signing_key)
    page = open_debugger(watched, server)
    page.fill("#token", "Bearer " + token)
    parts = page.eval_on_selector_all(
        "#token-paint [data-part]",
        "els => els.map(e => [e.dataset.part, e.textContent, getComputedStyle(e).color])",
    )
    assert [(name, text) for name, text, _ in parts] == list(
        zip(["header", "payload", "signature"], token.split("."), strict=True)
    )
    assert len({colour for _, _, colour in parts}) == 3
    # The painted layer shows exactly what the textarea holds, whose own text is transparent.
    assert page.text_content("#token-paint") == page.input_value("#token")
    assert page.eval_on_selector("#token", "e => getComputedStyle(e).color") == "rgba(0, 0, 0, 0)"
    expect(page.locator("#token-legend")).to_have_text("Segments:HeaderPayloadSignature")


def test_a_jwe_gets_five_colours_and_a_clear_message(watched: Any, server: Any) -> None:
    """A five-part token is coloured part by part and named as an encrypted JWE with alg/enc."""
    header = b64(json.dumps({"alg": "RSA-OAEP-256", "enc": "A256GCM"}).encode())
    token = ".".join([header, b64(b"k" * 32), b64(b"i" * 12), b64(b"c" * 40), b64(b"t" * 16)])
    page = open_debugger(watched, server)
    page.fill("#token", token)
    colours = page.eval_on_selector_all(
        "#token-paint [data-part]", "els => els.map(e => getComputedStyle(e).color)"
    )
    assert len(colours) == 5
    assert len(set(colours)) == 5
    assert "Encrypted token (JWE)" in page.text_content("#token-legend")
    assert json.loads(page.text_content("#jwe-header"))["alg"] == "RSA-OAEP-256"
    assert page.is_visible("#decrypt-form")


# --- editing the decoded parts ---------------------------------------------------------------


def test_editing_the_payload_re_signs_with_the_builder_key(watched: Any, server: Any) -> None:
    """With a key in the builder, a payload edit gives a new token that verifies, in the page
    (without pressing Verify) and in the jotauth core."""
    page = open_debugger(watched, server)
    public = build_and_use(page)
    before = page.input_value("#token")
    exp = int(time.time()) + 300
    page.fill("#claims-json", json.dumps({"sub": "99", "role": "admin", "exp": exp}))
    page.wait_for_selector("#edit-note[data-status=valid]")
    after = page.input_value("#token")
    assert after != before
    assert after.split(".")[0] == before.split(".")[0]
    page.wait_for_selector("#verify-result[data-status=valid]")
    claims = jose.decode(after, jose.Key.from_jwk(public))
    assert claims == {"sub": "99", "role": "admin", "exp": exp}
    assert public["kid"] in page.text_content("#edit-note")
    assert page.text_content("#expiry") == "Expires in 5 min"


def test_editing_the_header_re_signs_and_the_core_sees_the_new_header(
    watched: Any, server: Any
) -> None:
    """A header edit (here typ) is kept as written and signed, so the core checks it."""
    page = open_debugger(watched, server)
    public = build_and_use(page)
    header = json.loads(page.input_value("#header-json"))
    page.fill("#header-json", json.dumps({**header, "typ": "at+jwt"}))
    page.wait_for_selector("#edit-note[data-status=valid]")
    page.wait_for_selector("#verify-result[data-status=valid]")
    token = page.input_value("#token")
    assert jose.decode(token, jose.Key.from_jwk(public), typ="at+jwt")["sub"] == "42"


def test_editing_without_a_builder_key_keeps_the_signature_and_says_so(
    watched: Any, server: Any, signing_key: jose.Key
) -> None:
    """No key to re-sign with: the payload is re-encoded, the old signature kept, the edit note
    explains, and verification as you type turns to bad_signature."""
    token = make_token(signing_key, role="user")
    page = open_debugger(watched, server)
    verified_with_jwks(page, token, signing_key)
    claims = json.loads(page.input_value("#claims-json"))
    page.fill("#claims-json", json.dumps({**claims, "role": "admin"}))
    page.wait_for_selector("#edit-note[data-status=stale]")
    edited = page.input_value("#token").split(".")
    original = token.split(".")
    assert edited[0] == original[0]
    assert edited[2] == original[2]
    assert json.loads(base64.urlsafe_b64decode(edited[1] + "==")) == {**claims, "role": "admin"}
    assert "no longer matches" in page.text_content("#edit-note")
    page.wait_for_selector("#verify-result[data-status=invalid]")
    assert "bad_signature" in page.text_content("#verify-result")


def test_a_header_kid_of_another_key_is_not_re_signed(watched: Any, server: Any) -> None:
    """The builder's key never signs a header whose kid names another key."""
    page = open_debugger(watched, server)
    build_and_use(page)
    signature = page.input_value("#token").split(".")[2]
    header = json.loads(page.input_value("#header-json"))
    page.fill("#header-json", json.dumps({**header, "kid": "someone-else"}))
    page.wait_for_selector("#edit-note[data-status=stale]")
    assert "kid" in page.text_content("#edit-note")
    assert page.input_value("#token").split(".")[2] == signature


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("#claims-json", '{"sub": "42",', "The payload is not valid JSON"),
        ("#claims-json", "[1, 2]", "The payload must be a JSON object"),
        ("#header-json", "{nope", "The header is not valid JSON"),
    ],
)
def test_invalid_json_is_explained_and_the_token_is_kept(
    watched: Any, server: Any, signing_key: jose.Key, field: str, text: str, message: str
) -> None:
    """An edit that is not a JSON object shows a clear error and leaves the token untouched."""
    token = make_token(signing_key)
    page = open_debugger(watched, server)
    verified_with_jwks(page, token, signing_key)
    page.fill(field, text)
    error = field.replace("-json", "-error")
    page.wait_for_selector(error + ":not([hidden])")
    assert message in page.text_content(error)
    assert "the token is unchanged" in page.text_content(error)
    assert page.get_attribute(field, "aria-invalid") == "true"
    assert page.input_value("#token") == token
    assert page.get_attribute("#verify-result", "data-status") == "valid"
    page.fill(field, "{}")
    page.wait_for_selector(error, state="hidden")
    assert page.get_attribute(field, "aria-invalid") is None


# --- results that never go stale --------------------------------------------------------------


def test_verification_runs_as_you_type(watched: Any, server: Any, signing_key: jose.Key) -> None:
    """Token and key pasted, nothing pressed: the result appears on its own."""
    page = open_debugger(watched, server)
    verified_with_jwks(page, make_token(signing_key), signing_key)
    page.fill("#verify-aud", "orders")
    page.wait_for_selector("#verify-result[data-status=invalid]")
    assert "missing_claim" in page.text_content("#verify-result")


def test_no_decoded_only_note_next_to_a_verified_result(
    watched: Any, server: Any, signing_key: jose.Key
) -> None:
    """'Decoded only' goes away once verified, and comes back with the next token."""
    token = make_token(signing_key)
    page = open_debugger(watched, server)
    page.fill("#token", token)
    assert page.is_visible("#unverified")
    page.fill("#verify-key", json.dumps(signing_key.public().to_jwk()))
    page.wait_for_selector("#verify-result[data-status=valid]")
    assert page.is_hidden("#unverified")
    page.fill("#token", make_token(signing_key, sub="other"))
    assert page.is_visible("#unverified")


def test_the_hints_heading_is_shown_only_with_hints(
    watched: Any, server: Any, signing_key: jose.Key
) -> None:
    """A token with nothing to say has no empty 'Hints' heading; one without exp has both."""
    page = open_debugger(watched, server)
    page.fill("#token", make_token(signing_key))
    assert page.text_content("#hints") == ""
    assert page.is_hidden("text=Hints")
    page.fill("#token", jose.encode({"sub": "42"}, signing_key))
    assert page.is_visible("#hints-block h3")
    assert "never expires" in page.text_content("#hints")


def test_a_new_token_clears_the_old_result_at_once(
    watched: Any, server: Any, signing_key: jose.Key
) -> None:
    """The moment the token changes the old result is gone; then the new one is worked out."""
    token = make_token(signing_key, role="user")
    page = open_debugger(watched, server)
    verified_with_jwks(page, token, signing_key)
    header, _, signature = token.split(".")
    forged = make_token(signing_key, role="admin").split(".")[1]
    page.fill("#token", f"{header}.{forged}.{signature}")
    assert page.get_attribute("#verify-result", "data-status") == "none"
    assert page.text_content("#verify-result") == ""
    page.wait_for_selector("#verify-result[data-status=invalid]")
    assert "bad_signature" in page.text_content("#verify-result")


def test_a_result_for_an_earlier_token_never_shows(
    watched: Any, server: Any, signing_key: jose.Key
) -> None:
    """Verify pressed, then the token replaced before WebCrypto answers: the answer is dropped."""
    token = make_token(signing_key)
    page = open_debugger(watched, server)
    page.fill("#token", token)
    page.fill("#verify-key", json.dumps(signing_key.public().to_jwk()))
    page.wait_for_selector("#verify-result[data-status=valid]")
    record_statuses(page)
    page.evaluate(
        """(broken) => {
            document.getElementById("verify").click();
            const field = document.getElementById("token");
            field.value = broken;
            field.dispatchEvent(new Event("input", { bubbles: true }));
        }""",
        token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"),
    )
    page.wait_for_selector("#verify-result[data-status=invalid]")
    page.wait_for_timeout(500)
    statuses = page.evaluate("window.__statuses")
    assert "valid" not in statuses, statuses
    assert page.get_attribute("#verify-result", "data-status") == "invalid"


@pytest.mark.parametrize("button", ["#sign", "#generate-key"])
def test_building_clears_an_old_result(
    watched: Any, server: Any, signing_key: jose.Key, button: str
) -> None:
    """Signing a new token or generating a key removes a result about another token, for good."""
    page = open_debugger(watched, server)
    verified_with_jwks(page, make_token(signing_key), signing_key)
    if button == "#sign":
        page.click("#generate-key")
        expect(page.locator("#build-public")).to_have_value(HAS_KID)
        verified_with_jwks(page, make_token(signing_key, sub="again"), signing_key)
    record_statuses(page)
    page.click(button)
    page.wait_for_selector("#verify-result[data-status=none]", state="attached")
    page.wait_for_timeout(600)  # longer than the typing pause: nothing brings it back
    assert page.text_content("#verify-result") == ""
    assert page.is_visible("#unverified")
    assert "valid" not in page.evaluate("window.__statuses")


def test_every_control_has_a_label(watched: Any, server: Any) -> None:
    """Each field on both pages has a label; the painted layers are hidden from screen readers."""
    for path in ("/debugger", "/demo"):
        page = watched.page
        page.goto(server.origin + path)
        page.wait_for_selector("body[data-ready=true]")
        unlabelled = page.eval_on_selector_all(
            "textarea, input, select",
            "els => els.filter(e => !e.labels.length && !e.ariaLabel).map(e => e.id)",
        )
        assert unlabelled == [], path
        layers = page.eval_on_selector_all(
            ".paint-layer", "els => els.filter(e => e.getAttribute('aria-hidden') !== 'true')"
        )
        assert layers == []
