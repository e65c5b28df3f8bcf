"""A token issuer for tests that need tokens no real provider hands out on request:
expired, addressed to another audience, signed with another key. It serves discovery
and its JWKS (serve `app()` with `serve_in_thread`, then set `url`) and signs RS256 JWTs
with whatever claims a test asks for."""

from __future__ import annotations

import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

AUDIENCE = "api://exos"


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**public, "kid": kid, "use": "sig", "alg": "RS256"}


class Issuer:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.url = ""

    def app(self) -> FastAPI:
        issuer = FastAPI()

        @issuer.get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, str]:
            return {"issuer": self.url, "jwks_uri": f"{self.url}/keys"}

        @issuer.get("/keys")
        async def keys() -> dict[str, Any]:
            return {"keys": [_jwk(self.key, "k1")]}

        return issuer

    def token(self, key: rsa.RSAPrivateKey | None = None, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "ann",
            "iat": now,
            "exp": now + 300,
            "roles": ["viewer"],
        }
        claims.update(overrides)
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": "k1"})
