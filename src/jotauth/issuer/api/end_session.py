"""``GET|POST /oauth/logout``: OpenID Connect RP-Initiated Logout 1.0 (end_session_endpoint).

With a valid ``id_token_hint`` (one of this server's ID tokens, expired up to an hour) the
session it names ends at once: the hint proves a client of that session asked. Without
one, a forged link could sign anyone out, so the user confirms on a CSRF-protected form.
``post_logout_redirect_uri`` must be exactly one the client registered, and the client is
the hint's ``aud`` or ``client_id``; anything else is an error page, never a redirect.
Ending the session revokes its tokens everywhere (``services.logout``); back-channel
logout tokens go out after the response (``BackgroundTasks``), so no client's server slows
the browser down.
"""

from typing import Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from jotauth.issuer.api.browser import Browser, read_params
from jotauth.issuer.api.deps import client, service
from jotauth.issuer.api.login_page import error_page, logout_page, message_page
from jotauth.issuer.services.backchannel import BackchannelSender
from jotauth.issuer.services.id_tokens import IdTokens
from jotauth.issuer.services.logout import SessionLogout
from jotauth.issuer.services.oauth_clients import ClientRegistry
from jotauth.issuer.services.sso import SSOSessions
from jotauth.issuer.services.turns import in_thread

__all__ = ["router"]

router = APIRouter(tags=["openid"])

_PATH: Final = "/oauth/logout"
_CARRIED: Final = ("id_token_hint", "post_logout_redirect_uri", "state", "client_id")


# A browser page, not a JSON API (like "/"): out of the OpenAPI document, which describes
# JSON answers; docs/oidc.md describes the endpoint.
_ROUTE: Final[dict[str, Any]] = dict(
    include_in_schema=False,
    summary="OpenID Connect end-session endpoint (RP-initiated logout)",
    response_class=HTMLResponse,
    responses={
        302: {"description": "to the registered post_logout_redirect_uri, with `state`"},
        400: {"description": "error page: bad hint, unknown client or unregistered URI"},
    },
)  # the GET and the POST share one description (two operation ids)


@router.get(_PATH, operation_id="end_session_get", **_ROUTE)
@router.post(_PATH, operation_id="end_session_post", **_ROUTE)
async def end_session(request: Request, background: BackgroundTasks) -> Response:
    """Sign the browser out of the issuer and every client of its SSO session."""
    params = await read_params(request)
    if any(len(values) > 1 for values in params.values()):
        return error_page("a parameter of this logout request is repeated")
    values = {name: v[0] for name, v in params.items() if v}
    action, csrf = values.pop("jotauth_action", None), values.pop("jotauth_csrf", None)
    id_tokens: IdTokens | None = request.app.state.id_tokens
    clients: ClientRegistry = request.app.state.oauth_clients
    hint = None
    if values.get("id_token_hint"):
        hint = (
            None
            if id_tokens is None
            else await in_thread(id_tokens.read_hint, values["id_token_hint"])
        )
        if hint is None:
            return error_page("id_token_hint is not an ID token this server issued")
    client_id = values.get("client_id")
    if hint is not None:
        aud = hint.get("aud")
        audience = (
            aud if isinstance(aud, str) else (aud[0] if isinstance(aud, list) and aud else None)
        )
        if client_id is not None and client_id != audience:
            return error_page("client_id is not the audience of id_token_hint")
        client_id = audience if isinstance(audience, str) else None
    target = values.get("post_logout_redirect_uri")
    if target is not None:
        registered = None if not client_id else await in_thread(clients.get_client, client_id[:128])
        if registered is None or target not in registered.post_logout_redirect_uris:
            return error_page("post_logout_redirect_uri is not one this client registered")
    browser = Browser(request)
    sso: SSOSessions = request.app.state.sso
    current = await in_thread(sso.find, browser.sso_cookie)
    sid: str | None
    if hint is not None:
        sid = str(hint.get("sid"))
    elif action == "logout" and browser.csrf_ok("logout", csrf):
        sid = None if current is None else current.record.sid
    elif action is not None:
        return error_page("The form expired or did not come from this site. Reload it.", 403)
    else:
        fields = {k: v for k, v in values.items() if k in _CARRIED}
        page = logout_page(
            action=_PATH, fields=fields, csrf=browser.csrf_token("logout"), target=target
        )
        browser.apply(page)
        return page
    if sid is not None:
        logout: SessionLogout = request.app.state.logout
        record, deliveries = await in_thread(logout.end, sid)
        if record is not None:
            auth = service(request)
            user = await auth.user_of_subject(str(record.user_id))
            await auth.emit("logout", client(request), user=user, sid=sid, via="end_session")
        if deliveries:
            sender: BackchannelSender = request.app.state.backchannel
            background.add_task(sender.send_all, deliveries)
    response: Response
    if target is not None:
        state = values.get("state")
        query = urlencode({"state": state}) if state is not None else ""
        sep = "&" if "?" in target else "?"
        status = 303 if request.method == "POST" else 302
        response = RedirectResponse(target + (sep + query if query else ""), status_code=status)
    else:
        response = message_page("You are signed out", "You can close this window.")
    browser.apply(response, clear=current is None or current.record.sid in (sid, None))
    return response
