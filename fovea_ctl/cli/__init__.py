"""`fovea` command line: thin commands over the library (one module per command group).

`fovea status [--json]` is answered before typer is imported (fovea_ctl.ops.status.fast_main): typer, click,
rich and pydantic cost several times what the command itself does. Anything that path cannot answer
exactly (other options, --help, a stack it has not seen) falls through to the typer app below, the one
parser of every verb.
"""

from __future__ import annotations

import os
import signal
import sys


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM gets the same clean stop as Ctrl-C: in-flight engine calls finish, nothing unlabelled remains.
    raise KeyboardInterrupt()


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    if sys.argv[1:2] == ["status"]:
        from fovea_ctl.ops.status import fast_main

        try:
            code = fast_main(sys.argv[2:])
        except KeyboardInterrupt:
            sys.stderr.write("fovea: interrupted\n")
            sys.exit(130)
        if code is not None:
            _exit_at_once(code)
    _typer_main()


def _exit_at_once(code: int) -> None:
    """Exit without the interpreter's teardown (module and thread clean-up: ~8 ms of a ~40 ms `status`),
    which a read-only command that has written and flushed everything does not need."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # `fovea status | head -1`: what was wanted has been read
        pass
    os._exit(code)


def _typer_main() -> None:
    from fovea_ctl.cli import config, images, lifecycle, logs, render, models, secrets, smoke, status, swarm, users, videos  # noqa: F401  (registers)
    from fovea_ctl.cli import exec, ops  # noqa: F401  (registers the operator verbs)
    from fovea_ctl.cli import backup  # noqa: F401  (registers `backup` and `restore`)
    from fovea_ctl.cli.app import app
    from fovea_ctl.errors import FoveaError

    try:
        code = app(standalone_mode=False, prog_name="fovea")  # also under `python -m fovea_ctl`
        if isinstance(code, int) and code:
            sys.exit(code)
    except FoveaError as exc:
        sys.stderr.write(f"fovea: {exc}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("fovea: interrupted\n")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # the installed click's usage errors arrive here in standalone_mode=False
        handled = _usage_exit_code(exc)
        if handled is None:
            raise
        sys.exit(handled)


def _usage_exit_code(exc: Exception) -> int | None:
    """One line and exit 2 for a usage error of the click that the installed typer runs on.

    typer >= 0.29 vendors click as `typer._click`, whose exceptions are not `click.exceptions`: the
    classes are taken from typer's own `BadParameter`, so either layout matches.
    """
    import typer

    click_exceptions = sys.modules[typer.BadParameter.__module__]
    if isinstance(exc, click_exceptions.UsageError):
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # plain `fovea`: the help is the answer
            return 2
        command = exc.ctx.command_path if exc.ctx is not None else "fovea"
        sys.stderr.write(f"fovea: {exc.format_message()} (see `{command} --help`)\n")
        return 2
    if isinstance(exc, click_exceptions.ClickException):
        sys.stderr.write(f"fovea: {exc.format_message()}\n")
        exit_code: int = exc.exit_code  # the class is looked up at run time (above), so mypy sees Any
        return exit_code
    if isinstance(exc, typer.Abort):
        sys.stderr.write("fovea: aborted\n")
        return 130
    return None
