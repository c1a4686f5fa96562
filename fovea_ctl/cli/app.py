"""The Typer application and the helpers every command shares (project loading, error rendering)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

from fovea_ctl.cli import help as compose_help  # before typer: it picks typer's plain help formatter

import typer

if TYPE_CHECKING:
    from fovea_ctl.reconcile.project import Project

compose_help.install()

app = typer.Typer(
    name="fovea",
    help="Build, start, watch, back up and tear down the FOVEA stack.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from fovea_ctl import __version__

        sys.stdout.write(f"fovea {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _global_options(
    version: bool = typer.Option(False, "--version", help="Print fovea's version and exit",
                                 callback=_print_version, is_eager=True),
) -> None:
    """Build, start, watch, back up and tear down the FOVEA stack."""


def project(**overrides: object) -> Project:  # Project is imported lazily: pydantic models cost start-up time
    from pydantic import ValidationError

    from fovea_ctl.errors import UsageError
    from fovea_ctl.reconcile.project import Project
    from fovea_ctl.settings.effective import load_settings

    try:
        settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = [f"FOVEA_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']} (got {e.get('input')!r})"
                    for e in exc.errors()]
        raise UsageError("invalid settings:\n  " + "\n  ".join(problems)) from None
    return Project(settings)


def complete_service(incomplete: str) -> list[str]:
    """Service names of this project's stack for shell completion; nothing when the stack does not load
    (a completion must never print an error into the user's command line)."""
    try:
        return [name for name in project().stack.units if name.startswith(incomplete)]
    except Exception:  # noqa: BLE001 - see above
        return []


def fail(message: str, code: int) -> NoReturn:
    sys.stderr.write(f"fovea: {message}\n")
    raise typer.Exit(code)


def echo_json(model: object) -> None:
    from pydantic import BaseModel

    if isinstance(model, BaseModel):
        sys.stdout.write(model.model_dump_json(indent=2) + "\n")
    else:
        import json

        sys.stdout.write(json.dumps(model, indent=2, default=str) + "\n")
