"""`fovea images build`'s display: one line per image, its latest BuildKit step, elapsed time, failures with the log."""

from __future__ import annotations

import io

from fovea_ctl.images import BuildBoard


def test_board_follows_each_image_step_by_step_in_a_log() -> None:
    out = io.StringIO()
    board = BuildBoard(["fovea/a:1", "fovea/b:2"], out, live=False)
    board.update("fovea/a:1", "building")
    board.step("fovea/a:1", "#5 [2/8] RUN apt-get update && apt-get install -y python3")
    board.step("fovea/a:1", "#5 0.412 Get:1 http://deb.debian.org/debian trixie InRelease [140 kB]")  # not a step
    board.step("fovea/b:2", "#7 [3/4] COPY model_service /opt/model-service/model_service")
    board.update("fovea/b:2", "FAILED; log: .fovea/p/builds/fovea_b.log", done=True)
    lines = out.getvalue().splitlines()
    assert [line.split()[0] for line in lines] == ["fovea/a:1", "fovea/a:1", "fovea/b:2", "fovea/b:2"]
    assert lines[1].endswith("step 2/8 RUN apt-get update && apt-get install -y python3")
    assert lines[2].endswith("step 3/4 COPY model_service /opt/model-service/model_service")
    assert lines[3].endswith("FAILED; log: .fovea/p/builds/fovea_b.log") and " s  " in lines[3]


def test_live_board_redraws_every_line_in_place() -> None:
    out = io.StringIO()
    board = BuildBoard(["fovea/a:1", "fovea/b:2"], out, live=True)
    board.update("fovea/a:1", "building")
    assert out.getvalue() == ""  # a terminal gets redraws, not a line per change
    board.redraw()
    board.redraw()
    text = out.getvalue()
    assert text.count("\x1b[2F") == 1 and text.count("fovea/b:2") == 2
