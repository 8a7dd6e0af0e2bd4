"""The "articles" service: a FastAPI API protected by the jotauth guard.

    JOTAUTH_ISSUER=http://127.0.0.1:8000 python examples/sso/articles_api.py --port 8001

Every route states what it needs; FastAPI's /docs shows the lock and the "Authorize" button.
The service never calls the auth server per request: keys come from its JWKS (cached), and
logouts arrive through the revocation feed.
"""

import argparse
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel
from sso_settings import cors_origins, guard_options  # the sibling module, on sys.path
from starlette.middleware.cors import CORSMiddleware

from jotauth.guard import Principal
from jotauth.guard.fastapi import Guard


class ArticleIn(BaseModel):
    title: str
    body: str = ""


def create_app(guard: Guard | None = None, origins: tuple[str, ...] = ()) -> FastAPI:
    """The app; tests pass their own guard, the command line builds one from the environment.

    ``origins``: browser apps on other origins allowed to call it (the single-page app of
    ``spa_server.py`` sends its bearer token from its own origin, which needs CORS).
    """
    guard = guard or Guard(**guard_options())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        guard.close()  # stops the revocation poller

    app = FastAPI(title="articles", lifespan=lifespan)
    guard.install(app)
    if origins:
        # Bearer tokens only, no cookies: no credentials; the SPA may read WWW-Authenticate
        # to say why a token was refused.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["WWW-Authenticate"],
            max_age=600,
        )
    articles: dict[int, dict[str, Any]] = {1: {"id": 1, "title": "JWT explained", "author": "0"}}
    ids = itertools.count(2)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/articles")
    async def list_articles(
        user: Annotated[Principal, Depends(guard.require("articles:read"))],
    ) -> dict[str, Any]:
        return {"articles": list(articles.values()), "reader": user.sub}

    @app.post("/articles", status_code=201)
    async def create_article(
        article: ArticleIn,
        user: Annotated[Principal, Depends(guard.require("articles:create"))],
    ) -> dict[str, Any]:
        new: dict[str, Any] = {"id": next(ids), "title": article.title, "author": user.sub}
        articles[new["id"]] = new
        return new

    @app.delete("/articles/{article_id}", status_code=204)
    async def delete_article(
        article_id: int,
        user: Annotated[Principal, Depends(guard.require("articles:read"))],
    ) -> None:
        article = articles.get(article_id)
        if article is None:
            raise HTTPException(404, "no such article")
        # Object-level rule: authors delete their own; others need articles:delete.
        if article["author"] != user.sub and not user.can("articles", "delete"):
            guard.authorize(user, ["articles:delete"])  # raises -> 403 insufficient_scope
        del articles[article_id]

    return app


if __name__ == "__main__":
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(
        create_app(origins=cors_origins()), host="127.0.0.1", port=args.port, log_level="warning"
    )
