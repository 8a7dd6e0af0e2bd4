"""The token endpoints' DPoP replay check across instances (Redis) and when it cannot answer.

Two ``DPoPChecks`` on one Redis are two issuer instances behind a load balancer: a proof
accepted by one is a replay at the other. A Redis that cannot be reached fails closed: the
proof is refused with a retryable 503, never accepted unchecked.
"""

import time
import uuid
from collections.abc import Iterator

import pytest

from jotauth import jose
from jotauth.guard.dpop_replay import RedisReplayCache
from jotauth.issuer.errors import InvalidDPoPProofError
from jotauth.issuer.services.dpop import DPoPChecks, ReplayUnavailableError
from jotauth.jose.dpop import make_proof

pytestmark = pytest.mark.anyio

ISSUER = "https://auth.example"


@pytest.fixture
def shared(redis_url: str) -> Iterator[tuple[DPoPChecks, DPoPChecks]]:
    prefix = f"test:dpop:{uuid.uuid4().hex}:"
    caches = [RedisReplayCache(redis_url, prefix=prefix) for _ in range(2)]
    yield (
        DPoPChecks(ISSUER, replays=caches[0], nonces=None, clock=time.time),
        DPoPChecks(ISSUER, replays=caches[1], nonces=None, clock=time.time),
    )
    for cache in caches:
        cache.close()


async def test_a_proof_used_at_one_instance_is_a_replay_at_another(
    shared: tuple[DPoPChecks, DPoPChecks],
) -> None:
    """SET NX in the shared Redis decides: the second instance refuses the same proof."""
    first, second = shared
    key = jose.Key.generate("ES256")
    proof = make_proof(key, "POST", ISSUER + "/oauth/token")
    assert await _spent(first, proof, "/oauth/token") == key.public().thumbprint()
    with pytest.raises(InvalidDPoPProofError, match="used before"):
        await _spent(second, proof, "/oauth/token")
    fresh = make_proof(key, "POST", ISSUER + "/oauth/token")
    assert await _spent(second, fresh, "/oauth/token") == key.public().thumbprint()


async def _spent(checks: DPoPChecks, proof: str, path: str) -> str:
    """The proof verified, then spent (its replay check), as a use case does; its jkt."""
    verified = checks.proof_of([proof], path=path)
    assert verified is not None
    await verified.spend()
    return verified.jkt


async def test_an_unreachable_replay_cache_refuses_with_503() -> None:
    """Fail closed: a retryable temporarily_unavailable, not an unchecked proof."""
    cache = RedisReplayCache("redis://127.0.0.1:1/0", timeout=0.2)
    checks = DPoPChecks(ISSUER, replays=cache, nonces=None, clock=time.time)
    proof = make_proof(jose.Key.generate("ES256"), "POST", ISSUER + "/login")
    with pytest.raises(ReplayUnavailableError) as raised:
        await _spent(checks, proof, "/login")
    assert (raised.value.status, raised.value.code) == (503, "temporarily_unavailable")
    cache.close()
