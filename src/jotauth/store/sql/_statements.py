"""Prebuilt text statements: the audit insert of the event recorder."""

from sqlalchemy import JSON, bindparam, text

# Prebuilt, so SQLAlchemy builds and caches nothing per call. The statements of every login
# and refresh go further and run on the driver itself (``_hot``, ``_driver``).
INSERT_AUDIT = text(
    "INSERT INTO audit_events (type, outcome, user_id, username, ip, user_agent, detail, at) "
    "VALUES (:type, :outcome, :user_id, :username, :ip, :user_agent, :detail, :at)"
).bindparams(bindparam("detail", type_=JSON))

__all__ = ["INSERT_AUDIT"]
