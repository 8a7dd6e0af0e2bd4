"""Prebuilt text statements for the hot path (each refresh, each audit event)."""

from sqlalchemy import JSON, Boolean, LargeBinary, bindparam, text

# The hot path (every refresh, every audit event) uses prebuilt text statements: SQLAlchemy
# builds and caches nothing per call, which roughly halves the store's share of a refresh.
FIND_SESSION = text(
    """
    SELECT t.id AS t_id, t.token_hash AS t_token_hash, t.family_id AS t_family_id,
           t.created_at AS t_created_at, t.used_at AS t_used_at, t.successor AS t_successor,
           f.id AS f_id, f.user_id AS f_user_id, f.client_id AS f_client_id, f.scope AS f_scope,
           f.created_at AS f_created_at, f.last_used_at AS f_last_used_at,
           f.expires_at AS f_expires_at, f.revoked_at AS f_revoked_at,
           f.revoke_reason AS f_revoke_reason, f.ip AS f_ip, f.user_agent AS f_user_agent,
           f.narrowed AS f_narrowed,
           u.id AS u_id, u.username AS u_username, u.password_hash AS u_password_hash,
           u.roles AS u_roles, u.permissions AS u_permissions, u.disabled AS u_disabled,
           u.not_before AS u_not_before, u.created_at AS u_created_at
    FROM refresh_tokens t
    JOIN refresh_families f ON f.id = t.family_id
    LEFT JOIN users u ON u.id = f.user_id
    WHERE t.token_hash = :token_hash
    """
).columns(
    t_successor=LargeBinary,
    u_roles=JSON,
    u_permissions=JSON,
    u_disabled=Boolean,
    f_narrowed=Boolean,
)
MARK_USED = text(
    "UPDATE refresh_tokens SET used_at = :now, successor = :sealed "
    "WHERE id = :id AND used_at IS NULL"
).bindparams(bindparam("sealed", type_=LargeBinary))
INSERT_TOKEN = text(
    "INSERT INTO refresh_tokens (token_hash, family_id, created_at) "
    "VALUES (:token_hash, :family_id, :now)"
)
TOUCH_FAMILY = text("UPDATE refresh_families SET last_used_at = :now WHERE id = :family_id")
INSERT_AUDIT = text(
    "INSERT INTO audit_events (type, outcome, user_id, username, ip, user_agent, detail, at) "
    "VALUES (:type, :outcome, :user_id, :username, :ip, :user_agent, :detail, :at)"
).bindparams(bindparam("detail", type_=JSON))

INSERT_FAMILY = text(
    "INSERT INTO refresh_families (id, user_id, client_id, scope, created_at, last_used_at, "
    "expires_at, ip, user_agent, narrowed) VALUES (:id, :user_id, :client_id, :scope, "
    ":created_at, :last_used_at, :expires_at, :ip, :user_agent, :narrowed)"
).bindparams(bindparam("narrowed", type_=Boolean))

# PostgreSQL: each hot write is ONE statement, sent in autocommit (a statement is its own
# transaction): no BEGIN, no COMMIT, one round trip. Data-modifying CTEs all run to completion
# on one snapshot; under READ COMMITTED a racer's guarded UPDATE waits on the row lock, then
# re-checks ``used_at IS NULL`` on the committed row and matches nothing, so ``used`` is empty
# and neither its successor, its touch nor its audit row is written: one winner, as before.
_USED = (
    "WITH used AS (UPDATE refresh_tokens SET used_at = :now, successor = :sealed "
    "WHERE id = :id AND used_at IS NULL RETURNING id), "
    "successor AS (INSERT INTO refresh_tokens (token_hash, family_id, created_at) "
    "SELECT CAST(:token_hash AS varchar), CAST(:family_id AS varchar), "
    "CAST(:now AS double precision) FROM used), "
    "touched AS (UPDATE refresh_families SET last_used_at = :now "
    "WHERE id = :family_id AND EXISTS (SELECT 1 FROM used))"
)
_FAMILY = (
    "WITH family AS (INSERT INTO refresh_families (id, user_id, client_id, scope, "
    "created_at, last_used_at, expires_at, ip, user_agent, narrowed) VALUES (:id, "
    ":user_id, :client_id, :scope, :created_at, :last_used_at, :expires_at, :ip, "
    ":user_agent, :narrowed) RETURNING id), "
    "token AS (INSERT INTO refresh_tokens (token_hash, family_id, created_at) "
    "SELECT CAST(:token_hash AS varchar), id, CAST(:created_at AS double precision) "
    "FROM family)"
)
_AUDIT = (
    " INSERT INTO audit_events (type, outcome, user_id, username, ip, user_agent, detail, at) "
    "SELECT CAST(:type AS varchar), CAST(:outcome AS varchar), CAST(:user_id AS varchar), "
    "CAST(:username AS varchar), CAST(:ip AS varchar), CAST(:user_agent AS varchar), "
    "CAST(:detail AS json), CAST(:at AS double precision) FROM "
)
_SEALED = bindparam("sealed", type_=LargeBinary)
_NARROWED = bindparam("narrowed", type_=Boolean)
_DETAIL = bindparam("detail", type_=JSON)

# Constant fragments joined (every value is a bind parameter): keyed by "with an audit row".
_ROTATE_AUDITED = _USED + ", audited AS (" + _AUDIT + "used) SELECT count(*) FROM used"  # noqa: S608
ROTATE_PG = {
    False: text(_USED + " SELECT count(*) FROM used").bindparams(_SEALED),  # noqa: S608
    True: text(_ROTATE_AUDITED).bindparams(_SEALED, _DETAIL),
}
CREATE_SESSION_PG = {
    False: text(_FAMILY + " SELECT count(*) FROM family").bindparams(_NARROWED),  # noqa: S608
    True: text(_FAMILY + _AUDIT + "family").bindparams(_NARROWED, _DETAIL),
}

__all__ = [
    "CREATE_SESSION_PG",
    "FIND_SESSION",
    "INSERT_AUDIT",
    "INSERT_FAMILY",
    "INSERT_TOKEN",
    "MARK_USED",
    "ROTATE_PG",
    "TOUCH_FAMILY",
]
