"""What every command shares: consoles, settings, the bank, and turning domain errors into exit codes."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import typer
from rich.console import Console

from coach.errors import CoachError
from coach.settings import Settings

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def settings() -> Settings:
    return Settings()


def load_bank(packs: Path | None = None):
    """The shipped packs plus COACH_PACKS_DIR and --packs; the shipped bank alone is parsed once."""
    from coach.bank.loader import load_bank as _load

    s = settings()
    extra: list[Path] = []
    if s.packs_dir:
        extra.append(s.packs_dir)
    if packs:
        extra.append(packs)
    if not extra:
        from coach.api import shipped_bank

        return shipped_bank()
    return _load(extra)


def fail(error: CoachError) -> typer.Exit:
    err_console.print(f"[bold red]Error:[/] {error.message}", markup=True, soft_wrap=True)
    return typer.Exit(code=error.exit_code)


def run_safely(app: typer.Typer, args: Sequence[str]) -> None:
    """Run the Typer app; a CoachError anywhere becomes its message and exit code, never a traceback."""
    try:
        app(args=list(args), standalone_mode=True)
    except CoachError as exc:
        err_console.print(f"[bold red]Error:[/] {exc.message}", soft_wrap=True)
        sys.exit(exc.exit_code)


def friendly(func):
    """Decorate a command so a CoachError prints its message and exits with its code (also under CliRunner)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except CoachError as exc:
            raise fail(exc) from None

    return wrapper
