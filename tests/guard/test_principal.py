"""The permission model: scopes, wildcards, hierarchical permissions and roles."""

import pytest

from jotauth import jose
from jotauth.guard.principal import Principal, ShapeMemo, build_principal, parse_requirement


def principal(**claims: object):
    return build_principal({"sub": "u1", **claims}, {"admin": ["*"], "editor": ["articles:*"]})


def test_scope_strings_grant_resource_actions() -> None:
    """'articles:read' grants exactly read on articles."""
    p = principal(scope="articles:read openid")
    assert p.can("articles", "read")
    assert not p.can("articles", "create")
    assert not p.can("comments", "read")
    assert p.has_scope("openid")
    assert not p.has_scope("profile")


def test_wildcards() -> None:
    """'articles:*' grants any action on articles; '*' grants everything."""
    p = principal(scope="articles:*")
    assert p.can("articles", "delete")
    assert not p.can("comments", "read")
    assert principal(scope="*").can("anything", "at-all")


def test_permissions_object_from_the_tutorial() -> None:
    """The tutorial's permissions object grants per resource."""
    p = principal(permissions={"articles": ["read", "create"], "users": ["read"]})
    assert p.can("articles", "create")
    assert p.can("users", "read")
    assert not p.can("users", "delete")
    assert p.has_scope("articles:create")
    assert not p.has_scope("articles:delete")


def test_hierarchical_permissions() -> None:
    """Nested objects name sub-resources; a parent's grant covers its children, not the reverse."""
    p = principal(permissions={"projects": {"*": ["read"], "billing": ["update"]}})
    assert p.can("projects", "read")
    assert p.can("projects.billing", "read")
    assert p.can("projects.billing", "update")
    assert not p.can("projects", "update")
    assert not p.can("projects.members", "update")
    assert principal(scope="projects:*").can("projects.billing.invoices", "delete")


def test_scope_is_the_ceiling_of_permissions_and_roles() -> None:
    """With a scope claim the grant is the intersection: scope and (permissions or roles)."""
    narrowed = principal(scope="articles:read", permissions={"articles": ["read", "create"]})
    assert narrowed.can("articles", "read")
    assert not narrowed.can("articles", "create")
    assert not narrowed.has_scope("articles:create")
    assert narrowed.granted_scopes == {"articles:read"}
    admin = principal(scope="audit:read", roles=["admin"])
    assert admin.can("audit", "read")
    assert not admin.can("users", "delete")
    unbacked = principal(scope="articles:read comments:read", permissions={"articles": ["*"]})
    assert unbacked.granted_scopes == {"articles:read"}
    assert not unbacked.has_scope("comments:read")
    scope_only = principal(scope="articles:read openid", roles=["unmapped"])
    assert scope_only.can("articles", "read")  # nothing else claimed: the scope decides
    assert scope_only.has_scope("openid")
    no_scope = principal(scope="", permissions={"articles": ["read"]})
    assert no_scope.can("articles", "read")  # an empty scope is no ceiling


def test_roles_map_to_grants() -> None:
    """Roles grant what the guard's roles table says, and only listed roles count."""
    editor = principal(roles=["editor"])
    assert editor.has_role("editor")
    assert editor.can("articles", "publish")
    assert not editor.can("users", "read")
    assert principal(roles=["admin"]).can("users", "delete")
    assert not principal(roles=["unknown"]).can("articles", "read")


def test_scp_list_and_missing_claims() -> None:
    """An OIDC-style scp list counts as scopes; a token without grants can do nothing."""
    assert principal(scp=["articles:read"]).can("articles", "read")
    empty = principal()
    assert empty.scopes == frozenset()
    assert not empty.can("articles", "read")
    assert empty.missing(["articles:read", "openid"]) == ["articles:read", "openid"]


def test_principal_properties() -> None:
    """Convenience properties read the RFC 9068 claims and ignore wrong types."""
    p = principal(preferred_username="john", client_id="web", jti="j1", exp=123)
    assert (p.username, p.client_id, p.jti, p.expires_at) == ("john", "web", "j1", 123)
    q = principal(preferred_username=5, exp="soon")
    assert q.username is None
    assert q.expires_at is None
    assert "u1" in repr(p)


def test_parse_requirement() -> None:
    """Requirements are 'resource:action' or a plain scope; half-empty ones are an error."""
    assert parse_requirement("articles:read") == ("articles", "read")
    assert parse_requirement("a.b:c") == ("a.b", "c")
    assert parse_requirement("openid") is None
    for bad in (":read", "articles:"):
        with pytest.raises(ValueError, match="resource:action"):
            parse_requirement(bad)


def test_roles_claim_as_single_string() -> None:
    """A single role string is accepted as one role."""
    assert principal(roles="admin").has_role("admin")


def test_invalid_permissions_raise_claim_error_when_used() -> None:
    """A permissions value that is neither a list nor an object is a claim error once used."""
    unreadable = principal(permissions={"articles": "read"}, scope="openid articles:read")
    assert unreadable.has_scope("openid")  # a literal scope the token lists needs nothing else
    assert not unreadable.can("billing", "read")  # outside the scope: no claim decides that
    with pytest.raises(jose.InvalidClaimError, match="permissions"):
        unreadable.can("articles", "read")
    with pytest.raises(jose.InvalidClaimError, match="permissions"):
        _ = unreadable.permissions


def test_lazy_claims_from_the_verified_token() -> None:
    """A principal built with its token re-reads the same claims on demand."""
    from jotauth.guard.testing import make_token

    key = jose.Key.from_secret(b"k" * 32, kid="k")
    token = make_token(key, sub="9", scope="a:b", preferred_username="ann")
    claims = jose.peek_claims(token)
    lazy = build_principal(claims, None, token)
    assert lazy.claims == claims
    assert lazy.username == "ann"
    assert lazy.can("a", "b")
    with pytest.raises(ValueError, match="claims or the verified token"):
        type(lazy)(sub="x", scopes=frozenset(), roles=frozenset(), claims=None)


def test_principals_share_equal_scope_and_role_sets() -> None:
    """Equal scope strings and role lists give one shared set: fewer objects per cached token."""
    first = principal(scope="articles:read comments:read", roles=["reader"])
    second = principal(scope="articles:read comments:read", roles=["reader"])
    assert first.scopes is second.scopes
    assert first.roles is second.roles
    listed = principal(scp=["articles:read", "comments:read"], roles="reader")
    assert listed.scopes == first.scopes
    assert listed.roles == first.roles


def test_shared_sets_stay_bounded_and_exact() -> None:
    """Thousands of distinct scopes: the table starts over when full and every set stays exact."""
    from jotauth.guard import principal as module

    for n in range(3000):
        made = principal(scope=f"s{n}:read other", roles=[f"r{n}", "all"])
        assert made.scopes == {f"s{n}:read", "other"}
        assert made.roles == {f"r{n}", "all"}
        assert len(module._SHARED_SETS) <= module._SHARED_SETS_SIZE
    # A scope string that looks like a role tuple's member never borrows the tuple's set.
    assert principal(scope="r1 all").scopes == {"r1", "all"}
    assert principal(scope="a b", roles=["a b"]).roles == {"a b"}


def test_a_built_principal_has_every_slot_a_constructed_one_has() -> None:
    """build_principal fills the instance itself (it runs for every verified token): every
    slot must be set, to what __init__ would give where the claims say nothing."""
    built = build_principal({"sub": "u1", "scope": "a:read"}, None, None, {})
    made = Principal(sub="u1", scopes=frozenset({"a:read"}), roles=frozenset(), claims={})
    for slot in Principal.__slots__:
        getattr(built, slot)  # AttributeError if build_principal forgot one
    for slot in ("_permissions", "_grants", "_scope_grants", "_granted", "_kid", "_nbf", "_iat"):
        assert getattr(built, slot) == getattr(made, slot)
    assert built.granted_scopes == made.granted_scopes == frozenset({"a:read"})


def test_tokens_of_one_grant_shape_share_the_decision_but_not_more() -> None:
    """Two tokens with equal grant claims share what they grant; a token whose permissions
    differ in one action is decided on its own claims, never on another token's."""
    shapes: ShapeMemo = {}
    scope = "articles:read articles:delete"

    def principal(sub: str, permissions: object) -> Principal:
        return build_principal({"sub": sub, "scope": scope, "permissions": permissions},
                               None, None, shapes)  # fmt: skip

    first = principal("1", {"articles": ["read"]})
    second = principal("2", {"articles": ["read"]})
    other = principal("3", {"articles": ["read", "delete"]})
    assert first.granted_scopes == second.granted_scopes == frozenset({"articles:read"})
    assert other.granted_scopes == frozenset({"articles:read", "articles:delete"})
    assert first.sub == "1"
    assert second.sub == "2"
    assert len(shapes) == 2
    numeric = build_principal({"sub": "4", "scope": "articles:read",
                               "permissions": {"articles": [1]}}, None, None, shapes)  # fmt: skip
    with pytest.raises(jose.InvalidClaimError):
        numeric.has_scope("articles:read")  # a malformed shape is never shared as granted


@pytest.mark.parametrize(
    "claims",
    [
        {"roles": [{"name": "admin"}]},
        {"roles": [["admin"]]},
        {"roles": ["reader", {"name": "admin"}]},
        {"permissions": {"articles": [{"read": True}]}},
        {"permissions": {"articles": [["read"]]}},
    ],
)
def test_grant_claims_holding_objects_are_decided_as_without_sharing(claims: dict) -> None:  # type: ignore[type-arg]
    """Values that cannot key the shared shapes (objects, nested arrays) are read for the
    token alone: never a crash, and the same answer as a principal built without shapes."""

    def outcome(shapes: ShapeMemo | None) -> object:
        principal = build_principal(
            {"sub": "1", "scope": "articles:read", **claims}, {"reader": ["*"]}, None, shapes
        )
        try:
            return principal.granted_scopes, principal.has_scope("articles:read")
        except jose.InvalidClaimError as exc:
            return type(exc), str(exc)

    assert outcome({}) == outcome(None)
