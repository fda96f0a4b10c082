"""`coach doctor`: check the database (and with --deploy, the settings for a network server) and say how
to fix each problem. Read-only; exits 1 when something must be fixed."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from coach.cli.common import console, friendly, settings

MARKS = {"error": "[red]error[/]", "warning": "[yellow]warning[/]", "ok": "[green]ok[/]"}


def register(app: typer.Typer) -> None:
    @app.command("doctor")
    @friendly
    def doctor(
        deploy: Annotated[
            bool, typer.Option("--deploy", help="Also check the settings for serving on a network address.")
        ] = False,
        host: Annotated[
            str, typer.Option("--host", help="With --deploy: the address the server will listen on.")
        ] = "0.0.0.0",  # noqa: S104 - the address being checked, not one we bind
        database_url: Annotated[
            str | None, typer.Option("--database-url", help="SQLAlchemy URL (default: COACH_DATABASE_URL).")
        ] = None,
    ) -> None:
        """Check the database: damage (quick_check), a missing WAL, the schema version, file permissions."""
        from coach.storage.doctor import diagnose

        s = settings()
        if database_url:
            s = s.model_copy(update={"database_url": database_url})
        console.print(f"Database: {escape(s.resolved_database_url.split('@')[-1])}")
        findings = diagnose(s.resolved_database_url)
        if deploy:
            from coach.web.deploy import deploy_findings

            findings += deploy_findings(s, host=host)
        for finding in findings:
            line = f"{MARKS[finding.level]} {escape(f'[{finding.check}]')} {escape(finding.message)}"
            if finding.fix:
                line += f"\n    Fix: {escape(finding.fix)}"
            console.print(line, soft_wrap=True)
        errors = sum(finding.level == "error" for finding in findings)
        warnings = sum(finding.level == "warning" for finding in findings)
        console.print(f"{errors} error(s), {warnings} warning(s).")
        if errors:
            raise typer.Exit(code=1)
