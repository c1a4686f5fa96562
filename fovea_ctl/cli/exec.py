"""`fovea exec`, `fovea psql`, `fovea redis-cli`, `fovea shell` (ops/exec)."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from fovea_ctl.cli.app import app, complete_service, project

# Everything after SERVICE belongs to the command: `fovea exec backend ls -la /` must not parse `-la`.
PASS_THROUGH = {"ignore_unknown_options": True, "allow_interspersed_args": False}
NoTty = Annotated[bool, typer.Option("--no-tty", "-T", help="No pseudo-TTY, even when stdin is a terminal")]


def _tty(no_tty: bool) -> bool:
    return not no_tty and sys.stdin.isatty() and sys.stdout.isatty()


@app.command("exec", context_settings=PASS_THROUGH)
def exec_(
    service: Annotated[str, typer.Argument(help="A running service", show_default=False, autocompletion=complete_service)],
    command: Annotated[list[str], typer.Argument(help="The command and its arguments", show_default=False)],
    no_tty: NoTty = False,
    user: Annotated[Optional[str], typer.Option("--user", "-u", help="Run as this user (name or uid)")] = None,
) -> None:
    """Run a command in a running service (a TTY when stdin is one); exits with the command's code."""
    from fovea_ctl.ops.exec import exec_in

    raise typer.Exit(exec_in(project(), service, command, tty=_tty(no_tty), user=user))


@app.command()
def psql(
    sql: Annotated[Optional[str], typer.Argument(help="Run this SQL and exit (default: an interactive session)",
                                                 show_default=False)] = None,
    no_tty: NoTty = False,
) -> None:
    """psql into the application's database as its superuser over the container's socket (no password)."""
    from fovea_ctl.ops.exec import psql as run_psql

    raise typer.Exit(run_psql(project(), sql, tty=_tty(no_tty)))


@app.command("redis-cli", context_settings=PASS_THROUGH)
def redis_cli(
    args: Annotated[Optional[list[str]], typer.Argument(help="redis-cli arguments (default: interactive)",
                                                        show_default=False)] = None,
    no_tty: NoTty = False,
) -> None:
    """redis-cli in the Redis container, authenticated from its secret file (never typed, printed or in argv)."""
    from fovea_ctl.ops.exec import redis_cli_in

    raise typer.Exit(redis_cli_in(project(), args or [], tty=_tty(no_tty)))


@app.command()
def shell(
    service: Annotated[str, typer.Argument(help="A running service", show_default=False, autocompletion=complete_service)],
    no_tty: NoTty = False,
) -> None:
    """An interactive shell (bash, else sh) in a running service."""
    from fovea_ctl.ops.exec import shell as run_shell

    raise typer.Exit(run_shell(project(), service, tty=_tty(no_tty)))
