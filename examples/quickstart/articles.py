import os
from typing import Annotated

from fastapi import Depends, FastAPI

from jotauth.guard import Principal, RevocationFeed
from jotauth.guard.fastapi import Guard

ISSUER = "http://127.0.0.1:8000"
guard = Guard(
    issuer=ISSUER,  # keys come from its discovery document and JWKS
    audience="jotauth",
    revocation=RevocationFeed(issuer=ISSUER, service_token=os.environ["JOTAUTH_SERVICE_TOKEN"]),
)
app = FastAPI()
guard.install(app)


@app.get("/articles")
async def articles(user: Annotated[Principal, Depends(guard.require("articles:read"))]):
    return {"hello": user.sub}
