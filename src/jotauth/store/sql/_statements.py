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
TOUCH_FAMILY = text("UPDATE refresh_families SET last_used_at = :now WHERE id = :id")
INSERT_AUDIT = text(
    "INSERT INTO audit_events (type, outcome, user_id, username, ip, user_agent, detail, at) "
    "VALUES (:type, :outcome, :user_id, :username, :ip, :user_agent, :detail, :at)"
).bindparams(bindparam("detail", type_=JSON))

__all__ = ["FIND_SESSION", "INSERT_AUDIT", "INSERT_TOKEN", "MARK_USED", "TOUCH_FAMILY"]
