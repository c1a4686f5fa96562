"""`fovea smoke`: a throwaway stack, end-to-end checks, teardown; one exit code for CI."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from fovea_ctl.cli.app import app, echo_json, project


@app.command()
def smoke(
    keep: Annotated[bool, typer.Option("--keep", help="Leave the smoke project running (to debug it)")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Bound the whole run (seconds)")] = 900.0,
    json_out: Annotated[bool, typer.Option("--json", help="The result as JSON on stdout")] = False,
) -> None:
    """Start a uniquely named copy of the stack, check it end to end, tear it down (volumes too)."""
    from dataclasses import asdict

    from fovea_ctl.errors import ServiceFailed
    from fovea_ctl.core.run_progress import PlainReporter
    from fovea_ctl.reconcile.project import Project
    from fovea_ctl.ops.smoke import CheckResult, run_smoke, smoke_settings

    settings = smoke_settings(project().settings)
    sys.stderr.write(f"fovea smoke: project {settings.project}, port base {settings.port_base}\n")

    def show(check: CheckResult) -> None:
        sys.stderr.write(f"  {check.outcome:<7} {check.name} ({check.seconds:.1f} s){' — ' + check.detail if check.detail else ''}\n")
        for service, lines in check.logs.items():
            sys.stderr.write(f"  --- logs of {service} (last {len(lines)} lines) ---\n")
            sys.stderr.writelines(f"    {line.rstrip()}\n" for line in lines)

    result = run_smoke(Project(settings), PlainReporter(), keep=keep, timeout_s=timeout, on_check=show)
    sys.stderr.write(f"fovea smoke: teardown: {result.teardown}\n")
    if json_out:
        echo_json(asdict(result))
    failed = result.failed
    if failed is not None:
        raise ServiceFailed(f"smoke check failed: {failed.name}: {failed.detail}",
                            hint=f"rerun with --keep and inspect with FOVEA_PROJECT={settings.project}")
    passed = sum(c.outcome == "passed" for c in result.checks)
    sys.stderr.write(f"fovea smoke: passed ({passed} checks, "
                     f"{sum(c.outcome == 'skipped' for c in result.checks)} skipped)\n")
