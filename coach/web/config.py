"""Helpers the web shell needs around the shared Settings: loopback detection and the secret key."""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

from coach.settings import Settings

MIN_SECRET_KEY_CHARS = 50


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
