"""Settings of the gateway (EXOS_* variables): where the read services are, and who may
use the portal and `/api`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from exos_common.settings import RuntimeSettings, ServiceTrustSettings, split_list
from exos_gateway.roles import parse_group_roles, parse_token_entries

# The repository's paths: `services/gateway/web` (npm ci by scripts/setup.sh) and `docs/`.
_REPO = Path(__file__).resolve().parents[4]
DEFAULT_WEB_DIR = _REPO / "services" / "gateway" / "web"
DEFAULT_DOCS_DIR = _REPO / "docs"


class GatewaySettings(RuntimeSettings, ServiceTrustSettings):
    query_api_url: str = Field(
        "http://127.0.0.1:8093", description="Base URL of query-api (distributed mode)."
    )
    replay_url: str = Field("http://127.0.0.1:8094", description="Base URL of replay.")
    insights_url: str = Field("http://127.0.0.1:8095", description="Base URL of insights.")
    enrich_url: str = Field(
        "http://127.0.0.1:8091", description="Base URL of enrich (serves `/api/visitor`)."
    )
    gateway_upstream_timeout_s: float = Field(
        60.0, gt=0, description="Longest wait for a read service's answer (then 504)."
    )
    gateway_auth: Literal["tokens", "oidc", "none"] = Field(
        "tokens",
        description="Who may use the portal and `/api`: `tokens` (EXOS_GATEWAY_TOKENS), "
        "`oidc` (bearer tokens of an OpenID Connect issuer) or `none` (open; refused in "
        "production). `exos up` runs open on localhost.",
    )
    gateway_tokens: SecretStr | None = Field(
        None,
        description="Comma-separated local access tokens, each `name:token:role` (role "
        "`viewer`, `analyst` or `admin`; a bare `token` or `name:token` is an admin): "
        "`tokens` auth, and service accounts beside `oidc`. Keep them in a Kubernetes secret.",
    )
    gateway_oidc_issuer: str | None = Field(
        None, description="OIDC issuer URL (`iss` of the tokens), for `oidc` auth."
    )
    gateway_oidc_audience: str | None = Field(
        None,
        description="Expected `aud` of OIDC bearer tokens (the API's client id / app id "
        "URI); required with `oidc`, so tokens issued to other applications are refused.",
    )
    gateway_oidc_client_id: str | None = Field(
        None,
        description="Client id of the portal's app registration: turns on browser sign-in "
        "(authorization code + PKCE) and is the `aud` of the ID tokens it receives.",
    )
    gateway_oidc_client_secret: SecretStr | None = Field(
        None,
        description="Client secret of the portal's app registration (confidential client, "
        "as Entra ID web apps); empty for a public client (PKCE only).",
    )
    gateway_oidc_redirect_url: str | None = Field(
        None,
        description="The portal's sign-in callback as registered at the provider, e.g. "
        "`https://exos.example.com/auth/callback` (default: this request's own URL).",
    )
    gateway_oidc_scopes: str = Field(
        "openid profile email offline_access",
        description="Scopes asked at sign-in (`offline_access`: a refresh token, so a "
        "session outlives its first ID token without a new sign-in).",
    )
    gateway_oidc_roles_claim: str = Field(
        "roles", description="Token claim holding the user's role names (Entra ID app roles)."
    )
    gateway_oidc_groups_claim: str = Field(
        "groups", description="Token claim holding the user's group ids."
    )
    gateway_oidc_group_roles: str = Field(
        "",
        description="Comma-separated `group-id=role` entries: members of a group get its "
        "role (the highest wins); a user with no role gets 403.",
    )
    gateway_session_secret: SecretStr | None = Field(
        None,
        description="Key material sealing the portal's session cookies; the same on every "
        "gateway replica, required in production (elsewhere a key made at start-up, so a "
        "restart signs everyone out). Keep it in a Kubernetes secret.",
    )
    gateway_session_max_age_s: int = Field(
        8 * 3600,
        gt=0,
        description="Longest a portal session lasts before a new sign-in, however often "
        "its tokens are refreshed.",
    )
    allowed_hosts: str = Field(
        "",
        description="Comma-separated extra Host names `exos up` answers on its portal port "
        "(besides localhost, 127.0.0.1, [::1] and the bind address); others get 400.",
    )
    gateway_oidc_jwks_url: str | None = Field(
        None,
        description="JWKS URL of the issuer (default: from the issuer's "
        "`/.well-known/openid-configuration`).",
    )
    gateway_oidc_algorithms: str = Field(
        "RS256,ES256", description="Comma-separated signature algorithms accepted."
    )
    gateway_cookie_secure: bool = Field(
        True,
        description="Send the portal's session cookie only over HTTPS (turn off only for "
        "plain-HTTP development).",
    )
    gateway_instrument: bool = Field(
        False,
        description="The portal sends its own telemetry (HyperDX browser SDK) to ingest.",
    )
    gateway_instrument_url: str = Field(
        "http://127.0.0.1:4318", description="Ingest URL the portal's SDK sends to."
    )
    gateway_instrument_api_key: str = Field(
        "", description="Ingest API key of the portal's SDK (visible to browsers by nature)."
    )
    gateway_web_dir: Path = Field(
        default_factory=lambda: DEFAULT_WEB_DIR,
        description="Folder holding the portal's `node_modules` (Chart.js, the HyperDX "
        "browser SDK; npm, pinned), served under `/assets/vendor/`; default the "
        "repository's `services/gateway/web`.",
    )
    gateway_docs_dir: Path = Field(
        default_factory=lambda: DEFAULT_DOCS_DIR,
        description="Folder of the markdown documents the portal's Docs page (`/guide`) "
        "renders; default the repository's `docs/`.",
    )

    @model_validator(mode="after")
    def _auth_is_configured(self) -> GatewaySettings:
        if self.gateway_auth == "tokens" and not self.tokens:
            raise ValueError(
                "EXOS_GATEWAY_AUTH=tokens needs EXOS_GATEWAY_TOKENS (or use oidc; "
                "`none` only outside production)"
            )
        if self.gateway_auth == "oidc" and not self.gateway_oidc_issuer:
            raise ValueError("EXOS_GATEWAY_AUTH=oidc needs EXOS_GATEWAY_OIDC_ISSUER")
        if self.gateway_auth == "oidc" and not self.gateway_oidc_audience:
            # Without it any token of the issuer would do, whoever it was issued to.
            raise ValueError("EXOS_GATEWAY_AUTH=oidc needs EXOS_GATEWAY_OIDC_AUDIENCE")
        if (
            self.environment == "production"
            and self.gateway_auth != "none"
            and not self.gateway_session_secret
        ):
            # A key per replica would make each replica refuse the others' sessions.
            raise ValueError(
                "EXOS_ENVIRONMENT=production needs EXOS_GATEWAY_SESSION_SECRET (the same on "
                "every gateway replica)"
            )
        # Malformed entries stop the start rather than lock people out later.
        parse_token_entries(self.tokens)
        parse_group_roles(self.group_roles_entries)
        if self.gateway_auth == "none" and self.environment == "production":
            raise ValueError("EXOS_GATEWAY_AUTH=none is refused when EXOS_ENVIRONMENT=production")
        return self

    @property
    def tokens(self) -> list[str]:
        secret = self.gateway_tokens.get_secret_value() if self.gateway_tokens else None
        return split_list(secret)

    @property
    def group_roles_entries(self) -> list[str]:
        return split_list(self.gateway_oidc_group_roles)

    @property
    def extra_allowed_hosts(self) -> list[str]:
        return split_list(self.allowed_hosts)

    @property
    def oidc_algorithms(self) -> list[str]:
        return split_list(self.gateway_oidc_algorithms)
