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
    """Build every missing image of the stack (or of the named services); existing tags are kept."""
    from fovea_ctl.images import build_image, ensure_base, pull_image

    p = project()
    p.check_targets(services)
    names = p.stack.dependency_order(services or None) if services else list(p.stack.units)
    if any(p.resolver().resolve(p.stack.units[n]).recipe for n in names):
        ensure_base(p.settings, p.engine, on_line=lambda line: sys.stderr.write(line + "\n"))
    resolver = p.resolver()
    done: set[str] = set()
    for name in names:
        image = resolver.resolve(p.stack.units[name])
        if image.ref in done:
            continue
        done.add(image.ref)
        if not image.missing:
            sys.stderr.write(f"{image.ref:<40} present\n")
            continue
        started = time.monotonic()
        if image.recipe:
            sys.stderr.write(f"{image.ref:<40} building (log: .fovea/{p.settings.project}/builds/)\n")
            build_image(p.settings, image.recipe, image.ref)
        else:
            pull_image(p.engine, image.ref)
        sys.stderr.write(f"{image.ref:<40} built in {time.monotonic() - started:.1f} s\n")


@images_app.command("list")
def list_images() -> None:
    """Each service's image for this configuration, and whether it is present."""
    p = project()
    resolver = p.resolver()
    for name, unit in p.stack.units.items():
        image = resolver.resolve(unit)
        state = "present" if not image.missing else "missing"
        sys.stdout.write(f"{name:<24} {image.ref:<44} {state}\n")
