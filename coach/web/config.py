"""The web app's settings: the shared Settings plus the few options only the web shell reads.

They live in a subclass for now so the web app can ship without touching coach/settings.py; they read the
same COACH_* environment and are meant to move into Settings (with docs/configuration.md) as they are.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field

from coach.settings import Settings

MIN_SECRET_KEY_CHARS = 50


class WebSettings(Settings):
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


def as_web_settings(settings: Settings) -> WebSettings:
    """Accept a plain Settings (the web options then take their defaults)."""
    if isinstance(settings, WebSettings):
        return settings
    return WebSettings.model_validate(settings.model_dump())


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_secret_key(settings: Settings) -> str:
    """The configured secret key, or one generated once and kept (mode 0600) in HOME/secret_key.

    A file rather than a per-process value, so that several workers and restarts agree on it.
    """
    if settings.secret_key:
        return settings.secret_key
    path: Path = settings.home / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written to a private temporary file, then linked into place: another worker starting at the same
    # moment either sees no file or the whole key, and the loser of the race reads the winner's key.
    temporary = path.with_name(f".secret_key.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_urlsafe(48))
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_text().strip()
