"""`coach doctor --deploy`: settings that are fine on a laptop but unsafe on a network address.

Modelled on Django's `check --deploy`: each finding names the setting, why it matters and the fix. Errors
make the command exit non-zero; warnings are advice. On a loopback address every finding is a warning,
since nobody else can reach the server.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from coach.settings import Settings
from coach.storage.doctor import Finding
from coach.web.config import MIN_SECRET_KEY_CHARS, is_loopback


def deploy_findings(settings: Settings, *, host: str) -> list[Finding]:
    """Problems of `settings` for a server listening on `host`."""
    findings: list[Finding] = []

    def error(check: str, message: str, fix: str) -> None:
        findings.append(Finding("error", check, message, fix))

    def warning(check: str, message: str, fix: str) -> None:
        findings.append(Finding("warning", check, message, fix))

    key = settings.secret_key or ""
    if not key:
        error(
            "secret_key",
            "COACH_SECRET_KEY is not set (a key generated into HOME/secret_key is not shared by other hosts "
            "and is lost with the folder).",
            f"set COACH_SECRET_KEY to {MIN_SECRET_KEY_CHARS}+ random characters: "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'",
        )
    elif len(key) < MIN_SECRET_KEY_CHARS or len(set(key)) < 5:
        error(
            "secret_key",
            f"COACH_SECRET_KEY has {len(key)} characters ({len(set(key))} different); sessions and forms are "
            f"signed with it, so it needs at least {MIN_SECRET_KEY_CHARS} random ones.",
            "generate one: python -c 'import secrets; print(secrets.token_urlsafe(48))'",
        )
    if not settings.https:
        error(
            "https",
            "COACH_HTTPS is off: passwords, cookies and answers would cross the network in clear text, cookies "
            "lack Secure and the __Host- prefix, and no HSTS header is sent.",
            "serve behind a TLS proxy and set COACH_HTTPS=1",
        )
    if getattr(settings, "mode", "production") == "development":
        error(
            "mode",
            "COACH_MODE=development publishes the API schema at /api/openapi.json.",
            "unset COACH_MODE (production is the default)",
        )
    if getattr(settings, "password_hash_cost", "production") != "production":
        error(
            "password_hash_cost",
            "COACH_PASSWORD_HASH_COST=test stores passwords with argon2's cheapest parameters.",
            "unset COACH_PASSWORD_HASH_COST",
        )
    if settings.signup_open:
        warning(
            "signup_open",
            "anyone who can reach the server can create an account (the admin can also close sign-up at run time).",
            "set COACH_SIGNUP_OPEN=0 once your users have accounts, or keep it open on purpose",
        )
    if settings.retention_days is None:
        warning(
            "retention_days",
            "answers are kept until each user deletes them.",
            "set COACH_RETENTION_DAYS if your policy limits how long practice answers are kept",
        )
    if settings.llm_base_url:
        parts = urlsplit(settings.llm_base_url)
        if parts.scheme != "https" and not is_loopback(parts.hostname or ""):
            error(
                "llm_base_url",
                f"the LLM endpoint {parts.hostname} is reached over {parts.scheme or 'an unknown scheme'}: "
                "answers of users who opt in would travel in clear text.",
                "use an https:// endpoint, or one on this machine",
            )
    for path in _private_files(settings):
        if path.exists() and path.stat().st_mode & 0o077:
            error("permissions", f"{path} can be read by other users on this machine.", f"chmod 600 {path}")
    if is_loopback(host):
        return [Finding("warning", f.check, f.message, f.fix) if f.level == "error" else f for f in findings]
    return findings


def _private_files(settings: Settings) -> list[Path]:
    files = [settings.home / "secret_key"]
    if not settings.database_url or settings.database_url.startswith("sqlite"):
        db = settings.sqlite_path if not settings.database_url else Path(settings.database_url.split("///", 1)[-1])
        files += [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    return files
