"""Who the token speaks for and what it grants: ``Principal`` and the permission model.

A token grants actions on resources in three ways:

* ``scope`` strings ``"articles:read"``, ``"articles:*"`` or ``"*"`` (RFC 9068), or ``scp`` when
  there is no ``scope``; either may be a space-separated string (RFC 9068, Microsoft Entra ID's
  ``scp``) or an array of strings (Okta's ``scp``);
* the tutorial's ``permissions`` object ``{"articles": ["read", "create"]}``, which may nest for
  hierarchical resources: ``{"projects": {"*": ["read"], "billing": ["update"]}}`` grants
  ``read`` on ``projects`` (and so on every sub-resource) and ``update`` on ``projects.billing``;
  or Auth0's array of permission names (``["read:messages"]``), which count like scopes;
* ``roles`` (a string or an array of strings), mapped to grants by the guard's ``roles=`` table
  (``{"admin": ["*"]}``).

The scope is what the client was granted (RFC 6749 section 3.3), so where a token lists one
it is the ceiling: an action is granted when the scope covers it **and**, if the token also
carries ``permissions`` or roles this guard maps, those cover it too (the intersection). A
token narrowed to ``scope=audit:read`` that still carries ``{"admin": ["*"]}`` grants
``audit:read`` only. A token without a scope (or with an empty one, as issuers that do not
use scopes send) is decided by its permissions and roles alone.

Resources are dotted paths and a grant on a parent covers its children, so ``articles:*``
allows ``can("articles.comments", "delete")``.

These claims are optional and their shape varies by issuer, so a shape the guard does not know
does not refuse the token: the principal is built, and the claim's ``InvalidClaimError`` (401,
naming the claim) is raised only when a check needs that claim (``has_scope``, ``can``,
``has_role``, ``permissions``, ``grants``, and so every requirement of a route). A route that
asks nothing of a token's grants never looks at them; one that does is never decided by a claim
it could not read, which would silently grant nothing.
"""

import math
from collections.abc import Iterable, Mapping
from typing import Any, Final

from jotauth import jose
from jotauth.guard.dpop import bound_jkt

__all__ = ["Grants", "Principal", "build_principal", "parse_requirement"]

Grants = Mapping[str, frozenset[str]]
_WILDCARD: Final = "*"
_EMPTY: Final[frozenset[str]] = frozenset()
_NUMBERS: Final = (int, float)


def parse_requirement(requirement: str) -> tuple[str, str] | None:
    """``"articles:read"`` -> ``("articles", "read")``; a plain scope (``"openid"``) -> None."""
    resource, sep, action = requirement.rpartition(":")
    if not sep:
        return None
    if not resource or not action:
        raise ValueError(f"{requirement!r} is not 'resource:action' (e.g. 'articles:read')")
    return resource, action


def _invalid(claim: str, message: str) -> jose.InvalidClaimError:
    return jose.InvalidClaimError(claim, "invalid", message)


# Principals with the same scope string or roles share one frozenset. A cached principal then
# adds one object for the garbage collector to walk (itself) instead of three, which matters
# when thousands of distinct tokens are cached: each full collection walks every one of them.
# Keys are strings or tuples of strings, so no two different values can share an entry; the
# table is bounded and simply starts over when full.
_SHARED_SETS: dict[str | tuple[str, ...], frozenset[str]] = {}
_SHARED_SETS_SIZE: Final = 1024


def _shared_set(key: str | tuple[str, ...], members: Iterable[str]) -> frozenset[str]:
    found = _SHARED_SETS.get(key)
    if found is None:
        found = frozenset(members)
        if len(_SHARED_SETS) >= _SHARED_SETS_SIZE:
            _SHARED_SETS.clear()
        _SHARED_SETS[key] = found
    return found


_SCOPE_SHAPE: Final = "a space-separated string or an array of strings"


def _strings(value: Any) -> tuple[str, ...] | None:
    """The strings of a space-separated string or of an array of strings; None for any other."""
    if type(value) is str:
        return tuple(value.split())
    if type(value) is list and all(type(item) is str for item in value):
        return tuple(value)
    return None


Malformed = dict[str, tuple[str, str]]
"""What could not be read, by kind (``scope``, ``roles``, ``permissions``): (claim, message)."""


def _scopes(claims: Mapping[str, Any], malformed: Malformed) -> frozenset[str]:
    scope = claims.get("scope")
    name = "scope"
    if scope is None:
        scope, name = claims.get("scp"), "scp"
        if scope is None:
            return _EMPTY
    if type(scope) is str:
        return _shared_set(scope, scope.split())
    listed = _strings(scope)
    if listed is None:
        malformed["scope"] = (name, f'"{name}" must be {_SCOPE_SHAPE}')
        return _EMPTY
    return _shared_set(listed, listed)


def _roles(claims: Mapping[str, Any], malformed: Malformed) -> frozenset[str]:
    roles = claims.get("roles")
    if roles is None:
        return _EMPTY
    if type(roles) is str:
        return _shared_set((roles,), (roles,))
    if type(roles) is not list or not all(type(role) is str for role in roles):
        malformed["roles"] = ("roles", '"roles" must be a string or an array of strings')
        return _EMPTY
    return _shared_set(tuple(roles), roles)


def _permission_names(value: Any) -> bool:
    """Whether ``value`` is Auth0's form: an array of permission names such as ``read:messages``."""
    return type(value) is list and all(type(item) is str and item for item in value)


def _check_permissions(value: Any, path: str, depth: int = 0) -> None:
    """Validate a (possibly nested) permissions object without building anything."""
    if type(value) is not dict or depth > 8:
        raise _invalid("permissions", '"permissions" must be an object of resource -> actions')
    for name, actions in value.items():
        if not name:
            raise _invalid("permissions", '"permissions" has an empty resource name')
        if type(actions) is list:
            for action in actions:
                if type(action) is not str or not action:
                    raise _invalid(
                        "permissions",
                        f'"permissions" for {(path + "." + name).lstrip(".")!r} must be an array '
                        "of action names",
                    )
        else:
            _check_permissions(actions, f"{path}.{name}", depth + 1)


def _flatten(value: dict[str, Any], prefix: str, into: dict[str, set[str]]) -> None:
    """Walk a checked permissions object into ``{"a.b": {actions}}``."""
    for name, actions in value.items():
        path = prefix if name == _WILDCARD and prefix else f"{prefix}.{name}" if prefix else name
        if type(actions) is list:
            into.setdefault(path, set()).update(actions)
        else:
            _flatten(actions, path, into)


def _add_scopes(scopes: Iterable[str], into: dict[str, set[str]]) -> None:
    for scope in scopes:
        if scope == _WILDCARD:
            into.setdefault(_WILDCARD, set()).add(_WILDCARD)
            continue
        resource, sep, action = scope.rpartition(":")
        if sep and resource and action:
            into.setdefault(resource, set()).add(action)


def _covers(grants: Grants, resource: str, action: str) -> bool:
    """Whether ``grants`` hold ``action`` (or ``*``) on ``resource``, a parent of it, or ``*``."""
    path = resource
    while True:
        actions = grants.get(path)
        if actions is not None and (action in actions or _WILDCARD in actions):
            return True
        cut = path.rfind(".")
        if cut < 0:
            break
        path = path[:cut]
    actions = grants.get(_WILDCARD)
    return actions is not None and (action in actions or _WILDCARD in actions)


class GrantShape:
    """What a token's grant claims (``scope``/``scp``, ``roles``, ``permissions``) amount to,
    read once and shared by every token whose grant claims are equal.

    A service sees few distinct shapes (a fresh token per login, the same scope, roles and
    permissions), and reading one, with the "which listed scopes does it really grant"
    decision that walks the permission and role tables, costs more than an HS256 verify.
    """

    __slots__ = ("bounded", "granted", "malformed", "names", "roles", "scopes")

    def __init__(
        self, claims: Mapping[str, Any], role_grants: Mapping[str, Iterable[str]] | None
    ) -> None:
        malformed: Malformed = {}
        self.scopes = _scopes(claims, malformed)
        self.roles = _roles(claims, malformed)
        permissions: Any = claims.get("permissions")
        self.names = _EMPTY
        if _permission_names(permissions):
            self.names = _shared_set(tuple(permissions), permissions)
        elif permissions is not None:
            try:
                _check_permissions(permissions, "")
            except jose.InvalidClaimError as exc:
                malformed["permissions"] = ("permissions", str(exc))
        self.malformed = malformed or None
        self.bounded = permissions is not None or bool(
            role_grants and any(role in role_grants for role in self.roles)
        )
        self.granted: frozenset[str] | None = None
        """Filled by the first principal of this shape asked for its granted scopes."""


ShapeMemo = dict[tuple[Any, ...], GrantShape]
"""Grant shapes by their grant claims; one table per role-grant table (one per guard), since
``bounded`` and the granted scopes depend on it."""
_SHAPE_MEMO_SIZE: Final = 1024


def _shape_key(claims: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The grant claims as a hashable key, for the shapes common enough to be worth sharing:
    ``scope``/``scp`` a string, ``roles`` an array, ``permissions`` one level of arrays.

    Equal keys mean equal claims: strings equal only strings, and values that compare equal
    across types (``1``, ``1.0``, ``True``) are all not strings, which every rule refuses
    alike. Any other shape (nested permissions, an array scope) is read for each token.
    """
    scope = claims.get("scope")
    scp = claims.get("scp") if scope is None else None
    roles = claims.get("roles")
    permissions = claims.get("permissions")
    if type(scope if scope is not None else scp if scp is not None else "") is not str:
        return None
    if roles is not None:
        if type(roles) is not list:
            return None
        roles = tuple(roles)
    if permissions is not None:
        if type(permissions) is not dict:
            return None
        items = []
        for name, actions in permissions.items():
            if type(actions) is not list:
                return None
            items.append((name, tuple(actions)))
        permissions = tuple(items)
    return (scope, scp, roles, permissions)


def _shape_of(
    claims: Mapping[str, Any],
    role_grants: Mapping[str, Iterable[str]] | None,
    memo: ShapeMemo | None,
) -> tuple[GrantShape, bool]:
    """The token's grant shape, and whether it is shared (memoised) with other tokens."""
    key = None if memo is None else _shape_key(claims)
    if key is None or memo is None:
        return GrantShape(claims, role_grants), False
    try:
        shape = memo.get(key)
    except TypeError:  # an object or array inside roles or an action list: not hashable
        return GrantShape(claims, role_grants), False
    if shape is None:
        shape = GrantShape(claims, role_grants)
        if len(memo) >= _SHAPE_MEMO_SIZE:
            memo.clear()
        memo[key] = shape
    return shape, True


def build_principal(
    claims: dict[str, Any],
    role_grants: Mapping[str, Iterable[str]] | None = None,
    token: str | None = None,
    shapes: ShapeMemo | None = None,
) -> "Principal":
    """Turn verified claims into a Principal; malformed permission claims are a claim error.

    Claims are checked here, but the grant table is built only when a check needs it: most
    requests are decided by a plain scope lookup. Given the verified ``token`` the principal
    does not keep the claims dict but re-reads it from the token on first access: a cached
    principal then holds a handful of objects instead of a whole JSON tree, which keeps the
    garbage collector's full passes over a large token cache short. ``shapes`` (the guard's,
    made for exactly ``role_grants``) shares the reading of the grant claims between tokens
    whose grant claims are equal (see ``GrantShape``).
    """
    shape, shared = _shape_of(claims, role_grants, shapes)
    sub = claims.get("sub")
    exp: Any = claims.get("exp")
    nbf: Any = claims.get("nbf")
    iat: Any = claims.get("iat")
    jti: Any = claims.get("jti")
    sid: Any = claims.get("sid")
    # Every slot set once, without __init__'s defaults and keyword call: this runs for every
    # token verified, and the instance is the same one __init__ would build.
    principal = Principal.__new__(Principal)
    principal.sub = "" if sub is None else str(sub)
    principal.scopes = shape.scopes
    principal.roles = shape.roles
    principal._claims = None if token is not None else claims
    principal._token = token
    principal._role_grants = role_grants
    principal._permissions = None
    principal._grants = None
    principal._scope_grants = None
    principal._granted = None
    principal._exp = exp if type(exp) in _NUMBERS else math.inf
    principal._nbf = nbf if type(nbf) in _NUMBERS else None
    principal._iat = iat if type(iat) in _NUMBERS else None
    principal._jti = jti if type(jti) is str else None
    principal._kid = None
    principal._sid = sid if type(sid) is str else None
    cnf: Any = claims.get("cnf")
    principal._jkt = None if cnf is None else bound_jkt(cnf)
    principal._permission_names = shape.names
    # Decided with the shape, from the claims at hand: later it would mean re-reading them.
    principal._bounded = shape.bounded
    principal._malformed = shape.malformed
    principal._shape = shape if shared and shape.malformed is None else None
    return principal


class Principal:
    """The authenticated caller. Immutable; one instance per distinct token (cached).

    Besides what it grants, a principal built from a token carries the few facts the guard
    re-checks each time the token comes back (``exp``, ``nbf``, and ``jti``/``iat``/``sid``/the
    signing kid for the revocation view): the token cache then holds one object per token,
    which keeps its memory and the garbage collector's walks over it small.
    """

    __slots__ = (
        "_bounded",
        "_claims",
        "_exp",
        "_granted",
        "_grants",
        "_iat",
        "_jkt",
        "_jti",
        "_kid",
        "_malformed",
        "_nbf",
        "_permission_names",
        "_permissions",
        "_role_grants",
        "_scope_grants",
        "_shape",
        "_sid",
        "_token",
        "roles",
        "scopes",
        "sub",
    )

    def __init__(
        self,
        *,
        sub: str,
        scopes: frozenset[str],
        roles: frozenset[str],
        claims: Mapping[str, Any] | None,
        token: str | None = None,
        role_grants: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        if claims is None and token is None:
            raise ValueError("a Principal needs its claims or the verified token")
        self.sub = sub
        self.scopes = scopes
        self.roles = roles
        self._claims = claims
        self._token = token
        self._role_grants = role_grants
        self._permissions: Grants | None = None
        self._grants: Grants | None = None
        self._scope_grants: Grants | None = None
        self._bounded: bool | None = None
        self._granted: frozenset[str] | None = None
        self._exp: float = math.inf
        self._nbf: float | None = None
        self._iat: float | None = None
        self._jti: str | None = None
        self._kid: str | None = None
        self._sid: str | None = None
        self._jkt = bound_jkt(
            (jose.peek_claims(str(token)) if claims is None else claims).get("cnf")
        )
        self._malformed: Malformed | None = None
        self._permission_names: frozenset[str] = _EMPTY
        self._shape: GrantShape | None = None

    @property
    def jkt(self) -> str | None:
        """The thumbprint of the key the token is bound to (``cnf.jkt``, DPoP), or None."""
        return self._jkt

    @property
    def claims(self) -> Mapping[str, Any]:
        """Every verified claim of the token."""
        claims = self._claims
        if claims is None:
            claims = self._claims = jose.peek_claims(str(self._token))  # verified before
        return claims

    def _readable(self, *kinds: str) -> None:
        """Raise the claim error of the first of ``kinds`` whose claim could not be read."""
        malformed = self._malformed
        if malformed is not None:
            for kind in kinds:
                if kind in malformed:
                    raise _invalid(*malformed[kind])

    @property
    def permissions(self) -> Grants:
        """The ``permissions`` claim flattened to ``{"resource.sub": frozenset(actions)}``.

        Auth0's array of names (``["read:messages"]``) is read like scopes.
        """
        if self._permissions is None:
            self._readable("permissions")
            table: dict[str, set[str]] = {}
            if self._permission_names:
                _add_scopes(self._permission_names, table)
            else:
                raw = self.claims.get("permissions")
                if raw is not None:
                    _flatten(raw, "", table)
            self._permissions = {name: frozenset(actions) for name, actions in table.items()}
        return self._permissions

    @property
    def grants(self) -> Grants:
        """What the permissions and the roles' grants give, merged (the scope, where the token
        lists one, caps this: ``can`` decides on the intersection)."""
        if self._grants is None:
            self._readable("scope", "roles", "permissions")
            table = {name: set(actions) for name, actions in self.permissions.items()}
            if self._role_grants:
                for role in self.roles:
                    _add_scopes(self._role_grants.get(role, ()), table)
            self._grants = {name: frozenset(actions) for name, actions in table.items()}
        return self._grants

    @property
    def scope_grants(self) -> Grants:
        """What the ``scope`` (or ``scp``) claim lists, as ``{"resource": actions}``."""
        if self._scope_grants is None:
            table: dict[str, set[str]] = {}
            _add_scopes(self.scopes, table)
            self._scope_grants = {name: frozenset(actions) for name, actions in table.items()}
        return self._scope_grants

    @property
    def bounded(self) -> bool:
        """Whether grants beyond the scope are claimed: a ``permissions`` claim, or a role the
        guard's table maps. Then a listed scope counts only as far as those cover it."""
        if self._bounded is None:
            role_grants = self._role_grants
            self._bounded = self.claims.get("permissions") is not None or bool(
                role_grants and any(role in role_grants for role in self.roles)
            )
        return self._bounded

    @property
    def granted_scopes(self) -> frozenset[str]:
        """The listed scopes this token really grants (all of them unless ``bounded``)."""
        granted = self._granted
        if granted is None:
            if not self.scopes or not self.bounded:
                granted = self.scopes
            elif (shape := self._shape) is not None:
                granted = shape.granted
                if granted is None:
                    granted = frozenset(s for s in self.scopes if self._grants_scope(s))
                    shape.granted = granted
            else:
                granted = frozenset(s for s in self.scopes if self._grants_scope(s))
            self._granted = granted
        return granted

    @property
    def username(self) -> str | None:
        """``preferred_username``, for display only (``sub`` is the stable id)."""
        value = self.claims.get("preferred_username")
        return value if isinstance(value, str) else None

    @property
    def client_id(self) -> str | None:
        """The OAuth client the token was issued to."""
        value = self.claims.get("client_id")
        return value if isinstance(value, str) else None

    @property
    def tier(self) -> str | None:
        """The client's subscription tier (``tier`` claim of client_credentials tokens)."""
        value = self.claims.get("tier")
        return value if isinstance(value, str) else None

    @property
    def jti(self) -> str | None:
        """The token's unique id (what a per-token revocation names)."""
        value = self.claims.get("jti")
        return value if isinstance(value, str) else None

    @property
    def expires_at(self) -> float | None:
        """``exp`` as a number of seconds since the epoch."""
        value = self.claims.get("exp")
        return value if type(value) in (int, float) else None

    def can(self, resource: str, action: str) -> bool:
        """Whether ``action`` on ``resource`` (or on a parent) is granted: within the scope
        where the token lists one, and by the permissions and roles where it has them."""
        if self.scopes:
            if not _covers(self.scope_grants, resource, action):
                return False
            if not self.bounded:
                return True
        return _covers(self.grants, resource, action)

    def has_scope(self, scope: str) -> bool:
        """A plain scope (``openid``) is listed; a ``resource:action`` one is granted (``can``):
        within the scope, and by the permissions (Auth0's names included) and roles."""
        if scope in self.scopes and not self.bounded:
            return True
        return self._grants_scope(scope)

    def _grants_scope(self, scope: str) -> bool:
        self._readable("scope")
        parsed = parse_requirement(scope)
        if parsed is None:
            return scope in self.scopes
        return self.can(*parsed)

    def has_role(self, role: str) -> bool:
        """Whether the token lists ``role`` in its ``roles`` claim."""
        self._readable("roles")
        return role in self.roles

    def missing(self, requirements: Iterable[str]) -> list[str]:
        """The requirements (scopes or ``resource:action``) this principal does not meet."""
        return [r for r in requirements if not self.has_scope(r)]

    def __repr__(self) -> str:
        return f"Principal(sub={self.sub!r}, scopes={sorted(self.scopes)!r})"
