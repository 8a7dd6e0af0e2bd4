"""The SQL of every login and every refresh, run on the driver (``_driver``).

On PostgreSQL each write is ONE statement (in a transaction of its own, committed once the
client has its result: ``sessions`` says why not autocommit). Data-modifying CTEs all run to
completion on one snapshot; under READ COMMITTED a racer's guarded ``UPDATE`` waits on the
row lock, then re-checks ``used_at IS NULL`` on the committed row and matches nothing, so
``used`` is empty and neither its successor, its touch nor its audit row is written: one
winner, exactly as with the transaction of separate statements SQLite runs.
"""

from jotauth.store.sql._driver import Statement

__all__ = [
    "CREATE_SESSION",
    "FIND_SESSION",
    "INSERT_AUDIT",
    "INSERT_FAMILY",
    "INSERT_TOKEN",
    "MARK_USED",
    "ROTATE",
    "TOUCH_FAMILY",
]

FIND_SESSION = Statement(
    """
    SELECT t.id AS t_id, t.token_hash AS t_token_hash, t.family_id AS t_family_id,
           t.created_at AS t_created_at, t.used_at AS t_used_at, t.successor AS t_successor,
           f.id AS f_id, f.user_id AS f_user_id, f.client_id AS f_client_id, f.scope AS f_scope,
           f.created_at AS f_created_at, f.last_used_at AS f_last_used_at,
           f.expires_at AS f_expires_at, f.revoked_at AS f_revoked_at,
           f.revoke_reason AS f_revoke_reason, f.ip AS f_ip, f.user_agent AS f_user_agent,
           f.narrowed AS f_narrowed, f.dpop_jkt AS f_dpop_jkt, f.access_ttl AS f_access_ttl,
           u.id AS u_id, u.username AS u_username, u.password_hash AS u_password_hash,
           u.roles AS u_roles, u.permissions AS u_permissions, u.disabled AS u_disabled,
           u.not_before AS u_not_before, u.created_at AS u_created_at
    FROM refresh_tokens t
    JOIN refresh_families f ON f.id = t.family_id
    LEFT JOIN users u ON u.id = f.user_id
    WHERE t.token_hash = :token_hash
    """
)

# SQLite: one transaction of separate statements, the guarded update first.
MARK_USED = Statement(
    "UPDATE refresh_tokens SET used_at = :now, successor = :sealed "
    "WHERE id = :id AND used_at IS NULL"
)
INSERT_TOKEN = Statement(
    "INSERT INTO refresh_tokens (token_hash, family_id, created_at) "
    "VALUES (:token_hash, :family_id, :now)"
)
TOUCH_FAMILY = Statement("UPDATE refresh_families SET last_used_at = :now WHERE id = :family_id")
INSERT_AUDIT = Statement(
    "INSERT INTO audit_events (type, outcome, user_id, username, ip, user_agent, detail, at) "
    "VALUES (:type, :outcome, :user_id, :username, :ip, :user_agent, :detail, :at)"
)
INSERT_FAMILY = Statement(
    "INSERT INTO refresh_families (id, user_id, client_id, scope, created_at, last_used_at, "
    "expires_at, ip, user_agent, narrowed, dpop_jkt, access_ttl) VALUES (:id, :user_id, "
    ":client_id, :scope, :created_at, :last_used_at, :expires_at, :ip, :user_agent, :narrowed, "
    ":dpop_jkt, :access_ttl)"
)

# PostgreSQL: one statement each, keyed by "with an audit row".
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
    "created_at, last_used_at, expires_at, ip, user_agent, narrowed, dpop_jkt, access_ttl) "
    "VALUES (:id, :user_id, :client_id, :scope, :created_at, :last_used_at, :expires_at, :ip, "
    ":user_agent, :narrowed, :dpop_jkt, :access_ttl) RETURNING id), "
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
# Constant fragments joined; every value is a bind parameter.
_ROTATE_AUDITED = _USED + ", audited AS (" + _AUDIT + "used) SELECT count(*) FROM used"  # noqa: S608
ROTATE = {
    False: Statement(_USED + " SELECT count(*) FROM used"),  # noqa: S608
    True: Statement(_ROTATE_AUDITED),
}
CREATE_SESSION = {
    False: Statement(_FAMILY + " SELECT count(*) FROM family"),  # noqa: S608
    True: Statement(_FAMILY + _AUDIT + "family"),
}
