"""`fovea logs`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from fovea_ctl.cli.app import app, project


@app.command()
def logs(
    services: Annotated[Optional[list[str]], typer.Argument()] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
    tail: Annotated[Optional[int], typer.Option("--tail", help="Lines from the end of each log")] = None,
    since: Annotated[Optional[str], typer.Option("--since", help="10m, 2h, 1d or an ISO timestamp")] = None,
    until: Annotated[Optional[str], typer.Option("--until")] = None,
    timestamps: Annotated[bool, typer.Option("--timestamps", "-t")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """Logs of the stack's containers, multiplexed with a coloured `service |` prefix."""
    from fovea_ctl.ops.logs import print_logs, stream_logs

    target = project()
    lines = stream_logs(target, services or [], follow=follow, tail=tail, since=since, until=until,
                        timestamps=timestamps or json_out)
    print_logs(lines, as_json=json_out, width=max(map(len, services or target.stack.units)))
