"""`fovea images prune [--keep N]`: every code change builds another content-hash tag; this removes the
ones nothing needs.

A fovea image (one built from a recipe: it carries `io.fovea.recipe`) stays when any container on the
engine uses it (of any project, running or not), when this checkout's stack resolves to it now, or when
it is one of the `keep` newest other tags of its recipe: those are what a rollback to the previous code
starts from. Everything else is untagged, and the engine frees the layers no remaining image shares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fovea_ctl.errors import UsageError

if TYPE_CHECKING:
    from fovea_ctl.docker.views import ImageView
    from fovea_ctl.reconcile.project import Project


@dataclass
class PrunePlan:
    remove: list[str] = field(default_factory=list)  # tags to untag, oldest first
    kept: dict[str, str] = field(default_factory=dict)  # tag -> why it stays
    freed_bytes: int = 0  # what removing them frees: the layers only those images hold


def fovea_images(project: Project) -> list[ImageView]:
    from fovea_ctl.docker.labels import LABEL_RECIPE

    return project.engine.list_images(LABEL_RECIPE)


def plan_prune(project: Project, keep: int, recipes: list[str] | None = None) -> PrunePlan:
    """What `images prune` would remove and keep (and why), changing nothing."""
    from fovea_ctl.docker.labels import LABEL_RECIPE

    if keep < 0:
        raise UsageError(f"--keep must be 0 or more (got {keep})")
    images = fovea_images(project)
    known = {image.labels.get(LABEL_RECIPE, "") for image in images}
    unknown = [name for name in recipes or [] if name not in known]
    if unknown:
        raise UsageError(f"no fovea image of {', '.join(unknown)} on this engine (there are: {', '.join(sorted(known)) or 'none'})")
    used_ids = {container.image_id for container in project.engine.list_all_containers()}
    current = {resolved.ref for resolved in project.resolver().resolve_stack(project.stack).values()}
    plan = PrunePlan()
    by_recipe: dict[str, list[ImageView]] = {}
    for image in images:
        recipe = image.labels.get(LABEL_RECIPE, "")
        if recipes and recipe not in recipes:
            continue
        by_recipe.setdefault(recipe, []).append(image)
    for recipe, of_recipe in sorted(by_recipe.items()):
        previous = 0
        for image in sorted(of_recipe, key=lambda i: (i.created, i.id), reverse=True):  # newest first
            in_use = image.id in used_ids
            for tag in sorted(image.tags):
                if in_use:
                    plan.kept[tag] = "a container uses it"
                elif tag in current:
                    plan.kept[tag] = "this checkout's stack runs it"
            if in_use or any(tag in current for tag in image.tags) or not image.tags:
                continue
            previous += 1
            if previous <= keep:
                for tag in image.tags:
                    plan.kept[tag] = f"previous tag {previous} of {recipe} (kept for rollback, --keep {keep})"
                continue
            plan.remove += sorted(image.tags)
            plan.freed_bytes += image.unique_size
    plan.remove.reverse()  # oldest first
    return plan


def prune_images(project: Project, keep: int, recipes: list[str] | None = None, dry_run: bool = False) -> PrunePlan:
    plan = plan_prune(project, keep, recipes)
    if not dry_run:
        for tag in plan.remove:
            project.engine.remove_image(tag)
    return plan
