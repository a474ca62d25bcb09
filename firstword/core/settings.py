"""Settings, read once from FIRSTWORD_* environment variables by context.py.

Every field here is documented in docs/configuration.md (a test checks it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FIRSTWORD_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        default=Path("firstword-data"),
        description="Directory for the embedded SQLite database, user playbooks and exports.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; unset means SQLite (WAL) at DATA_DIR/firstword.db. "
        "Use postgresql+psycopg://user@host/db at scale.",
    )
    secret_key: str = Field(
        default="",
        description="Secret for signing webhooks and tokens; generated into DATA_DIR/secret.key "
        "when unset.",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base URL under which the web app is reachable (links in e-mails, feeds).",
    )
    retailer_name: str = Field(default="Example Retail", description="Brand name shown to users.")
    brand_logo_url: str | None = Field(
        default=None,
        pattern=r"^(?:/[^/]|data:image/)",
        description="Logo shown on the public status page: a path on this site or a data: URL "
        "(no third-party hosts, so the page loads when everything else is down).",
    )
    brand_primary_color: str = Field(
        default="#1f5fbf",
        pattern=r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$",
        description="Primary brand colour of the public status page and banner, as #rgb or "
        "#rrggbb.",
    )
    secure_cookies: bool = Field(
        default=False, description="Mark session cookies Secure (set true behind HTTPS)."
    )
    session_hours: int = Field(default=12, description="Lifetime of a staff browser session.")
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server for outgoing e-mail.")
    smtp_port: int = Field(default=25, description="SMTP port.")
    smtp_username: str | None = Field(default=None, description="SMTP user name, if any.")
    smtp_password: str | None = Field(default=None, description="SMTP password, if any.")
    smtp_starttls: bool = Field(default=False, description="Use STARTTLS on the SMTP connection.")
    mail_from: str = Field(
        default="status@example.com", description="From address of outgoing e-mail."
    )
    mail_transport: Literal["smtp", "file"] = Field(
        default="smtp",
        description='How e-mail leaves: "smtp" sends through the SMTP server; "file" writes each '
        "message as an .eml file into DATA_DIR/mail/ instead (demo and dry runs).",
    )
    sms_gateway_url: str | None = Field(
        default=None,
        description="HTTP(S) endpoint of the SMS gateway: firstword POSTs JSON {to, text, sender, "
        "reference} to it. Unset: SMS messages are dead-lettered as undeliverable.",
    )
    sms_gateway_token: str | None = Field(
        default=None, description="Bearer token sent to the SMS gateway, if it needs one."
    )
    sms_sender_id: str = Field(
        default="", description="Sender name or number the SMS gateway shows (empty: its default)."
    )
    webhook_allow_private_targets: bool = Field(
        default=False,
        description="Allow status-page webhook subscriptions to private, loopback and link-local "
        "addresses (off: such URLs are refused, against SSRF). For tests and closed networks.",
    )
    outbox_batch_size: int = Field(default=50, description="Messages a worker claims at once.")
    outbox_lease_seconds: int = Field(
        default=60,
        description="How long a claimed batch stays reserved for its worker before another "
        "worker may take it over (a crashed worker's batch is picked up after this).",
    )
    outbox_max_attempts: int = Field(
        default=8, description="Attempts before a transiently failing message is dead-lettered."
    )
    outbox_backoff_base_seconds: float = Field(
        default=5.0, description="First retry delay; doubles per attempt, with full jitter."
    )
    outbox_backoff_max_seconds: float = Field(
        default=3600.0, description="Upper bound on a single retry delay."
    )
    public_rate_limit_per_minute: int = Field(
        default=120, description="Requests per minute one client may make to public endpoints."
    )
    login_rate_limit_per_minute: int = Field(
        default=10, description="Sign-in attempts per minute per client address."
    )
    subscribe_rate_limit_per_minute: int = Field(
        default=10,
        description="Status-page subscription requests (subscribe, enter an SMS code) per minute "
        "per client address.",
    )

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'firstword.db').resolve()}"

    @property
    def user_playbooks_dir(self) -> Path:
        return self.data_dir / "playbooks"

    @property
    def user_components_file(self) -> Path:
        return self.data_dir / "components.yaml"
