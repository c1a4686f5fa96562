"""`fovea videos add` and `fovea videos rm`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fovea_ctl.cli.app import app, echo_json, project

videos_app = typer.Typer(help="Videos in the video-data volume.", no_args_is_help=True)
app.add_typer(videos_app, name="videos")


@videos_app.command("add")
def add(
    files: Annotated[list[Path], typer.Argument(help="Video files; a <name>.info.json beside one comes along")],
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite files of the same name")] = False,
) -> None:
    """Check each video (ffprobe), copy them into the video-data volume and sync the backend's catalogue."""
    from fovea_ctl.ops.videos import add_videos

    echo_json(add_videos(project(), files, replace))


@videos_app.command("rm")
def rm(
    name: Annotated[str, typer.Argument(help="The video's file name, as listed")],
    with_annotations: Annotated[bool, typer.Option("--with-annotations",
                                                   help="Also when it has tracks: they are deleted with it")] = False,
) -> None:
    """Remove a video: its file, sidecar and catalogue row (its tracks only with --with-annotations)."""
    from fovea_ctl.ops.videos import remove_video

    echo_json(remove_video(project(), name, with_annotations))
