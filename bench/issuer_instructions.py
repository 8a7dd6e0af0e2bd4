"""CPU work of one login plus one refresh through the whole app, for callgrind.

Why: wall-clock rates of ``bench/issuer.py`` swing by 2x on the shared machine; an instruction
count does not. Run it twice under callgrind, with N requests and with none, and divide the
difference by N: the instructions of one ``POST /login`` plus one ``POST /refresh`` (FastAPI,
middleware, body decoding and validation, the service, SQLite, Argon2id at its cheapest):

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python bench/issuer_instructions.py 200   # then again with 0

Compare two versions by running both from their own checkouts (``PYTHONPATH=<tree>/src``).
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile

os.environ["JOTAUTH_RATELIMIT_ENABLED"] = "false"
os.environ["JOTAUTH_AUDIT_LOG"] = "false"
os.environ["JOTAUTH_METRICS_ENABLED"] = "false"

import anyio
import httpx

from jotauth.issuer.app import create_app
from jotauth.issuer.settings import Settings


async def main(count: int) -> None:
    folder = tempfile.mkdtemp()
    settings = Settings(
        database_url=f"sqlite:///{folder}/bench.db",
        master_key=secrets.token_bytes(32),
        argon2_time_cost=1,
        argon2_memory_cost=64,
        argon2_parallelism=1,
    )
    app = create_app(settings)
    await app.state.auth.create_user("john", "password123")
    transport = httpx.ASGITransport(app=app)
    credentials = {"username": "john", "password": "password123"}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(20):  # warm-up, in both runs: it cancels out of the difference
            answer = await client.post("/login", json=credentials)
        for _ in range(count):
            answer = await client.post("/login", json=credentials)
            assert answer.status_code == 200, answer.text
        token = answer.json()["refresh_token"]
        for _ in range(count):
            answer = await client.post("/refresh", json={"refresh_token": token})
            assert answer.status_code == 200, answer.text
            token = answer.json()["refresh_token"]
    app.state.store.close()


if __name__ == "__main__":
    anyio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 200)
