"""JSON audit lines and the scrubber that keeps secrets out of every log."""

import dataclasses
import json
import logging
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from jotauth.issuer.events import AuthEvent, EventType
from jotauth.issuer.observability.audit_log import AuditLogger, event_record
from jotauth.issuer.observability.redact import REDACTED, scrub

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"


def test_scrub_redacts_secret_keys_and_jwts_anywhere() -> None:
    """Secret-named keys lose their values; a JWT is caught even under an innocent key."""
    data = {
        "password": "hunter2",
        "new_password": "hunter3",
        "refresh_token": "opaque",
        "Authorization": "Bearer x",
        "client_secret": "s",
        "note": f"user pasted {JWT} here",
        "nested": [{"api_key": "k"}, "plain"],
        "jti": "keep-me",
        "kid": "key-1",
        "token_type": "Bearer",
        "count": 3,
    }
    out = scrub(data)
    for key in ("password", "new_password", "refresh_token", "Authorization", "client_secret"):
        assert out[key] == REDACTED
    assert out["note"] == f"user pasted {REDACTED} here"
    assert out["nested"] == [{"api_key": REDACTED}, "plain"]
    assert (out["jti"], out["kid"], out["token_type"], out["count"]) == (
        "keep-me",
        "key-1",
        "Bearer",
        3,
    )
    assert data["password"] == "hunter2"  # the input is left intact


def test_scrub_bounds_depth() -> None:
    """A pathological nesting ends in a redaction, not a RecursionError."""
    deep: dict[str, object] = {}
    node = deep
    for _ in range(50):
        node["x"] = {}
        node = node["x"]  # type: ignore[assignment]
    assert REDACTED in json.dumps(scrub(deep))


def Ev() -> AuthEvent:
    """A password change whose detail (wrongly) holds the passwords: they must be scrubbed."""
    return AuthEvent(
        type=EventType.PASSWORD_CHANGED,
        outcome="success",
        user_id="42",
        username="john",
        ip="192.0.2.1",
        user_agent="curl/8",
        detail={"old_password": "a", "new_password": "b", "sessions_ended": 2},
        at=1_700_000_000.5,
    )


def test_event_record_has_who_when_where_and_outcome() -> None:
    """One line says what happened, to whom, from where, when, and how it ended."""
    record = event_record(Ev())
    assert record == {
        "log": "audit",
        "event": "password_changed",
        "outcome": "success",
        "at": "2023-11-14T22:13:20.500000Z",
        "user_id": "42",
        "username": "john",
        "ip": "192.0.2.1",
        "user_agent": "curl/8",
        "detail": {"old_password": REDACTED, "new_password": REDACTED, "sessions_ended": 2},
    }


def test_audit_logger_writes_one_json_line(caplog: pytest.LogCaptureFixture) -> None:
    """The jotauth.audit logger receives parseable JSON, reuse at WARNING."""
    caplog.set_level(logging.INFO, logger="jotauth.audit")
    AuditLogger()(Ev())
    line = caplog.records[-1]
    assert line.name == "jotauth.audit"
    assert json.loads(line.getMessage())["event"] == "password_changed"

    AuditLogger()(dataclasses.replace(Ev(), type=EventType.REFRESH_REUSE_DETECTED))
    assert caplog.records[-1].levelno == logging.WARNING


@pytest.mark.anyio
async def test_no_secret_reaches_any_log_in_a_full_flow(
    caplog: pytest.LogCaptureFixture,
    make_app: Callable[..., FastAPI],
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    """Log in, fail, refresh, use cookies and log out, then search every log line for secrets."""
    caplog.set_level(logging.DEBUG)
    app = make_app(cookie_mode="on", alert_burst_account="1 per minute", metrics_token="m-tok")
    secrets_seen: list[str] = ["password123", "wrong-pass-xyz", "m-tok"]
    async with make_client(app) as c:
        pair = (await c.post("/login", json={"username": "john", "password": "password123"})).json()
        secrets_seen += [pair["access_token"], pair["refresh_token"]]
        for _ in range(3):
            await c.post("/login", json={"username": "john", "password": "wrong-pass-xyz"})
        fresh = (await c.post("/refresh", json={"refresh_token": pair["refresh_token"]})).json()
        secrets_seen += [fresh["access_token"], fresh["refresh_token"]]
        r = await c.post(
            "/login",
            json={"username": "john", "password": "password123"},
            headers={"X-Token-Delivery": "cookie"},
        )
        secrets_seen += [r.json()["csrf_token"], c.cookies["__Host-access_token"]]
        await c.post("/logout", headers={"X-CSRF-Token": "bad"})
        await c.post("/logout", headers={"X-CSRF-Token": r.json()["csrf_token"]})
        await c.get("/metrics", headers={"Authorization": "Bearer m-tok"})
    text = "\n".join(f"{rec.getMessage()} {rec.__dict__}" for rec in caplog.records)
    assert "login_failed" in text  # the flow really was logged
    for secret in secrets_seen:
        assert secret not in text


def test_audit_lines_are_printed_when_nothing_configured_logging(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no handler anywhere (jotauth serve), a stderr handler is attached, once."""
    from jotauth.issuer.observability.audit_log import LOGGER_NAME, ensure_audit_handler

    logger = logging.getLogger(LOGGER_NAME)
    monkeypatch.setattr(logging.root, "handlers", [])
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logger, "level", logging.NOTSET)
    ensure_audit_handler()
    ensure_audit_handler()
    assert len(logger.handlers) == 1
    AuditLogger()(Ev())
    line = capsys.readouterr().err.strip()
    assert json.loads(line)["event"] == "password_changed"


def test_a_misspelt_event_type_is_refused_at_the_emitter() -> None:
    """Events are typed: a type outside EventType fails where it is made, instead of
    passing unnoticed by every subscriber that compares types."""
    with pytest.raises(ValueError, match="login_faild"):
        AuthEvent("login_faild", "failure", None, None, None, None)  # type: ignore[arg-type]
    assert AuthEvent("login_failed", "failure", None, None, None, None).type is (  # type: ignore[arg-type]
        EventType.LOGIN_FAILED
    )
