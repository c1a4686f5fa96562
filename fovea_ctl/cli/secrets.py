"""`fovea secrets list|show|rotate`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from fovea_ctl.cli.app import app, project

secrets_app = typer.Typer(help="Secrets: names, sources and ages; `show` is the one way to print a value.",
                          no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")


@secrets_app.command("list")
def list_secrets() -> None:
    """Names, source and age only (creates missing secrets, never prints values)."""
    p = project()
    for info in p.secrets.list():
        age = "not created yet" if info.age_s is None else f"{info.age_s / 86400:.1f} days old"
        sys.stdout.write(f"{info.name:<24} {info.source:<12} {age}\n")


@secrets_app.command("show")
def show(name: Annotated[str, typer.Argument()]) -> None:
    """Print one secret's value (the only command that does)."""
    sys.stdout.write(project().secrets.value(name) + "\n")


@secrets_app.command("rotate")
def rotate(name: Annotated[str, typer.Argument(help="The secret to change")],
           edited: Annotated[bool, typer.Option("--edited", help="Apply the value now in the file (edited by hand) "
                                                "instead of generating one")] = False) -> None:
    """A new value, applied to the data that keeps a copy (postgres role, admin hash) and to the services."""
    from fovea_ctl.core.run_progress import make_reporter
    from fovea_ctl.data.rotate import rotate_secret

    reporter = make_reporter(False)
    try:
        result = rotate_secret(project(), name, reporter, edited=edited)
    finally:
        reporter.close()
    sys.stderr.write(f"fovea: secret {name} {'applied' if edited else 'rotated'}"
                     + (f"; now in {', '.join(result.applied_to)}" if result.applied_to else "")
                     + (f"; recreated {', '.join(result.recreated)}" if result.recreated else "") + "\n")
    for note in result.notes:
        sys.stderr.write(f"  {note}\n")
