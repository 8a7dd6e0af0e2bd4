"""OAuth clients: create, find, list, update; and the single-use record of client assertions."""

import dataclasses
from typing import Any

from sqlalchemy import Engine, delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from jotauth.store.errors import DuplicateError
from jotauth.store.records import ClientRecord
from jotauth.store.sql.changes import CLIENT, REVOCATION, Changes
from jotauth.store.sql.models import Client, ClientAssertion, Revocation, SigningKey
from jotauth.store.sql.revocations import publish

__all__ = ["ClientQueries"]

_FIELDS = tuple(field.name for field in dataclasses.fields(ClientRecord))
_LISTS = ("redirect_uris", "grant_types", "scopes", "audiences", "post_logout_redirect_uris")


def client_row(row: Any) -> ClientRecord:
    values = {name: getattr(row, name) for name in _FIELDS}
    for name in (
        "redirect_uris",
        "grant_types",
        "scopes",
        "audiences",
        "post_logout_redirect_uris",
    ):
        values[name] = list(values[name] or [])
    values["first_party"] = bool(values["first_party"])
    values["disabled"] = bool(values["disabled"])
    values["dpop_bound_access_tokens"] = bool(values["dpop_bound_access_tokens"])
    values["jwks"] = None if values["jwks"] is None else dict(values["jwks"])
    return ClientRecord(**values)


class ClientQueries:
    """The client registry (``oauth_clients``) and the assertion replay cache."""

    engine: Engine
    changes: Changes

    def create_client(self, client: ClientRecord) -> ClientRecord:
        """Insert ``client``; DuplicateError when its client_id is taken."""
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(Client).values(**dataclasses.asdict(client)))
        except IntegrityError as exc:
            raise DuplicateError(f"client {client.client_id!r} exists") from exc
        self.changes.notify(CLIENT, client.client_id)  # a cached "no such client" is wrong now
        return client

    def get_client(self, client_id: str) -> ClientRecord | None:
        """The client registered as ``client_id``, or None."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(Client).where(Client.client_id == client_id)
            ).one_or_none()
        return None if row is None else client_row(row)

    def list_clients(self, *, limit: int = 1000, after: str = "") -> list[ClientRecord]:
        """Clients ordered by client_id, ``limit`` of them after ``after``."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(Client)
                .where(Client.client_id > after)
                .order_by(Client.client_id)
                .limit(limit)
            ).all()
        return [client_row(row) for row in rows]

    def update_client(self, client_id: str, **values: Any) -> ClientRecord | None:
        """Set ``values`` on the client; None when there is no such client."""
        unknown = set(values) - set(_FIELDS) | ({"client_id"} & set(values))
        if unknown:
            raise ValueError(f"not client fields: {sorted(unknown)}")
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(Client).where(Client.client_id == client_id).values(**values)
            ).rowcount
            if not changed:
                return None
            row = connection.execute(select(Client).where(Client.client_id == client_id)).one()
        self.changes.notify(CLIENT, client_id)
        return client_row(row)

    def set_client_disabled(
        self, client_id: str, disabled: bool, *, now: float, ahead: float = 0.0
    ) -> ClientRecord | None:
        """Disable or enable a client; disabling also ends every token it holds.

        The client's tokens have ``sub`` = client_id, so a ``user`` feed event with that
        ``sub`` and a not-before of the next second makes every guard refuse them, in the
        same transaction as the flag (published last, see ``publish``). ``ahead``: seconds
        past ``now`` the not-before reaches, so that tokens other workers still issue until
        their copy of the client expires (``ClientCache``) die as well.
        """
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(Client).where(Client.client_id == client_id).values(disabled=disabled)
            ).rowcount
            if not changed:
                return None
            row = connection.execute(select(Client).where(Client.client_id == client_id)).one()
            if disabled:
                publish(
                    connection, type="user", sub=client_id, not_before=int(now + ahead) + 1,
                    created_at=now,
                )  # fmt: skip
        self.changes.notify(CLIENT, client_id)
        if disabled:
            self.changes.notify(REVOCATION)
        return client_row(row)

    def service_token_revoked(
        self, *, client_id: str, jti: str | None, kid: str | None, iat: float
    ) -> bool:
        """Whether a client's own token (``sub`` = client_id) is dead: its jti denylisted, its
        client unknown, disabled or disabled since it was issued, or its key revoked.

        One statement, one round trip: introspection asks it for every service token, and
        each round trip was most of its cost.
        """
        r = Revocation
        query = select(
            exists().where(r.type == "token", r.jti == (jti or "")),
            exists().where(r.type == "user", r.sub == client_id, r.not_before > iat),
            exists().where(SigningKey.kid == (kid or ""), SigningKey.state == "revoked"),
            select(Client.disabled).where(Client.client_id == client_id).scalar_subquery(),
        )
        with self.engine.connect() as connection:
            token, subject, key, disabled = connection.execute(query).one()
        return bool(token or subject or key) or disabled is None or bool(disabled)

    def use_assertion(self, key: str, exp: float, *, now: float) -> bool:
        """Record an assertion as used until ``exp``; False when it was used already.

        The primary key decides: of two instances given the same assertion at once, one
        insert fails. Expired entries go first, so the table holds live assertions only.
        """
        try:
            with self.engine.begin() as connection:
                connection.execute(delete(ClientAssertion).where(ClientAssertion.exp < now))
                connection.execute(insert(ClientAssertion).values(key=key, exp=exp))
        except IntegrityError:
            return False
        return True
