"""``GET|POST /oauth/authorize``: the authorization endpoint, its login and consent forms.

One route serves the request (GET, or POST as OIDC Core 3.1.2.1 allows) and the forms it
shows: a form POST carries the authorization request's parameters back with
``jotauth_action`` (``login``, ``allow``, ``deny``) and its CSRF token, and the request is
checked again from scratch, so the forms cannot smuggle in anything the request could not.
The rules live in ``services.authorization``; this module turns its outcomes into an error
page, a redirect to the client (``code`` or ``error``, with ``state`` and RFC 9207 ``iss``)
or a page. The password goes through ``AuthService.check_password``: the login page is
counted by the same brute-force limits as ``/login``.
"""

from typing import Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from jotauth.issuer.api.browser import Browser, read_params
from jotauth.issuer.api.deps import client, service
from jotauth.issuer.api.login_page import consent_page, error_page, login_page
from jotauth.issuer.errors import InvalidGrantError, InvalidRequestError, RateLimitedError
from jotauth.issuer.services.authorization import (
    AuthorizationError,
    AuthorizationRequest,
    AuthorizationService,
    UnsafeRequestError,
)
from jotauth.issuer.services.client_auth import ClientCredentials
from jotauth.issuer.services.dpop import Proof
from jotauth.issuer.services.oauth_clients import ClientRegistry
from jotauth.issuer.services.sso import ActiveSession, SSOSessions
from jotauth.issuer.services.turns import in_thread

__all__ = ["exchange_code", "router"]

router = APIRouter(tags=["openid"])

_PATH: Final = "/oauth/authorize"
_BAD_LOGIN: Final = "Wrong username or password."


# A browser page, not a JSON API (like "/"): out of the OpenAPI document, which describes
# JSON answers; docs/oidc.md describes the endpoint.
_ROUTE: Final[dict[str, Any]] = dict(
    include_in_schema=False,
    summary="OpenID Connect authorization endpoint (code + PKCE S256)",
    response_class=HTMLResponse,
    responses={
        302: {"description": "to the client's redirect URI: `code` or `error`, `state`, `iss`"},
        400: {"description": "error page: unknown client or unregistered redirect URI"},
    },
)  # the GET and the POST share one description (two operation ids)


def _take(params: dict[str, list[str]], name: str) -> str | None:
    """Remove a form's own field from the parameters (its first value)."""
    values = params.pop(name, None)
    return values[0] if values else None


def _redirect(request: Request, uri: str, values: dict[str, str | None]) -> RedirectResponse:
    """A redirect to the client with ``values`` and ``iss`` (RFC 9207) in the query."""
    query = {k: v for k, v in values.items() if v is not None}
    query["iss"] = str(request.app.state.settings.issuer)
    sep = "&" if "?" in uri else "?"
    status = 303 if request.method == "POST" else 302
    return RedirectResponse(uri + sep + urlencode(query), status_code=status,
                            headers={"Cache-Control": "no-store"})  # fmt: skip


def _error_redirect(request: Request, error: AuthorizationError) -> RedirectResponse:
    return _redirect(
        request,
        error.redirect_uri,
        {"error": error.code, "error_description": error.description, "state": error.state},
    )


@router.get(_PATH, operation_id="authorize_get", **_ROUTE)
@router.post(_PATH, operation_id="authorize_post", **_ROUTE)
async def authorize(request: Request) -> Response:
    """Sign the user in (or reuse their SSO session), ask consent, answer a code."""
    params = await read_params(request)
    action, csrf = _take(params, "jotauth_action"), _take(params, "jotauth_csrf")
    username = _take(params, "username") or ""
    password = _take(params, "password") or ""
    authz: AuthorizationService = request.app.state.authorization
    sso: SSOSessions = request.app.state.sso
    try:
        req: AuthorizationRequest = await in_thread(authz.parse, params)
    except UnsafeRequestError as exc:
        return error_page(exc.description)
    except AuthorizationError as exc:
        return _error_redirect(request, exc)
    browser = Browser(request)
    session: ActiveSession | None = await in_thread(sso.find, browser.sso_cookie)
    new_cookie: str | None = None
    fresh = consented = False
    if action is not None:
        if not browser.csrf_ok(action if action == "login" else "consent", csrf):
            return error_page(
                "The form expired or did not come from this site. Go back, reload the page "
                "and try again.",
                403,
            )
        if action == "login":
            try:
                user = await service(request).check_password(username, password, client(request))
            except RateLimitedError as exc:
                page = _login(request, browser, req, username, "Too many attempts. Wait "
                              f"{exc.retry_after} seconds and try again.", 429)  # fmt: skip
                page.headers["Retry-After"] = str(exc.retry_after)
                return page
            except (InvalidGrantError, InvalidRequestError):
                return _login(request, browser, req, username, _BAD_LOGIN, 401)
            new_cookie, started = await in_thread(sso.start, user)
            session = started
            await service(request).emit(
                "login_succeeded", client(request), user=user, login_name=username,
                sid=started.record.sid, client_id=req.client.client_id,
            )  # fmt: skip
            fresh = True
        elif action in ("allow", "deny"):
            if session is None:
                return _login(request, browser, req, req.login_hint or "", None, 200)
            if action == "deny":
                return _error_redirect(request, req.error("access_denied", "the user said no"))
            await in_thread(authz.remember_consent, req, session)
            consented = True
    try:
        decision = await in_thread(authz.decide, req, session, fresh=fresh, consented=consented)
    except AuthorizationError as exc:
        return _finish(browser, _error_redirect(request, exc), new_cookie)
    if decision.step == "login" or session is None:
        return _login(request, browser, req, req.login_hint or "", None, 200)
    if decision.step == "consent":
        fields = dict(req.params)
        if fresh:  # the sign-in the client asked for just happened: do not ask again
            fields.pop("max_age", None)
            prompt = " ".join(p for p in req.prompt if p not in ("login", "select_account"))
            fields["prompt"] = prompt
            if not prompt:
                del fields["prompt"]
        page = consent_page(
            action=_PATH,
            client_id=req.client.client_id,
            username=session.user.username,
            scopes=req.scopes,
            fields=fields,
            csrf=browser.csrf_token("consent"),
            target=req.redirect_uri,
        )
        return _finish(browser, page, new_cookie)
    code = await in_thread(authz.issue_code, req, session)
    response = _redirect(request, req.redirect_uri, {"code": code, "state": req.state})
    return _finish(browser, response, new_cookie)


def _login(
    request: Request,
    browser: Browser,
    req: AuthorizationRequest,
    username: str,
    error: str | None,
    status: int,
) -> Response:
    page = login_page(
        action=_PATH,
        client_id=req.client.client_id,
        fields=req.params,
        csrf=browser.csrf_token("login"),
        username=username[:256],
        error=error,
        status=status,
        target=req.redirect_uri,
    )
    browser.apply(page)
    return page


def _finish(browser: Browser, response: Response, new_cookie: str | None) -> Response:
    browser.apply(response, sso=new_cookie)
    return response


async def exchange_code(
    request: Request,
    form: dict[str, str],
    credentials: ClientCredentials,
    *,
    proof: Proof | None = None,
) -> dict[str, Any]:
    """The ``authorization_code`` grant of ``/oauth/token`` (``AuthorizationService``): the
    client authenticates through the registry, then the code is spent for it.

    A confidential client's DPoP proof is checked for replay once the client authenticated;
    a public client's proves nothing until its code and verifier do, so the token endpoint
    checks it after the exchange (``settle``)."""
    authz: AuthorizationService = request.app.state.authorization
    registry: ClientRegistry = request.app.state.oauth_clients
    registered = await registry.authenticate_client(credentials)
    if proof is not None and registered.client_type == "confidential":
        await proof.spend()
    caller = client(request)
    return await in_thread(
        authz.exchange_code, registered, form, ip=caller.ip, user_agent=caller.user_agent,
        jkt=None if proof is None else proof.jkt,
    )  # fmt: skip
