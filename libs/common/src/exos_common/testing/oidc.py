"""A real OpenID Connect provider for tests: `oidc-provider-mock` (built on Authlib) on
127.0.0.1 in a thread. Any client id and redirect URI are accepted; users are whoever
the login form is given, with the claims a test sets for them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from oidc_provider_mock import run_server_in_thread


class OidcProvider:
    def __init__(self, url: str) -> None:
        self.url = url  # also the issuer (`iss`) of its tokens

    def set_user(self, sub: str, claims: Mapping[str, Any]) -> None:
        """The claims the user's tokens carry from now on (e.g. `roles`, `groups`)."""
        answer = httpx.put(f"{self.url}/users/{sub}", json=dict(claims), timeout=10)
        answer.raise_for_status()

    def revoke(self, sub: str) -> None:
        """The user's access and refresh tokens stop working."""
        httpx.post(f"{self.url}/users/{sub}/revoke-tokens", timeout=10).raise_for_status()

    def sign_in(self, authorization_url: str, sub: str) -> str:
        """Submits the provider's login form as `sub`; returns where the provider sends
        the browser back (the client's redirect URI with `code` and `state`)."""
        answer = httpx.post(authorization_url, data={"sub": sub}, timeout=10)
        assert answer.status_code == 302, answer.text
        return answer.headers["location"]

    def token(
        self, client_id: str, sub: str, redirect_uri: str = "http://client/cb"
    ) -> dict[str, Any]:
        """Tokens the provider issues to `client_id` for `sub` (the code flow, done
        directly): e.g. an ID token addressed to another application."""
        query = httpx.QueryParams(
            {
                "client_id": client_id,
                "response_type": "code",
                "scope": "openid profile email",
                "redirect_uri": redirect_uri,
                "nonce": "n",
            }
        )
        back = self.sign_in(f"{self.url}/oauth2/authorize?{query}", sub)
        code = parse_qs(urlsplit(back).query)["code"][0]
        answer = httpx.post(
            f"{self.url}/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": client_id,
                "client_secret": "any",
            },
            timeout=10,
        )
        answer.raise_for_status()
        return dict(answer.json())


@contextmanager
def oidc_provider() -> Iterator[OidcProvider]:
    with run_server_in_thread() as server:
        yield OidcProvider(f"http://localhost:{server.server_port}")
