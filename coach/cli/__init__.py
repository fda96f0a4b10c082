"""The `coach` command: parses input, calls the core, renders. Each group lives in its own module."""

from __future__ import annotations

import sys

import typer

from coach.cli import bank as bank_cli
from coach.cli.common import console, run_safely

app = typer.Typer(
    name="coach",
    help="Rehearse Responsible-AI and AI-ethics interviews offline: question bank, mock interviews, feedback.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
)
app.add_typer(bank_cli.app, name="bank")


def _register() -> None:
    # Command groups register themselves on import; keeping the imports here avoids import cycles.
    from coach.cli import grade as grade_cli

    grade_cli.register(app)
    from coach.cli import db as db_cli
    from coach.cli import doctor as doctor_cli
    from coach.cli import practice as practice_cli
    from coach.cli import progress as progress_cli

    practice_cli.register(app)
    progress_cli.register(app)
    app.add_typer(db_cli.app, name="db")
    doctor_cli.register(app)
    from coach.cli import serve  # noqa: F401 - `coach serve` registers itself on import


_register()


def main() -> None:
    """Entry point for the console script."""
    run_safely(app, sys.argv[1:])


__all__ = ["app", "console", "main"]
