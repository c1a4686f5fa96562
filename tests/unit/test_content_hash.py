"""Build-context hashes are remembered by file metadata, and any change to a file is still seen."""

from __future__ import annotations

import os
from pathlib import Path

from fovea_ctl.images import ContentHashMemo, context_files, hash_paths, recipe_content_hash
from fovea_ctl.model import BuildRecipe
from fovea_ctl.settings.effective import Settings


def test_memo_returns_the_real_hash_and_sees_every_change(tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\n")
    (context / "app.py").write_text("print('one')\n")
    memo_file = tmp_path / "memo.json"

    def hashed() -> tuple[str, str]:
        files = context_files(context, [])
        return ContentHashMemo(memo_file).hash(context, files), hash_paths(context, files)

    first, real = hashed()
    assert first == real and memo_file.exists()
    assert hashed() == (first, first)  # from the memo (a fresh one, as in the next process)

    # same size, mtime set back: the inode's ctime still moved, so the file is hashed again
    app = context / "app.py"
    before = app.stat()
    app.write_text("print('two')\n")
    os.utime(app, ns=(before.st_atime_ns, before.st_mtime_ns))
    remembered, real = hashed()
    assert remembered == real != first

    (context / "extra.txt").write_text("x")
    remembered, real_with_extra = hashed()
    assert remembered == real_with_extra != real
    os.chmod(context / "extra.txt", 0o755)
    remembered, real_exec = hashed()
    assert remembered == real_exec != real_with_extra



def test_two_recipes_of_one_context_with_other_dockerfiles_get_other_tags(tmp_path: Path) -> None:
    """The GPU image's offline and registry recipes share a name and a context: only the Dockerfile differs."""
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile.gpu").write_text("FROM debian:trixie-slim\n")
    (context / "Dockerfile.gpu.registry").write_text("FROM pytorch/pytorch:2.7.1\n")
    settings = Settings(root=tmp_path, project="hash-test")
    offline, registry = (recipe_content_hash(settings, BuildRecipe(name="fovea/x-gpu", context="context",
                                                                    dockerfile=name), "sha256:base")
                         for name in ("Dockerfile.gpu", "Dockerfile.gpu.registry"))
    assert offline != registry
