"""Guard.authenticate: verification, the cache, revocation checks and principals."""

from typing import Any

import pytest

from jotauth import jose
from jotauth.guard import (
    Guard,
    InsufficientScopeError,
    InvalidRequestError,
    MissingTokenError,
    RevokedTokenError,
    StaticKeySource,
)
from jotauth.guard.testing import LocalIssuer, ManualClock as Clock, make_token

NOW = 1_900_000_000

pytestmark = pytest.mark.anyio


def test_authenticate_sync_returns_principal(issuer: LocalIssuer, clock: Clock) -> None:
    """A valid token yields the principal with sub, scopes, roles and permissions."""
    guard = issuer.guard(clock=clock)
    token = issuer.make_token(
        sub="42",
        now=NOW,
        scope="articles:read comments:*",
        roles=["editor"],
        permissions={"articles": ["read", "create"]},
        preferred_username="john",
    )
    principal = guard.authenticate_sync(token)
    assert principal.sub == "42"
    assert principal.scopes == {"articles:read", "comments:*"}
    assert principal.roles == {"editor"}
    assert principal.permissions == {"articles": frozenset({"read", "create"})}
    assert principal.username == "john"
    assert principal.can("articles", "read")
    assert not principal.can("articles", "create")  # the scope caps the permissions...
    assert not principal.can("comments", "delete")  # ...and the permissions cap the scope
    assert not principal.can("users", "read")


async def test_authenticate_async(issuer: LocalIssuer, clock: Clock) -> None:
    """The async twin verifies the same way."""
    guard = issuer.guard(clock=clock)
    principal = await guard.authenticate(issuer.make_token(sub="7", now=NOW))
    assert principal.sub == "7"


def test_rejects_token_signed_by_unknown_key(
    issuer: LocalIssuer, other_key: jose.Key, clock: Clock
) -> None:
    """A token from another key fails with no_matching_key, even when cached keys are reloaded."""
    guard = issuer.guard(clock=clock)
    token = make_token(other_key, issuer=issuer.issuer, audience="articles", now=NOW)
    with pytest.raises(jose.NoMatchingKeyError):
        guard.authenticate_sync(token)


def test_rejects_forged_signature(issuer: LocalIssuer, other_key: jose.Key, clock: Clock) -> None:
    """A token claiming our kid but signed by another key is a bad signature."""
    guard = issuer.guard(clock=clock)
    token = make_token(
        other_key,
        issuer=issuer.issuer,
        audience="articles",
        now=NOW,
        headers={"kid": issuer.key.kid},
    )
    with pytest.raises(jose.BadSignatureError):
        guard.authenticate_sync(token)


def test_rejects_wrong_audience_and_issuer(issuer: LocalIssuer, clock: Clock) -> None:
    """A token for another service or from another issuer is refused, naming the claim."""
    guard = issuer.guard(clock=clock)
    with pytest.raises(jose.InvalidClaimError) as info:
        guard.authenticate_sync(issuer.make_token(audience="billing", now=NOW))
    assert info.value.claim == "aud"
    with pytest.raises(jose.InvalidClaimError) as info:
        guard.authenticate_sync(issuer.make_token(issuer="https://evil.test", now=NOW))
    assert info.value.claim == "iss"


def test_requires_access_token_typ(issuer: LocalIssuer, clock: Clock) -> None:
    """An ID token (typ JWT) cannot pass as an access token."""
    guard = issuer.guard(clock=clock)
    with pytest.raises(jose.InvalidClaimError) as info:
        guard.authenticate_sync(issuer.make_token(typ="JWT", now=NOW))
    assert info.value.claim == "typ"
    assert guard.authenticate_sync(issuer.make_token(typ="application/at+jwt", now=NOW))


def test_leeway_default_is_30_seconds(issuer: LocalIssuer, clock: Clock) -> None:
    """A token expired 20 s ago passes (clock skew); 40 s ago it is expired, saying when."""
    guard = issuer.guard(clock=clock)
    token = issuer.make_token(now=NOW - 900 - 20, expires_in=900)
    assert guard.authenticate_sync(token)
    stale = issuer.make_token(now=NOW - 900 - 40, expires_in=900)
    with pytest.raises(jose.ExpiredTokenError) as info:
        guard.authenticate_sync(stale)
    assert info.value.expired_at == NOW - 40
    assert "expired at" in str(info.value)


def test_cache_hit_skips_signature_but_rechecks_exp(issuer: LocalIssuer, clock: Clock) -> None:
    """A repeated token is served from the cache until it expires; then it is refused."""
    guard = issuer.guard(clock=clock)
    token = issuer.make_token(now=NOW, expires_in=60)
    first = guard.authenticate_sync(token)
    assert guard.authenticate_sync(token) is first
    assert guard.cache.hits == 1
    clock.now = NOW + 60 + 30
    with pytest.raises(jose.ExpiredTokenError):
        guard.authenticate_sync(token)
    assert len(guard.cache) == 0


def test_cache_is_keyed_by_exact_token(issuer: LocalIssuer, clock: Clock) -> None:
    """A token differing in one signature character is verified, not served from the cache."""
    guard = issuer.guard(clock=clock)
    token = issuer.make_token(now=NOW)
    guard.authenticate_sync(token)
    head, _, signature = token.rpartition(".")
    tampered = head + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(jose.BadSignatureError):
        guard.authenticate_sync(tampered)


def test_cache_is_bounded(issuer: LocalIssuer, clock: Clock) -> None:
    """The cache never grows past its size; zero disables it."""
    guard = issuer.guard(clock=clock, cache_size=10)
    for n in range(25):
        guard.authenticate_sync(issuer.make_token(sub=str(n), now=NOW))
    assert len(guard.cache) <= 10
    off = issuer.guard(clock=clock, cache_size=0)
    token = issuer.make_token(now=NOW)
    off.authenticate_sync(token)
    off.authenticate_sync(token)
    assert len(off.cache) == 0


@pytest.mark.parametrize("hit_cache_first", [False, True])
def test_revocations_apply_on_every_check(
    issuer: LocalIssuer, clock: Clock, hit_cache_first: bool
) -> None:
    """Revoked jti, user not-before and revoked kid refuse the token, cached or not."""
    guard = issuer.guard(clock=clock)
    by_jti = issuer.make_token(sub="1", jti="j-1", now=NOW)
    by_user = issuer.make_token(sub="2", now=NOW - 10)
    later = issuer.make_token(sub="2", now=NOW)
    if hit_cache_first:
        for token in (by_jti, by_user, later):
            guard.authenticate_sync(token)
    guard.revocations.apply(
        [
            {"type": "token", "jti": "j-1", "exp": NOW + 900},
            {"type": "user", "sub": "2", "not_before": NOW - 5},
        ]
    )
    with pytest.raises(RevokedTokenError) as info:
        guard.authenticate_sync(by_jti)
    assert info.value.reason == "token"
    with pytest.raises(RevokedTokenError) as info:
        guard.authenticate_sync(by_user)
    assert info.value.reason == "user"
    assert guard.authenticate_sync(later).sub == "2"
    guard.revocations.apply([{"type": "key", "kid": issuer.key.kid}])
    with pytest.raises(RevokedTokenError) as info:
        guard.authenticate_sync(later)
    assert info.value.reason == "key"


def _token_with(issuer: LocalIssuer, **changes: Any) -> str:
    """A token from ``issuer`` with claims replaced (``None`` removes one)."""
    base = jose.peek_claims(issuer.make_token(now=NOW))
    claims = {k: v for k, v in {**base, **changes}.items() if v is not None}
    return jose.encode(claims, issuer.key, headers={"typ": "at+jwt"})


def test_scp_space_separated_string_accepted(issuer: LocalIssuer, clock: Clock) -> None:
    """Entra ID's ``scp: "User.Read articles:read"`` authenticates and grants what it lists."""
    guard = issuer.guard(clock=clock)
    token = _token_with(issuer, scope=None, scp="User.Read articles:read")
    principal = guard.authenticate_sync(token)
    assert principal.scopes == {"User.Read", "articles:read"}
    guard.authorize(principal, [])
    guard.authorize(principal, ["User.Read", "articles:read"])
    with pytest.raises(InsufficientScopeError):
        guard.authorize(principal, ["articles:delete"])


@pytest.mark.parametrize(
    ("changes", "granted", "role"),
    [
        ({"scope": ["articles:read", "openid"]}, ["articles:read", "openid"], None),
        ({"scope": None, "scp": ["articles:read"]}, ["articles:read"], None),  # Okta
        ({"scope": None, "scp": "articles:read openid"}, ["articles:read", "openid"], None),
        ({"roles": "editor"}, ["articles:update"], "editor"),
        ({"roles": ["editor", "reader"]}, ["articles:update"], "reader"),
        ({"permissions": {"articles": ["read"]}}, ["articles:read"], None),
        ({"permissions": ["read:messages", "articles:read"]}, ["read:messages"], None),  # Auth0
    ],
    ids=[
        "scope-array",
        "scp-array-okta",
        "scp-string-entra",
        "roles-string",
        "roles-array",
        "permissions-object",
        "permissions-names-auth0",
    ],
)
def test_every_known_shape_of_the_grant_claims_grants(
    issuer: LocalIssuer, clock: Clock, changes: dict[str, Any], granted: list[str], role: Any
) -> None:
    """scope/scp as a string or an array, roles as a string or an array, both permission forms."""
    guard = issuer.guard(clock=clock, roles={"editor": ["articles:update"]})
    principal = guard.authenticate_sync(_token_with(issuer, **changes))
    guard.authorize(principal, granted)
    assert role is None or principal.has_role(role)


@pytest.mark.parametrize(
    ("claim", "changes"),
    [
        ("scope", {"scope": 7}),
        ("scope", {"scope": ["articles:read", 1]}),
        ("scp", {"scope": None, "scp": {"articles": "read"}}),
        ("roles", {"roles": ["admin", 1]}),
        ("roles", {"roles": {"realm": ["admin"]}}),
        ("permissions", {"permissions": "articles:read"}),
        ("permissions", {"permissions": {"articles": ["read", 3]}}),
        ("permissions", {"permissions": {"": ["read"]}}),
    ],
    ids=[
        "scope-number",
        "scope-mixed-array",
        "scp-object",
        "roles-mixed-array",
        "roles-object",
        "permissions-string",
        "permissions-bad-action",
        "permissions-empty-name",
    ],
)
def test_unreadable_grant_claim_refuses_only_routes_that_use_it(
    issuer: LocalIssuer, clock: Clock, claim: str, changes: dict[str, Any]
) -> None:
    """An optional claim of an unknown shape does not refuse the token; using it is a 401."""
    guard = issuer.guard(clock=clock)
    principal = guard.authenticate_sync(_token_with(issuer, **changes))
    assert principal.sub == "user-1"
    guard.authorize(principal, [])  # a route that needs nothing of the grants
    with pytest.raises(jose.InvalidClaimError) as info:
        guard.authorize(principal, ["articles:read"])
    assert info.value.claim == claim
    assert guard.stats()["rejected"] == {"invalid_claim": 1}
    with pytest.raises(jose.InvalidClaimError):
        principal.can("articles", "read")  # never a silent "granted nothing"
    if claim != "roles":
        assert not principal.has_role("admin")
    else:
        with pytest.raises(jose.InvalidClaimError):
            principal.has_role("admin")


def test_role_grants(issuer: LocalIssuer, clock: Clock) -> None:
    """The roles table maps a token's roles to grants."""
    guard = issuer.guard(clock=clock, roles={"admin": ["*"], "moderator": ["comments:delete"]})
    moderator = guard.authenticate_sync(issuer.make_token(roles=["moderator"], now=NOW))
    assert moderator.can("comments", "delete")
    assert not moderator.can("articles", "delete")
    admin = guard.authenticate_sync(issuer.make_token(roles=["admin"], now=NOW))
    assert admin.can("billing", "refund")


def test_hmac_guard(clock: Clock) -> None:
    """A shared HS256 secret works as a static key; a wrong secret is a bad signature."""
    secret = jose.Key.from_secret(b"k" * 32, kid="hs")
    guard = Guard(keys=secret, issuer="https://auth.test", audience="api", clock=clock)
    assert guard.authenticate_sync(make_token(secret, issuer="https://auth.test", now=NOW))
    wrong = jose.Key.from_secret(b"w" * 32, kid="hs")
    with pytest.raises(jose.BadSignatureError):
        guard.authenticate_sync(make_token(wrong, issuer="https://auth.test", now=NOW))


def test_algorithm_allowlist(issuer: LocalIssuer, clock: Clock) -> None:
    """With algorithms=["ES256"], an EdDSA token is refused."""
    guard = issuer.guard(clock=clock, algorithms=["ES256"])
    with pytest.raises(jose.AlgorithmNotAllowedError):
        guard.authenticate_sync(issuer.make_token(now=NOW))


def test_construction_errors(issuer: LocalIssuer) -> None:
    """Bad configuration fails when the guard is built, not on the first request."""
    with pytest.raises(ValueError, match="needs keys"):
        Guard(audience="api")
    with pytest.raises(ValueError, match="only one"):
        Guard(keys=issuer.key, jwks_url="https://x.test/jwks")
    with pytest.raises(ValueError, match="leeway"):
        Guard(keys=issuer.key, leeway=-1)
    with pytest.raises(jose.UnsupportedAlgorithmError):
        Guard(keys=issuer.key, algorithms=["none"])
    with pytest.raises(ValueError, match="at least one key"):
        StaticKeySource([])


def test_private_keys_are_reduced_to_public(issuer: LocalIssuer) -> None:
    """A guard given a private key keeps only its public half."""
    source = StaticKeySource(issuer.key)
    assert not next(iter(source.keys)).is_private


def test_cache_size_must_not_be_negative(issuer: LocalIssuer) -> None:
    """A negative cache size is a configuration error."""
    with pytest.raises(ValueError, match="cache_size"):
        issuer.guard(cache_size=-1)


def test_cached_token_rechecks_nbf_when_clock_goes_back(issuer: LocalIssuer, clock: Clock) -> None:
    """If the clock steps back before a cached token's nbf, the hit is refused too."""
    guard = issuer.guard(clock=clock, leeway=0)
    token = issuer.make_token(now=NOW, nbf=NOW)
    guard.authenticate_sync(token)
    clock.now = NOW - 100
    with pytest.raises(jose.ImmatureTokenError):
        guard.authenticate_sync(token)


def test_stats_count_outcomes(issuer: LocalIssuer, clock: Clock) -> None:
    """stats() counts verifications, cache use and refusals by error code."""
    guard = issuer.guard(clock=clock)
    token = issuer.make_token(now=NOW, scope="articles:read")
    principal = guard.authenticate_sync(token)
    guard.authenticate_sync(token)
    with pytest.raises(jose.MalformedTokenError):
        guard.authenticate_sync("x.y")
    with pytest.raises(InsufficientScopeError):
        guard.authorize(principal, ["articles:delete"])
    with pytest.raises(MissingTokenError):
        guard.extract([])
    stats = guard.stats()
    assert (stats["verified"], stats["cache_hits"], stats["cache_entries"]) == (1, 1, 1)
    assert stats["rejected"] == {
        "malformed_token": 1,
        "insufficient_scope": 1,
        "missing_token": 1,
    }
    assert stats["jwks_fetches"] == 0


@pytest.mark.anyio
async def test_async_stats(issuer: LocalIssuer, clock: Clock) -> None:
    """The async path counts refusals too."""
    guard = issuer.guard(clock=clock)
    with pytest.raises(jose.ExpiredTokenError):
        await guard.authenticate(issuer.make_token(now=NOW - 3600))
    assert guard.stats()["rejected"] == {"expired_token": 1}


class _ClearedBetweenCheckAndRead(dict[str, str | None]):
    """A kid memo that another thread empties right after a membership test says yes."""

    def __contains__(self, key: object) -> bool:
        found = super().__contains__(key)
        self.clear()
        return found


def test_kid_memo_cleared_by_another_thread_is_not_a_500(issuer: LocalIssuer, clock: Clock) -> None:
    """The kid memo is read once: a clear between "in" and "[]" would raise KeyError (a 500)."""
    guard = issuer.guard(clock=clock)
    first = issuer.make_token(sub="1", now=NOW)
    guard.authenticate_sync(first)
    memo = _ClearedBetweenCheckAndRead(guard._kids)
    guard._kids = memo
    second = issuer.make_token(sub="2", now=NOW)  # same header segment: a memo hit
    assert guard.authenticate_sync(second).sub == "2"


@pytest.mark.parametrize(
    "header", ["Bearer {t}", "bearer {t}", "BEARER {t}", "Bearer  {t}", " Bearer {t} "]
)
def test_cached_token_extracts_like_any_other(
    header: str, issuer: LocalIssuer, clock: Clock
) -> None:
    """The shortcut for a cached token gives what the full header parse gives."""
    from jotauth.guard.credentials import extract_token

    guard = issuer.guard(clock=clock)
    token = issuer.make_token(sub="1", now=NOW)
    guard.authenticate_sync(token)
    value = header.format(t=token)
    assert guard.extract([value]) == extract_token([value], None, "GET", None, None) == token


def test_cached_token_still_obeys_the_header_rules(issuer: LocalIssuer, clock: Clock) -> None:
    """A cached token does not excuse two Authorization headers or another scheme."""
    guard = issuer.guard(clock=clock)
    token = issuer.make_token(sub="1", now=NOW)
    guard.authenticate_sync(token)
    with pytest.raises(InvalidRequestError):
        guard.extract([f"Bearer {token}", f"Bearer {token}"])
    with pytest.raises(MissingTokenError):
        guard.extract([f"Basic {token}"])
    with pytest.raises(InvalidRequestError):
        guard.extract([f"Bearer {token} extra"])


def test_cached_token_is_still_rechecked(issuer: LocalIssuer, clock: Clock) -> None:
    """Found in the cache by the extraction shortcut, an expired token is still refused."""
    guard = issuer.guard(clock=clock)
    token = issuer.make_token(sub="1", now=NOW, expires_in=60)
    guard.authenticate_sync(token)
    clock.advance(120)
    with pytest.raises(jose.ExpiredTokenError):
        guard.authenticate_sync(guard.extract([f"Bearer {token}"]))


def test_authorize_decides_plain_scopes_and_grants_alike(issuer: LocalIssuer, clock: Clock) -> None:
    """Listed scopes pass at once; wildcards and permissions still count; a gap is a 403."""
    guard = issuer.guard(clock=clock)
    token = issuer.make_token(
        sub="1",
        now=NOW,
        scope="articles:read comments:*",
        permissions={"articles": ["read"], "comments": ["*"], "users": ["read"]},
    )
    principal = guard.authenticate_sync(token)
    guard.authorize(principal, ("articles:read",))
    guard.authorize(principal, ("articles:read", "comments:delete"))
    with pytest.raises(InsufficientScopeError) as info:
        guard.authorize(principal, ("articles:read", "articles:delete"))
    assert "articles:delete" in str(info.value)
    with pytest.raises(InsufficientScopeError):
        guard.authorize(principal, ("users:read",))  # permitted, but outside the scope


def test_a_narrowed_scope_does_not_pass_a_route_needing_more(
    issuer: LocalIssuer, clock: Clock
) -> None:
    """john's scope=articles:read token still carrying {"articles": ["create", "read"]} passed a
    route requiring articles:create; the guard now grants the intersection."""
    guard = issuer.guard(clock=clock, roles={"admin": ["*"]})
    john = guard.authenticate_sync(
        issuer.make_token(
            sub="1", now=NOW, scope="articles:read",
            roles=["user"], permissions={"articles": ["create", "read"]},
        )
    )  # fmt: skip
    guard.authorize(john, ("articles:read",))
    with pytest.raises(InsufficientScopeError):
        guard.authorize(john, ("articles:create",))
    admin = guard.authenticate_sync(
        issuer.make_token(
            sub="2", now=NOW, scope="audit:read",
            roles=["admin"], permissions={"admin": ["*"], "audit": ["read"]},
        )
    )  # fmt: skip
    guard.authorize(admin, ("audit:read",))
    for requirement in ("admin:read", "admin:write", "billing:refund"):
        with pytest.raises(InsufficientScopeError):
            guard.authorize(admin, (requirement,))
    assert not admin.can("admin", "read")
    assert admin.has_role("admin")  # the role is listed; it grants nothing past the scope


def test_foreign_jwt_typ_refusal_names_the_option_that_accepts_it(
    issuer: LocalIssuer, clock: Clock
) -> None:
    """Auth0/Keycloak ``typ: JWT`` tokens: the 401 says Guard(typ="JWT") or typ=None takes them."""
    strict = issuer.guard(clock=clock)
    token = issuer.make_token(typ="JWT", now=NOW)
    with pytest.raises(jose.InvalidClaimError) as info:
        strict.authenticate_sync(token)
    message = str(info.value)
    assert 'Guard(typ="JWT")' in message
    assert "typ=None" in message
    assert "jotauth's own tokens" in message
    for typ in ("JWT", None):
        assert issuer.guard(clock=clock, typ=typ).authenticate_sync(token).sub == "user-1"
    bare = jose.encode(jose.peek_claims(token), issuer.key, headers={"typ": None})
    with pytest.raises(jose.InvalidClaimError, match=r"Guard\(typ=None\)"):
        strict.authenticate_sync(bare)  # Cognito's tokens carry no typ
    assert issuer.guard(clock=clock, typ=None).authenticate_sync(bare).sub == "user-1"
    id_token = issuer.make_token(typ="id_token+jwt", now=NOW)
    with pytest.raises(jose.InvalidClaimError, match="another kind of JWT") as other:
        strict.authenticate_sync(id_token)
    assert "typ=None" not in str(other.value)  # no advice to switch the check off for ID tokens
