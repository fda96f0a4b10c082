"""`coach grade` and `coach eval` (filled in by the grader work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    return None
