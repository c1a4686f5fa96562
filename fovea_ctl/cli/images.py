"""`fovea images build|list|bootstrap`."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Optional

import typer

from fovea_ctl.cli.app import app, project

images_app = typer.Typer(help="Images: offline base bootstrap, content-hash builds, listing.", no_args_is_help=True)
app.add_typer(images_app, name="images")


@images_app.command("bootstrap")
def bootstrap(force: Annotated[bool, typer.Option("--force", help="Recreate even if present")] = False) -> None:
    """Create the base image (debian:trixie-slim) with debootstrap when no registry has it."""
    from fovea_ctl.images import bootstrap_base, ensure_base

    p = project()
    if force:
        took = bootstrap_base(p.settings, p.engine, on_line=lambda line: sys.stderr.write(line + "\n"))
        sys.stderr.write(f"bootstrapped {p.settings.base_image} in {took:.1f} s\n")
    elif p.engine.image_id(p.settings.base_image):
        sys.stderr.write(f"{p.settings.base_image} is present\n")
    else:
        ensure_base(p.settings, p.engine, on_line=lambda line: sys.stderr.write(line + "\n"))


@images_app.command("build")
def build(services: Annotated[Optional[list[str]], typer.Argument()] = None) -> None:
    """Build every missing image of the stack (or of the named services) in parallel; existing tags are kept."""
    from fovea_ctl.images import build_missing, ensure_base

    p = project()
    p.check_targets(services)
    names = p.stack.dependency_order(services or None) if services else list(p.stack.units)
    if any(p.resolver().resolve(p.stack.units[n]).recipe for n in names):
        ensure_base(p.settings, p.engine, on_line=lambda line: sys.stderr.write(line + "\n"))
    resolver = p.resolver()
    images = {image.ref: image for image in (resolver.resolve(p.stack.units[n]) for n in names)}
    for ref in [ref for ref, image in images.items() if not image.missing]:
        sys.stderr.write(f"{ref:<40} present\n")
    started = time.monotonic()
    missing = [image for image in images.values() if image.missing]
    build_missing(p.settings, p.engine, missing)
    if missing:
        sys.stderr.write(f"fovea: {len(missing)} images built in {time.monotonic() - started:.1f} s\n")


@images_app.command("list")
def list_images() -> None:
    """Each service's image for this configuration, and whether it is present."""
    p = project()
    resolver = p.resolver()
    for name, unit in p.stack.units.items():
        image = resolver.resolve(unit)
        state = "present" if not image.missing else "missing"
        sys.stdout.write(f"{name:<24} {image.ref:<44} {state}\n")
