"""All configuration in one object, read from COACH_* environment variables and passed in explicitly."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("interview-coach", appauthor=False))


class Settings(BaseSettings):
    """Every setting has a description; docs/configuration.md lists them (a test keeps that true)."""

    model_config = SettingsConfigDict(env_prefix="COACH_", extra="ignore")

    home: Path = Field(default_factory=default_home, description="Folder for the SQLite database, drafts and backups.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; empty means SQLite at HOME/coach.db. PostgreSQL: postgresql+psycopg://user@host/db",
    )
    packs_dir: Path | None = Field(
        default=None, description="Folder of extra question packs (YAML) loaded with the shipped ones."
    )
    embedder: str = Field(
        default="onnx",
        description="Embedding backend: onnx (default), numpy (no extra runtime) or sentence-transformers.",
    )
    secret_key: str | None = Field(
        default=None, description="Server secret (50+ characters); required when not bound to localhost."
    )
    https: bool = Field(
        default=False, description="Set when served over HTTPS: Secure cookies with the __Host- prefix and HSTS."
    )
    signup_open: bool = Field(
        default=True, description="Whether new accounts may sign up (the admin can change it at run time)."
    )
    retention_days: int | None = Field(
        default=None,
        description="Delete answers older than this many days; empty keeps them until the user deletes them.",
    )
    trusted_proxies: str = Field(
        default="", description="Comma-separated proxy addresses whose X-Forwarded-For is believed."
    )
    llm_base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint for the optional LLM interviewer and coach."
    )
    llm_model: str | None = Field(default=None, description="Model name sent to the LLM endpoint.")
    llm_api_key: str | None = Field(default=None, description="API key for the LLM endpoint, if it needs one.")
    llm_timeout: float = Field(default=30.0, description="Seconds before an LLM call is abandoned.")
    llm_enabled: bool = Field(
        default=True, description="Set to false to switch the LLM features off without removing the endpoint."
    )
    llm_max_tokens: int = Field(default=600, ge=16, description="Most tokens one LLM call may generate.")
    llm_max_concurrency: int = Field(default=2, ge=1, description="LLM calls in flight at once, per server process.")
    llm_quota_per_hour: int = Field(
        default=60, ge=0, description="LLM calls each user may make per rolling hour (0: no limit)."
    )
    llm_response_format: Literal["json_schema", "json_object", "none"] = Field(
        default="json_schema",
        description="How to ask for JSON: json_schema (OpenAI form), json_object (llama-cpp-python) or none.",
    )
    mode: Literal["production", "development"] = Field(
        default="production",
        description="development serves the OpenAPI schema at /api/openapi.json; production hides it.",
    )
    password_hash_cost: Literal["production", "test"] = Field(
        default="production",
        description="argon2id cost: production (m=19 MiB, t=2, p=1, as ASVS 5.0 asks) or test (cheapest; "
        "for the test suite only, refused by `coach serve` on anything but a loopback address).",
    )
    max_body_bytes: int = Field(default=1024 * 1024, description="Largest request body accepted (413 above it).")

    @property
    def sqlite_path(self) -> Path:
        return self.home / "coach.db"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    def extra_pack_dirs(self) -> list[Path]:
        return [self.packs_dir] if self.packs_dir else []
