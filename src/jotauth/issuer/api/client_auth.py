"""What a request presents to authenticate its client (RFC 6749 2.3), parsed once.

``client_secret_basic``: ``Authorization: Basic base64(id ":" secret)``, where id and secret
are each form-urlencoded first (RFC 6749 2.3.1), so a secret holding ``:`` or ``%`` survives.
``client_secret_post``: ``client_id`` + ``client_secret`` in the form. ``private_key_jwt``:
``client_assertion_type`` + ``client_assertion`` (RFC 7523 2.2), the client id then being the
assertion's ``iss``. A bare ``client_id`` is a public client (``none``). Two methods at once
is ``invalid_request`` (RFC 6749 2.3: a client MUST NOT use more than one). The rules about
which client may use which method are the services' (``services/client_auth.py``).
"""

import base64
import binascii
from typing import Protocol
from urllib.parse import unquote_plus

from fastapi import Request

from jotauth import jose
from jotauth.issuer.errors import InvalidClientError, InvalidRequestError
from jotauth.issuer.services.client_auth import ASSERTION_TYPE, ClientCredentials

__all__ = ["ClientFields", "credentials_of"]

_MAX = 4096


class ClientFields(Protocol):
    """The client authentication members of a parsed form (``models.TokenRequest``,
    ``models.TokenQuery``)."""

    @property
    def client_id(self) -> str | None: ...
    @property
    def client_secret(self) -> str | None: ...
    @property
    def client_assertion(self) -> str | None: ...
    @property
    def client_assertion_type(self) -> str | None: ...


def _basic(header: str) -> ClientCredentials:
    try:
        raw = base64.b64decode(header.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidClientError(
            "client authentication failed: the Basic credentials are not base64 of id:secret",
            basic=True,
        ) from None
    name, sep, secret = raw.partition(":")
    if not sep or not name:
        raise InvalidClientError(
            "client authentication failed: the Basic credentials are not id:secret", basic=True
        )
    return ClientCredentials("client_secret_basic", unquote_plus(name), unquote_plus(secret))


def credentials_of(request: Request, form: ClientFields) -> ClientCredentials:
    """The client credentials of a token, introspection or revocation request."""
    headers = request.headers.getlist("authorization")
    basic = None
    if len(headers) > 1:
        raise InvalidRequestError("send one Authorization header")
    if headers:
        scheme, _, value = headers[0].partition(" ")
        if scheme.lower() == "basic":
            if len(value) > _MAX:
                raise InvalidClientError(basic=True)
            basic = _basic(value)
    client_id = form.client_id or None
    secret = form.client_secret
    assertion = form.client_assertion
    assertion_type = form.client_assertion_type
    used = [basic is not None, secret is not None, assertion is not None]
    if sum(used) > 1:
        raise InvalidRequestError("use one client authentication method per request (RFC 6749 2.3)")
    if basic is not None:
        if client_id is not None and client_id != basic.client_id:
            raise InvalidRequestError("client_id differs from the Basic credentials' id")
        return basic
    if secret is not None:
        if client_id is None:
            raise InvalidRequestError("client_secret needs client_id")
        return ClientCredentials("client_secret_post", client_id, secret)
    if assertion is not None or assertion_type is not None:
        if assertion_type != ASSERTION_TYPE or not assertion:
            raise InvalidRequestError(
                f"private_key_jwt needs client_assertion_type={ASSERTION_TYPE} and a "
                "client_assertion"
            )
        if client_id is None:
            try:
                issuer = jose.peek_claims(assertion).get("iss")
            except jose.JoseError:
                raise InvalidClientError() from None
            client_id = issuer if isinstance(issuer, str) else None
        return ClientCredentials("private_key_jwt", client_id, assertion=assertion)
    if client_id is not None:
        return ClientCredentials("none", client_id)
    return ClientCredentials(None, None)
