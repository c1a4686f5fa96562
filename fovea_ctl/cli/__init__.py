"""`fovea` command line: thin commands over the library (one module per command group)."""

from __future__ import annotations

import signal
import sys

from fovea_ctl.cli import config, images, lifecycle, logs, render, models, secrets, smoke, status, swarm, videos  # noqa: F401  (registers)
from fovea_ctl.cli import backup  # noqa: F401  (registers `backup` and `restore`)
from fovea_ctl.cli.app import app
from fovea_ctl.errors import FoveaError


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM gets the same clean stop as Ctrl-C: in-flight engine calls finish, nothing unlabelled remains.
    raise KeyboardInterrupt()


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = app(standalone_mode=False)
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
    except Exception as exc:  # click's own usage errors arrive here in standalone_mode=False
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(2)
        if isinstance(exc, click.exceptions.Abort):
            sys.stderr.write("fovea: aborted\n")
            sys.exit(130)
        raise
