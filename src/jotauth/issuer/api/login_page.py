"""The issuer's server-rendered pages: sign in, consent, sign out, and the error page.

Plain HTML forms that work without JavaScript; nothing is loaded from anywhere (one inline
stylesheet allowed by its hash in the page's own Content-Security-Policy, no script at all).
Accessible by construction: ``lang``, a label for every field, focus on the first field to
fill, errors in a ``role="alert"`` region the fields point to with ``aria-describedby``, and
visible focus rings. Every value shown is HTML-escaped.

``form-action`` allows this server and, for pages whose POST ends in a redirect to a client,
that client's origin: browsers apply ``form-action`` to the redirects that follow a submit.
"""

import base64
import hashlib
import html
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

from fastapi.responses import HTMLResponse

__all__ = ["consent_page", "error_page", "login_page", "logout_page", "message_page"]

_STYLE: Final = (
    ":root{color-scheme:light dark;--fg:#1b1f24;--muted:#57606a;--bg:#f6f8fa;--card:#fff;"
    "--line:#d0d7de;--accent:#0b5cad;--bad:#b42318}"
    "@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9da7b3;--bg:#0d1117;"
    "--card:#161b22;--line:#30363d;--accent:#4c9be8;--bad:#f97066}}"
    "*{box-sizing:border-box}body{font:16px/1.5 system-ui,sans-serif;margin:0;color:var(--fg);"
    "background:var(--bg);min-height:100vh;display:grid;place-items:center;padding:1rem}"
    "main{width:100%;max-width:24rem;background:var(--card);border:1px solid var(--line);"
    "border-radius:12px;padding:2rem}h1{font-size:1.4rem;margin:0 0 .25rem}"
    "p{margin:0 0 1.25rem;color:var(--muted)}label{display:block;font-weight:600;"
    "margin:0 0 .3rem}input[type=text],input[type=password]{width:100%;font:inherit;"
    "padding:.55rem .7rem;border:1px solid var(--line);border-radius:6px;background:var(--card);"
    "color:var(--fg);margin:0 0 1rem}input[aria-invalid=true]{border-color:var(--bad)}"
    "button{font:inherit;font-weight:600;padding:.6rem 1rem;border-radius:6px;cursor:pointer;"
    "border:1px solid var(--accent);background:var(--accent);color:#fff;width:100%}"
    "button.secondary{background:transparent;color:var(--accent);margin-top:.6rem}"
    ":focus-visible{outline:3px solid var(--accent);outline-offset:2px}"
    ".error{color:var(--bad);font-weight:600;margin:0 0 1rem}ul{margin:0 0 1.25rem;"
    "padding-left:1.2rem}code{font-size:.9em}.who{font-size:.9rem;margin:1.25rem 0 0}"
)
_STYLE_HASH: Final = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
_SCOPE_TEXT: Final = {
    "openid": "Know who you are (your account id)",
    "profile": "See your username",
    "email": "See your email address",
}
_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _policy(targets: tuple[str, ...]) -> str:
    allowed = " ".join(["'self'", *sorted({_origin(t) for t in targets})])
    return (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src data:; "
        f"base-uri 'none'; form-action {allowed}; frame-ancestors 'none'"
    )


def _page(title: str, body: str, status: int, targets: tuple[str, ...] = ()) -> HTMLResponse:
    text = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{html.escape(title)} · jotauth</title>'
        f"<style>{_STYLE}</style></head><body><main>{body}</main></body></html>"
    )
    # same-origin, not the server's usual no-referrer: under no-referrer a browser sends
    # "Origin: null" with the form's POST, and the CSRF check needs the real origin. Other
    # sites (the clients) still get no Referer, so the request's parameters never leak.
    headers = {
        **_NO_STORE,
        "Content-Security-Policy": _policy(targets),
        "Referrer-Policy": "same-origin",
    }
    return HTMLResponse(text, status_code=status, headers=headers)


def _hidden(fields: Mapping[str, str]) -> str:
    return "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in fields.items()
    )


def login_page(
    *,
    action: str,
    client_id: str,
    fields: Mapping[str, str],
    csrf: str,
    username: str = "",
    error: str | None = None,
    status: int = 200,
    target: str | None = None,
) -> HTMLResponse:
    """The sign-in form; ``fields``: the authorization request, carried to the POST."""
    invalid = ' aria-invalid="true" aria-describedby="error"' if error else ""
    alert = f'<p class="error" id="error" role="alert">{html.escape(error)}</p>' if error else ""
    focus_user = "" if username else " autofocus"
    focus_password = " autofocus" if username else ""
    body = (
        "<h1>Sign in</h1>"
        f"<p>to continue to <strong>{html.escape(client_id)}</strong></p>{alert}"
        f'<form method="post" action="{html.escape(action)}">'
        f"{_hidden(fields)}"
        f'<input type="hidden" name="jotauth_csrf" value="{html.escape(csrf)}">'
        '<input type="hidden" name="jotauth_action" value="login">'
        '<label for="username">Username</label>'
        f'<input type="text" id="username" name="username" value="{html.escape(username)}" '
        f'autocomplete="username" autocapitalize="none" spellcheck="false" required '
        f'maxlength="256"{invalid}{focus_user}>'
        '<label for="password">Password</label>'
        '<input type="password" id="password" name="password" autocomplete="current-password" '
        f'required maxlength="4096"{invalid}{focus_password}>'
        '<button type="submit">Sign in</button></form>'
    )
    return _page("Sign in", body, status, (target,) if target else ())


def consent_page(
    *,
    action: str,
    client_id: str,
    username: str,
    scopes: tuple[str, ...],
    fields: Mapping[str, str],
    csrf: str,
    target: str,
) -> HTMLResponse:
    """Ask the user to approve a third-party client's scopes."""
    items = (
        "".join(
            f"<li>{html.escape(_SCOPE_TEXT.get(s, 'Use the permission'))}"
            + ("" if s in _SCOPE_TEXT else f" <code>{html.escape(s)}</code>")
            + "</li>"
            for s in scopes
        )
        or "<li>Sign you in (no other access)</li>"
    )
    body = (
        f"<h1>Allow {html.escape(client_id)}?</h1>"
        f"<p><strong>{html.escape(client_id)}</strong> asks to:</p><ul>{items}</ul>"
        f'<form method="post" action="{html.escape(action)}">{_hidden(fields)}'
        f'<input type="hidden" name="jotauth_csrf" value="{html.escape(csrf)}">'
        '<button type="submit" name="jotauth_action" value="allow" autofocus>Allow</button>'
        '<button type="submit" name="jotauth_action" value="deny" class="secondary">'
        "Deny</button></form>"
        f'<p class="who">Signed in as <strong>{html.escape(username)}</strong></p>'
    )
    return _page("Allow access", body, 200, (target,))


def logout_page(
    *, action: str, fields: Mapping[str, str], csrf: str, target: str | None
) -> HTMLResponse:
    """Ask before signing out (a logout request without an ID token may be forged)."""
    body = (
        "<h1>Sign out?</h1><p>You will be signed out of every application you signed in to "
        "here.</p>"
        f'<form method="post" action="{html.escape(action)}">{_hidden(fields)}'
        f'<input type="hidden" name="jotauth_csrf" value="{html.escape(csrf)}">'
        '<button type="submit" name="jotauth_action" value="logout" autofocus>Sign out</button>'
        "</form>"
    )
    return _page("Sign out", body, 200, (target,) if target else ())


def message_page(title: str, text: str, status: int = 200) -> HTMLResponse:
    """A page that only says something (signed out, too many attempts...)."""
    return _page(
        title, f'<h1>{html.escape(title)}</h1><p role="status">{html.escape(text)}</p>', status
    )


def error_page(text: str, status: int = 400) -> HTMLResponse:
    """The page for a request that cannot be answered to any client (never a redirect)."""
    body = (
        "<h1>This sign-in request cannot be completed</h1>"
        f'<p class="error" role="alert">{html.escape(text)}</p>'
        "<p>Go back to the application and try again. If this keeps happening, tell its "
        "administrator.</p>"
    )
    return _page("Error", body, status)
