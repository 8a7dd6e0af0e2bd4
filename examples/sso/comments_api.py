"""The "comments" service: a Flask API protected by the same guard, against the same issuer.

JOTAUTH_ISSUER=http://127.0.0.1:8000 python examples/sso/comments_api.py --port 8002
"""

import argparse
import itertools
from typing import Any

from flask import Flask, abort, request
from sso_settings import guard_options  # the sibling module; the script directory is on sys.path

from jotauth.guard.flask import Guard, current_principal


def create_app(guard: Guard | None = None) -> Flask:
    """The app; tests pass their own guard, the command line builds one from the environment."""
    guard = guard or Guard(**guard_options())
    app = Flask("comments")
    guard.init_app(app)
    comments: dict[int, dict[str, Any]] = {}
    ids = itertools.count(1)

    @app.get("/health")
    def health() -> Any:
        return {"status": "ok"}

    @app.get("/comments")
    @guard.require("comments:read")
    def list_comments() -> Any:
        return {"comments": list(comments.values()), "reader": current_principal().sub}

    @app.post("/comments")
    @guard.require("comments:create")
    def create_comment() -> Any:
        data = request.get_json(silent=True) or {}
        text = data.get("text")
        if not isinstance(text, str) or not text:
            abort(400, 'send {"text": "..."}')
        comment = {"id": next(ids), "text": text, "author": current_principal().sub}
        comments[comment["id"]] = comment
        return comment, 201

    @app.delete("/comments/<int:comment_id>")
    @guard.require("comments:delete")
    def delete_comment(comment_id: int) -> Any:
        if comments.pop(comment_id, None) is None:
            abort(404)
        return "", 204

    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args()
    create_app().run(host="127.0.0.1", port=args.port)
