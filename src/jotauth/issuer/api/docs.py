"""The API documentation page, from this server alone: ``/docs`` (Swagger UI).

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so ``/docs`` was a blank page on a
machine without internet access (and trusted a third party with a script on the auth
server's origin). Swagger UI comes instead from the pinned ``fastapi-offline`` package, whose
``static/`` folder ships the swagger-ui-dist bundle (its FastAPI subclass is not used: the
page needs its own policy). Starlette's ``StaticFiles`` serves three of its files under
``/docs/assets/``, revalidated by ETag rather than stored.

The page carries its own Content-Security-Policy, which the security-headers middleware
keeps: scripts, styles, images and requests from this origin only, plus the SHA-256 of the
one inline script (Swagger UI's start-up call) that FastAPI's page builder writes.

There is no ``/redoc``: the same package ships ReDoc 2.5, but its menu always loads the
Redocly logo from cdn.redoc.ly, so under this policy every view would try a third-party
request and log a violation. Swagger UI shows the same document.
"""

import base64
import hashlib
import os
import re
from typing import Final

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

__all__ = ["ASSETS", "install_docs"]

ASSETS: Final = "/docs/assets"
_PACKAGE: Final = ("fastapi_offline", "static")
_SERVED: Final = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"})
_POLICY: Final = (
    "default-src 'none'; script-src 'self'{script}; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_INLINE_SCRIPT: Final = re.compile(r"<script>(.*?)</script>", re.DOTALL)


class _Assets(StaticFiles):
    """The three files the page uses (nothing else of the package), with a policy of their
    own and revalidation instead of the server's default no-store."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path not in _SERVED:
            raise HTTPException(status_code=404)  # answered as JSON, like StaticFiles' own
        return await super().get_response(path, scope)

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["Content-Security-Policy"] = "default-src 'none'"
        return response


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    """Allow exactly the page's inline scripts, by their SHA-256 (CSP level 2 hashes)."""
    html = bytes(page.body).decode()
    hashes = "".join(
        " 'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    page.headers["Content-Security-Policy"] = _POLICY.format(script=hashes)
    page.headers["Cache-Control"] = "no-cache"
    return page


def install_docs(app: FastAPI) -> None:
    """Serve /docs and its assets on ``app`` (created with ``docs_url=None, redoc_url=None``)."""
    openapi_url = app.openapi_url or "/openapi.json"
    app.mount(ASSETS, _Assets(packages=[_PACKAGE]), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        """Swagger UI: every route, with "Try it out" and an "Authorize" button for tokens."""
        root = request.scope.get("root_path", "")
        return _with_policy(
            get_swagger_ui_html(
                openapi_url=root + openapi_url,
                title=f"{app.title} - API docs",
                swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
                oauth2_redirect_url=None,
                # No badge fetched from validator.swagger.io: nothing leaves this origin.
                swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": False},
            )
        )
