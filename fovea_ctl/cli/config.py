"""`fovea config`."""

from __future__ import annotations

from fovea_ctl.cli.app import app, echo_json, project


@app.command()
def config() -> None:
    """Print the effective settings and the resolved stack (secret values never appear: they are files)."""
    p = project()
    echo_json({"settings": p.settings.public_view(), "stack": p.stack.model_dump(mode="json"),
               "units": list(p.stack.units)})
