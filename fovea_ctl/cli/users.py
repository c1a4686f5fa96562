"""`fovea users add|list|disable|enable|role|reset-password`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from fovea_ctl.cli.app import app, echo_json, project

users_app = typer.Typer(help="User accounts of the app (admin, reviewer, annotator, viewer).", no_args_is_help=True)
app.add_typer(users_app, name="users")
ROLES = "admin, reviewer, annotator or viewer"


def _run(*args: str, password: str | None = None) -> None:
    from fovea_ctl.ops.users import run_users_command

    echo_json(run_users_command(project(), list(args), password))


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Username: 2-64 of a-z 0-9 . _ -")],
    role: Annotated[str, typer.Option("--role", help=ROLES)],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input")] = False,
) -> None:
    """Make an account. Without --password-stdin a one-time password is generated and printed (changed at first login)."""
    password = None
    if password_stdin:
        password = sys.stdin.read().rstrip("\r\n")
        if not password:
            from fovea_ctl.errors import UsageError

            raise UsageError("--password-stdin: nothing on standard input")
    _run("add", name, "--role", role, *(["--password-stdin"] if password_stdin else []), password=password)


@users_app.command("list")
def list_users() -> None:
    """Every account with its role, whether it is disabled, and its live sessions."""
    _run("list")


@users_app.command("disable")
def disable(name: Annotated[str, typer.Argument(help="Username")]) -> None:
    """Refuse the account's logins; its sessions end and its API tokens stop working."""
    _run("disable", name)


@users_app.command("enable")
def enable(name: Annotated[str, typer.Argument(help="Username")]) -> None:
    """Let a disabled account log in again."""
    _run("enable", name)


@users_app.command("role")
def role(name: Annotated[str, typer.Argument(help="Username")], new_role: Annotated[str, typer.Argument(help=ROLES)]) -> None:
    """Change an account's role (the last enabled admin stays one)."""
    _run("role", name, new_role)


@users_app.command("reset-password")
def reset_password(name: Annotated[str, typer.Argument(help="Username")]) -> None:
    """Print a new one-time password for the account; its sessions end."""
    _run("reset-password", name)
