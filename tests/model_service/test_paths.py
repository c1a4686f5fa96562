"""Path confinement, without an engine: model_service.paths is stdlib-only, so CI checks it everywhere."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "services" / "model_service"))
from model_service.paths import VideoPathError, resolve_video  # noqa: E402


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    videos = tmp_path / "videos"
    (videos / "sub").mkdir(parents=True)
    (videos / "a.mp4").write_bytes(b"x")
    (videos / "sub" / "b.mp4").write_bytes(b"x")
    (videos / "twin.mp4").write_bytes(b"x")
    (videos / "twin.mkv").write_bytes(b"x")
    (tmp_path / "secret.mp4").write_bytes(b"x")
    (videos / "escape.mp4").symlink_to(tmp_path / "secret.mp4")
    (videos / "inner.mp4").symlink_to(videos / "sub" / "b.mp4")
    return videos


def status(root: Path, **ref: str) -> int:
    try:
        resolve_video(root, **ref)
    except VideoPathError as exc:
        return exc.status
    return 200


def test_relative_paths_ids_and_links_that_stay_inside_resolve(root: Path) -> None:
    assert resolve_video(root, "sub/b.mp4") == (root / "sub" / "b.mp4").resolve()
    assert resolve_video(root, str(root / "a.mp4")) == (root / "a.mp4").resolve()
    assert resolve_video(root, video_id="a") == (root / "a.mp4").resolve()
    assert resolve_video(root, "inner.mp4") == (root / "sub" / "b.mp4").resolve()


@pytest.mark.parametrize(("ref", "expected"), [
    ({"video_path": "../secret.mp4"}, 400),
    ({"video_path": "sub/../../secret.mp4"}, 400),
    ({"video_path": "a.mp4\x00.txt"}, 400),
    ({"video_path": "/etc/passwd"}, 403),
    ({"video_path": "escape.mp4"}, 403),
    ({"video_path": "sub"}, 400),
    ({"video_path": "nope.mp4"}, 404),
    ({"video_id": "../secret"}, 400),
    ({"video_id": "sub/b"}, 400),
    ({"video_id": "twin"}, 409),
    ({"video_id": "nope"}, 404),
    ({}, 400),
])
def test_paths_that_leave_the_root_or_do_not_exist_are_refused(root: Path, ref: dict, expected: int) -> None:
    assert status(root, **ref) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["..", ".", "sub", "a.mp4", "escape.mp4", "inner.mp4", "/", "", "secret.mp4",
                                 "videos", "*", "~"]), min_size=1, max_size=6))
def test_whatever_the_path_a_resolved_video_is_a_file_inside_the_root(tmp_path_factory, parts: list[str]) -> None:
    base = tmp_path_factory.getbasetemp() / "prop"
    videos = base / "videos"
    if not videos.exists():
        (videos / "sub").mkdir(parents=True)
        (videos / "a.mp4").write_bytes(b"x")
        (base / "secret.mp4").write_bytes(b"x")
        (videos / "escape.mp4").symlink_to(base / "secret.mp4")
        (videos / "inner.mp4").symlink_to(videos / "a.mp4")
    try:
        resolved = resolve_video(videos, "/".join(parts))
    except VideoPathError as exc:
        assert exc.status in (400, 403, 404, 409)
        return
    assert resolved.is_file() and resolved.is_relative_to(videos.resolve())
