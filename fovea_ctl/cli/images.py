"""`fovea images build|list|bootstrap`."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Optional

import typer

from fovea_ctl.cli.app import app, project

images_app = typer.Typer(help="Images: offline base bootstrap, content-hash builds, listing, prune.", no_args_is_help=True)
app.add_typer(images_app, name="images")


def _to_stderr(line: str) -> None:
    sys.stderr.write(line + "\n")


@images_app.command("bootstrap")
def bootstrap(force: Annotated[bool, typer.Option("--force", help="Recreate even if present")] = False) -> None:
    """Create the base image (debian:trixie-slim) with debootstrap when no registry has it."""
    from fovea_ctl.images import bootstrap_base, ensure_base

    p = project()
    if force:
        took = bootstrap_base(p.settings, p.engine, on_line=_to_stderr)
        sys.stderr.write(f"bootstrapped {p.settings.base_image} in {took:.1f} s\n")
    elif p.engine.image_id(p.settings.base_image):
        sys.stderr.write(f"{p.settings.base_image} is present\n")
    else:
        ensure_base(p.settings, p.engine, on_line=_to_stderr)


@images_app.command("build")
def build(
    services: Annotated[Optional[list[str]], typer.Argument(help="Only these services' images", show_default=False)] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Rebuild from scratch, present or not (no layer cache)")] = False,
) -> None:
    """Build every missing image of the stack (or of the named services) in parallel; existing tags are kept."""
    from fovea_ctl.images import build_missing, ensure_base

    p = project()
    p.check_targets(services)
    names = p.stack.dependency_order(services or None) if services else list(p.stack.units)
    if any(p.resolver().resolve(p.stack.units[n]).recipe for n in names):
        ensure_base(p.settings, p.engine, on_line=_to_stderr)
    resolver = p.resolver()
    images = {image.ref: image for image in (resolver.resolve(p.stack.units[n]) for n in names)}
    for ref in [ref for ref, image in images.items() if not image.missing and not (no_cache and image.recipe)]:
        sys.stderr.write(f"{ref:<40} present\n")
    started = time.monotonic()
    # --no-cache rebuilds what has a recipe even when present (the same content hash, the same tag).
    missing = [image for image in images.values() if image.missing or (no_cache and image.recipe is not None)]
    build_missing(p.settings, p.engine, missing, no_cache=no_cache)
    if missing:
        sys.stderr.write(f"fovea: {len(missing)} images built in {time.monotonic() - started:.1f} s\n")


@images_app.command("list")
def list_images() -> None:
    """Each service's image for this configuration, whether it is present, and its size."""
    p = project()
    resolver = p.resolver()
    for name, unit in p.stack.units.items():
        image = resolver.resolve(unit)
        size = None if image.missing else p.engine.image_size(image.ref)
        state = "missing" if size is None else f"present  {size / 1e9:6.2f} GB"
        sys.stdout.write(f"{name:<24} {image.ref:<44} {state}\n")


@images_app.command("prune")
def prune(
    recipes: Annotated[Optional[list[str]], typer.Argument(help="Only these images (e.g. fovea/backend)", show_default=False)] = None,
    keep: Annotated[int, typer.Option("--keep", help="Previous tags of each image kept for rollback")] = 1,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would go; remove nothing")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Removed and kept tags and bytes freed, as JSON")] = False,
) -> None:
    """Remove fovea images no container of any project uses and this checkout does not run, but the newest N."""
    from fovea_ctl.core.transfer_progress import human
    from fovea_ctl.cli.app import echo_json
    from fovea_ctl.ops.prune import prune_images

    plan = prune_images(project(), keep, recipes or None, dry_run)
    if json_out:
        echo_json({"removed": plan.remove, "kept": plan.kept, "freed_bytes": plan.freed_bytes, "dry_run": dry_run})
        return
    for tag, why in sorted(plan.kept.items()):
        sys.stderr.write(f"kept    {tag:<40} {why}\n")
    for tag in plan.remove:
        sys.stderr.write(f"{'would remove' if dry_run else 'removed'} {tag}\n")
    verb = "would free" if dry_run else "freed"
    sys.stderr.write(f"fovea: {len(plan.remove)} tags {'to remove' if dry_run else 'removed'}; {verb} {human(plan.freed_bytes)}\n")
