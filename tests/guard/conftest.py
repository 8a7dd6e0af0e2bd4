"""Keys and issuers shared by the guard tests: made once per session (key generation is slow)."""

import pytest

from jotauth import jose
from jotauth.guard.testing import LocalIssuer, ManualClock

NOW = 1_900_000_000


@pytest.fixture(scope="session")
def ed_key() -> jose.Key:
    """An Ed25519 signing key."""
    return jose.Key.generate("EdDSA")


@pytest.fixture(scope="session")
def other_key() -> jose.Key:
    """A second Ed25519 key, unknown to the guards under test."""
    return jose.Key.generate("EdDSA")


@pytest.fixture
def issuer(ed_key: jose.Key) -> LocalIssuer:
    """A local issuer signing with ``ed_key``."""
    return LocalIssuer(key=ed_key, issuer="https://auth.test", audience="articles")


@pytest.fixture
def clock() -> ManualClock:
    """A clock at NOW that tests move by hand."""
    return ManualClock(NOW)
