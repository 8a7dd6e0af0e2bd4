"""The peer of issue 17's refresh goal: flask-jwt-extended with a hand-written denylist.

What a Flask team writes by following flask-jwt-extended's documentation ("JWT Revoking /
Blocklist", database-backed): refresh tokens are JWTs (HS256, its default), ``POST /refresh``
reads the refresh token from the JSON body, checks its ``jti`` against a denylist table in the
same database jotauth uses (SQLAlchemy Core, one statement), denylists it (rotation, so a
replayed refresh token is refused) and answers a new access and refresh token. ``POST /login``
checks nothing (the bench measures refresh) and hands out the first pair.

It does less than jotauth's refresh — no session family or reuse detection, no audit row, no
metrics or brute-force limits, a symmetric signature — so it is a generous peer. Served by
``bench/issuer_http.py --peer flask-jwt-extended`` with gunicorn, one worker, one thread per
connection (``gthread``), on 127.0.0.1. Settings from the environment: ``PEER_DATABASE_URL``,
``PEER_SECRET``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, jsonify
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    create_refresh_token,
    get_jwt,
    get_jwt_identity,
    jwt_required,
)

metadata = sa.MetaData()
denylist = sa.Table(
    "peer_denylist",
    metadata,
    sa.Column("jti", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)

engine = sa.create_engine(os.environ["PEER_DATABASE_URL"], pool_size=20, pool_pre_ping=False)
metadata.create_all(engine)

app = Flask(__name__)
app.config.update(
    JWT_SECRET_KEY=os.environ["PEER_SECRET"],
    JWT_TOKEN_LOCATION=["json"],
    JWT_REFRESH_JSON_KEY="refresh_token",
    JWT_ACCESS_TOKEN_EXPIRES=timedelta(minutes=15),
    JWT_REFRESH_TOKEN_EXPIRES=timedelta(days=7),
)
jwt = JWTManager(app)


@jwt.token_in_blocklist_loader
def denied(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
    with engine.connect() as conn:
        found = conn.execute(sa.select(denylist.c.jti).where(denylist.c.jti == payload["jti"]))
        return found.first() is not None


def pair(identity: str) -> dict[str, Any]:
    return {
        "access_token": create_access_token(identity=identity),
        "refresh_token": create_refresh_token(identity=identity),
        "token_type": "Bearer",
        "expires_in": 900,
    }


@app.post("/login")
def login() -> Any:
    return jsonify(pair("bench"))


@app.post("/refresh")
@jwt_required(refresh=True)
def refresh() -> Any:
    with engine.begin() as conn:
        conn.execute(denylist.insert().values(jti=get_jwt()["jti"]))
    return jsonify(pair(get_jwt_identity()))


@app.get("/.well-known/jwks.json")
def ready() -> Any:
    return jsonify({"keys": []})
