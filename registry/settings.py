"""All configuration, read once from ``REGISTRY_*`` environment variables."""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The notice's copy has the group's privacy mailbox redacted: until it is configured, the
# record says so in its place, lists it as a gap, and builds no document that would give it.
PRIVACY_CONTACT_PLACEHOLDER = (
    "the group privacy mailbox (redacted in the notice: set REGISTRY_PRIVACY_CONTACT)"
)


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class CompiledPlans(StrEnum):
    """Whether covered queries are answered by a compiled plan (graphql/compiled/)."""

    ON = "on"
    OFF = "off"
    # Both ways, compared: a difference is logged and answered as an internal error.
    VERIFY = "verify"


class Settings(BaseSettings):
    """Configuration of one registry process.

    The embedded default needs nothing: an SQLite file under ``var_dir``.
    """

    model_config = SettingsConfigDict(env_prefix="REGISTRY_", frozen=True)

    env: Environment = Environment.DEVELOPMENT
    var_dir: Path = Path("var")
    # A URL may carry a password: kept secret so it never shows in a repr or a log.
    database_url: SecretStr | None = None
    # The audit log lives apart from the data it watches (R-ACC-6): never the same database.
    audit_database_url: SecretStr | None = None
    audit_signing_key_file: Path | None = None
    # Key encryption keys and the index/field secrets; production supplies a secret file.
    keyring_file: Path | None = None
    # KEKs in a KMS instead (the AWS KMS API), comma-separated key IDs or ARNs: the first is
    # the primary, the others stay to unwrap. The file keeps the index and field secrets.
    # Credentials come from the AWS tools' usual places, never from here.
    kms_key_ids: str | None = None
    # Another server than AWS's (a KMS of another provider, a test's); and the region.
    kms_endpoint: str | None = None
    kms_region: str | None = None
    blob_dir: Path | None = None
    # Sealed audio in a bucket of S3-compatible storage instead (`s3://bucket/prefix`); the
    # rest of the blob_s3_* settings go with it. Unset credentials come from the AWS tools'
    # usual places (AWS_* variables, the instance's role).
    blob_url: str | None = Field(default=None, pattern=r"^s3://[^/]+(/.*)?$")
    blob_s3_endpoint: str | None = None
    blob_s3_region: str | None = None
    blob_s3_access_key_id: str | None = None
    blob_s3_secret_access_key: SecretStr | None = None
    # Plain HTTP to the endpoint: only for a server on a trusted network, such as loopback.
    blob_s3_allow_http: bool = False
    # The retention sweep run inside the server every so many seconds (0: run `registry sweep`).
    sweep_interval_seconds: float = Field(default=0, ge=0)
    auto_migrate: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    privacy_contact: str = Field(
        default=PRIVACY_CONTACT_PLACEHOLDER,
        description="Contact of the joint controllers for Art. 30(1)(a) and rights requests.",
    )
    max_page_size: int = 100
    # Answers to read-only inventory queries, kept until the record changes (0 turns it off).
    response_cache_entries: int = 64
    response_cache_bytes: int = 64 * 1024 * 1024
    # Execution past this is cancelled and rolled back: one slow query must not hold a worker.
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    # Per principal and process: a steady rate, and how many may come at once (0 turns it off).
    rate_limit_per_minute: int = Field(default=600, ge=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    # A console session left untouched this long is over: the browser must sign in again.
    console_idle_minutes: int = Field(default=15, gt=0)
    # An upload of audio: refused past this size, and given up (nothing kept) past this time.
    max_upload_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    upload_timeout_seconds: float = Field(default=900.0, gt=0)
    # Requests without a valid token, per client address: a burst, then a steady rate;
    # past it they are refused before any database work, and audited as one count
    # per address and minute (0 turns it off).
    sign_in_failures_per_minute: int = Field(default=10, ge=0)
    sign_in_failures_burst: int = Field(default=20, ge=1)
    # What a GraphQL query may cost (the objects its answer may hold, see graphql/cost.py):
    # at most this much per request, and this much per principal and process in a minute,
    # spent at once or steadily (0 turns either off).
    max_query_cost: int = Field(default=50_000, ge=0)
    query_cost_per_minute: int = Field(default=200_000, ge=0)
    # A /graphql body larger than this is refused before it is read further, let alone parsed.
    graphql_max_body_bytes: int = Field(default=256 * 1024, ge=1)
    # Covered read queries skip graphql-core's field-by-field execution (graphql/compiled/).
    compiled_plans: CompiledPlans = CompiledPlans.ON
    # The bearer token a Prometheus scraper sends to /metrics; unset, /metrics is not served.
    # Long enough that guessing it, at the pace the throttle allows, is hopeless.
    metrics_token: SecretStr | None = Field(default=None, min_length=24)
    seeds_dir: Path = Path(__file__).resolve().parent.parent / "seeds"
    # Sign-in to the console through the company's identity provider (access/oidc.py);
    # no issuer, no OIDC. The secret is kept out of every repr and log.
    oidc_issuer: str | None = Field(default=None, pattern=r"^https?://")
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid profile email"
    # The provider's name on the sign-in button ("Sign in with ..."); unset, the issuer's host.
    oidc_display_name: str | None = Field(default=None, min_length=1, max_length=80)
    # The ID token's claim that lists the person's groups, and which of its values stands
    # for which registry role (JSON: {"qa-team": "qa_specialist"}). The claims only cap the
    # roles an administrator granted in the registry (R-ACC-7), they never grant one.
    oidc_role_claim: str = "groups"
    oidc_role_map: dict[str, str] = Field(default_factory=dict)

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite+aiosqlite:///{self.var_dir / 'registry.db'}"

    @cached_property
    def resolved_audit_database_url(self) -> str:
        if self.audit_database_url is not None:
            return self.audit_database_url.get_secret_value()
        return f"sqlite+aiosqlite:///{self.var_dir / 'audit.db'}"

    @property
    def resolved_keyring_file(self) -> Path:
        return self.keyring_file or self.var_dir / "keyring.json"

    @property
    def kms_key_id_list(self) -> list[str]:
        return [key_id.strip() for key_id in (self.kms_key_ids or "").split(",") if key_id.strip()]

    @property
    def resolved_blob_dir(self) -> Path:
        return self.blob_dir or self.var_dir / "blobs"

    @property
    def signing_key_file(self) -> Path:
        return self.audit_signing_key_file or self.var_dir / "audit-signing.key"

    @model_validator(mode="after")
    def _audit_apart(self) -> Settings:
        if self.resolved_audit_database_url == self.resolved_database_url:
            raise ValueError("the audit log needs a database of its own (R-ACC-6)")
        return self

    @model_validator(mode="after")
    def _a_request_fits_the_budget(self) -> Settings:
        budget, most = self.query_cost_per_minute, self.max_query_cost
        if budget and most and most > budget:
            raise ValueError("max_query_cost is more than query_cost_per_minute allows")
        return self

    @model_validator(mode="after")
    def _one_blob_store(self) -> Settings:
        if self.blob_url is not None and self.blob_dir is not None:
            raise ValueError(
                "the blobs are in a folder (blob_dir) or a bucket (blob_url), not both"
            )
        return self

    @model_validator(mode="after")
    def _oidc_names_its_client(self) -> Settings:
        if self.oidc_issuer is not None and not self.oidc_client_id:
            raise ValueError("oidc_issuer needs oidc_client_id: the registry's client there")
        return self

    @property
    def oidc_enabled(self) -> bool:
        return self.oidc_issuer is not None

    @property
    def configured_privacy_contact(self) -> str | None:
        """The group's privacy contact, or None while it is unset, blank or the placeholder."""
        contact = self.privacy_contact.strip()
        return contact if contact and contact != PRIVACY_CONTACT_PLACEHOLDER else None

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def bootstrap_token_file(self) -> Path:
        return self.var_dir / "bootstrap-token"
