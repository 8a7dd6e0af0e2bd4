"""``jotauth token decode``: what a token says, unverified, with times, hints and --json."""

import base64
import json
import time
from typing import Any

import pytest
from click.testing import CliRunner

from jotauth import jose
from jotauth.cli._token_time import parse_duration, relative, time_status
from jotauth.cli.main import main


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input)


def b64(value: object) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def key() -> jose.Key:
    return jose.Key.generate("EdDSA", kid="k1")


def make(key: jose.Key, **claims: object) -> str:
    return jose.encode(claims, key, headers={"typ": "at+jwt"})


def test_shows_warning_header_claims_and_expiry_plain_when_piped(key: jose.Key) -> None:
    """The default view warns it verified nothing and shows both parts and expiry, no colour."""
    now = int(time.time())
    result = run("token", "decode", make(key, sub="42", exp=now + 12 * 60 + 20, iat=now))
    assert result.exit_code == 0
    out = result.output
    assert out.startswith("NOT VERIFIED")
    assert '"kid": "k1"' in out
    assert '"sub": "42"' in out
    assert "(expires in 12 min)" in out
    assert "UTC" in out
    assert "\x1b[" not in out


def test_colour_on_request(key: jose.Key) -> None:
    """--color forces ANSI styles (as on a terminal); expired times are red."""
    token = make(key, exp=int(time.time()) - 3 * 3600)
    out = run("token", "decode", "--color", token).output
    assert "\x1b[" in out
    assert "\x1b[31m(expired 3 h ago)" in out


def test_reads_stdin_with_dash_or_no_argument_and_strips_bearer(key: jose.Key) -> None:
    """Tokens come from stdin too, even pasted with the Bearer prefix."""
    token = make(key, sub="s", exp=int(time.time()) + 60)
    for args in (["-"], []):
        result = run("token", "decode", *args, input=f"Bearer {token}\n")
        assert result.exit_code == 0, result.output
        assert '"sub": "s"' in result.output


def test_empty_input_is_a_usage_error() -> None:
    """Nothing on stdin is a usage error, not a traceback."""
    result = run("token", "decode", "-", input="  \n")
    assert result.exit_code == 2
    assert "empty" in result.output


def test_json_output_for_scripts(key: jose.Key) -> None:
    """--json gives parts, times and hints as data, and says verified: false."""
    now = int(time.time())
    result = run("token", "decode", "--json", make(key, exp=now - 10, password="p"))
    data = json.loads(result.stdout)
    assert data["verified"] is False
    assert data["header"]["alg"] == "EdDSA"
    assert data["claims"]["password"] == "p"
    assert data["times"]["exp"]["value"] == now - 10
    assert data["times"]["exp"]["status"].startswith("expired")
    assert any("password" in hint for hint in data["hints"])


def hints(token: str) -> list[str]:
    result = run("token", "decode", "--json", token)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["hints"]


def test_hint_alg_none_and_no_kid() -> None:
    """An unsigned token is called out."""
    found = hints(b64({"alg": "none"}) + "." + b64({"sub": "1", "exp": 1}) + ".")
    assert any('alg is "none"' in h for h in found)
    assert any("no kid" in h for h in found)


def test_hint_no_exp(key: jose.Key) -> None:
    """A token that never expires is called out."""
    assert any('no "exp"' in h for h in hints(make(key, sub="1")))
    assert not any('no "exp"' in h for h in hints(make(key, exp=2_000_000_000)))


def test_hint_over_8_kib(key: jose.Key) -> None:
    """Over 8 KiB: verifiers reject it, and the decoder says so but still shows it."""
    found = hints(make(key, exp=2_000_000_000, blob="a" * 9000))
    assert any("over the 8192 byte" in h for h in found)
    assert not any("8192" in h for h in hints(make(key, exp=2_000_000_000)))


def test_hint_sensitive_claim_names_nested(key: jose.Key) -> None:
    """Claims named like secrets are flagged, also inside objects; normal names are not."""
    found = hints(make(key, exp=2_000_000_000, profile={"ssn": "1"}, api_key="x", name="n"))
    sensitive = next(h for h in found if "sensitive" in h)
    assert "profile.ssn" in sensitive
    assert "api_key" in sensitive
    assert "name," not in sensitive


def test_hint_long_lifetime_hmac_and_key_url_headers() -> None:
    """Long lifetimes, shared secrets and jku/x5u headers each get a hint."""
    secret = jose.Key.from_secret(b"k" * 32)
    token = jose.encode({"iat": 0, "exp": 30 * 86400}, secret, headers={"jku": "https://evil"})
    found = hints(token)
    assert any("lives 30 days" in h for h in found)
    assert any("HMAC" in h for h in found)
    assert any('"jku"' in h for h in found)


def test_non_numeric_dates_and_non_json_payload(key: jose.Key) -> None:
    """A string exp is flagged; a JWS whose payload is not JSON is shown as not a JWT."""
    string_exp = jose.jws.sign(json.dumps({"exp": "soon"}).encode(), key)
    assert any('"exp" is not a number' in h for h in hints(string_exp))
    raw = jose.jws.sign(b"plain bytes", key)
    assert any("not a JWT" in h for h in hints(raw))


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("garbage", "3 dot-separated segments"),
        ("a.b.c.d.e", "encrypted JWE"),
        ("!!.e30.", "not a readable JWT"),
    ],
)
def test_malformed_tokens_exit_1_with_the_reason(token: str, message: str) -> None:
    """Something that is not a JWS gives exit 1 and says why."""
    result = run("token", "decode", token)
    assert result.exit_code == 1
    assert message in result.output


def test_immature_and_future_iat_are_flagged() -> None:
    """nbf and iat in the future read as problems."""
    assert time_status("nbf", 150, 100) == ("not valid yet, starts in 50 s", True)
    assert time_status("nbf", 50, 100) == ("valid since 50 s ago", False)
    assert time_status("iat", 200, 100)[1] is True
    assert time_status("auth_time", 40, 100) == ("60 s ago", False)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(30, "in 30 s"), (-720, "12 min ago"), (3 * 3600, "in 3 h"), (-10 * 86400, "10 days ago")],
)
def test_relative_wording(seconds: int, text: str) -> None:
    """Relative times use the unit a person would."""
    assert relative(1000 + seconds, 1000) == text


@pytest.mark.parametrize("bad", ["", "15x", "m", "1h x", "-5m", "999999999w"])
def test_parse_duration_rejects(bad: str) -> None:
    """Anything but a positive duration is a ValueError."""
    with pytest.raises(ValueError, match=r"duration|100 years"):
        parse_duration(bad)


def test_parse_duration_accepts_compound_and_seconds() -> None:
    """1h30m and bare seconds both work."""
    assert parse_duration("1h30m") == 5400
    assert parse_duration("2w") == 1_209_600
    assert parse_duration("45") == 45


def test_clean_access_token_has_no_hints(key: jose.Key) -> None:
    """A well-formed short-lived token with a kid gets no Hints section at all."""
    now = int(time.time())
    result = run("token", "decode", make(key, sub="1", iat=now, exp=now + 900))
    assert result.exit_code == 0
    assert "Hints" not in result.output


def test_hint_unknown_alg_and_crit() -> None:
    """An algorithm jotauth does not implement and a crit header are called out."""
    token = b64({"alg": "XY512", "kid": "k", "crit": ["exp"]}) + "." + b64({"exp": 1}) + ".c2ln"
    found = hints(token)
    assert any("'XY512' is not one jotauth supports" in h for h in found)
    assert any('"crit"' in h for h in found)


def test_dates_beyond_any_calendar_are_shown_raw(key: jose.Key) -> None:
    """An exp far past year 9999 is shown as a number, not a crash."""
    result = run("token", "decode", make(key, exp=10**20))
    assert result.exit_code == 0
    assert "not a representable date" in result.output


def test_hints_in_the_human_view(key: jose.Key) -> None:
    """The plain view lists hints under their own heading."""
    result = run("token", "decode", make(key, sub="1"))
    assert "\nHints\n" in result.output
    assert '  ! no "exp" claim: this token never expires' in result.output


def test_token_pasted_across_lines(key: jose.Key) -> None:
    """Line breaks inside a pasted token are removed (a JWS has no whitespace)."""
    token = make(key, sub="wrapped", exp=int(time.time()) + 60)
    wrapped = "\n".join(token[i : i + 40] for i in range(0, len(token), 40))
    result = run("token", "decode", "-", input=wrapped)
    assert result.exit_code == 0, result.output
    assert '"sub": "wrapped"' in result.output


def test_token_text_cannot_drive_the_terminal(key: jose.Key, tmp_path: Any) -> None:
    """A token is attacker input: its claim names and values must not reach a terminal as
    control sequences (ESC in a hint, C1 CSI or a bidi override in a value), which could erase
    the NOT VERIFIED warning or forge output. They are shown escaped instead."""
    evil = "secret\x1b[1A\x1b[2K"
    token = make(key, exp=2_000_000_000, **{evil: "x", "name": "a\x9b2Jb\u202ec"})
    out = run("token", "decode", "--color", token).output
    assert "\x1b[1A" not in out
    assert "\x1b[2K" not in out
    assert "\x9b" not in out
    assert "\u202e" not in out
    assert "\\u009b" in out
    assert "\\u202e" in out
    public = tmp_path / "k.jwk"
    public.write_text(json.dumps(key.public().to_jwk()))
    verified = run("token", "verify", "--key", str(public), "--color", token)
    assert verified.exit_code == 0
    assert "\x1b[1A" not in verified.output
    assert "\x9b" not in verified.output
