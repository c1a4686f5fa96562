"""`fovea status` without an engine: the table's layout and the engine-time parser it uses."""

from __future__ import annotations

from fovea_ctl.ops.status import ServiceStatus, StatusReport, render_table
from fovea_ctl.docker.views import parse_engine_time


def test_table_is_one_aligned_line_per_service() -> None:
    report = StatusReport("p", [
        ServiceStatus("postgres", "service", "running", True, "probe passed", "healthy", 75.0, 0, None,
                      {"5432/tcp": 25432}, "fovea/postgres:abc"),
        ServiceStatus("grafana", "service", "unavailable", False, "registry mode only"),
    ])
    lines = render_table(report, colour=False).splitlines()
    assert lines[0].split() == ["service", "state", "ready", "health", "uptime", "restarts", "ports", "image", "detail"]
    assert lines[1].split() == ["postgres", "running", "yes", "healthy", "1m", "0", "127.0.0.1:25432->5432/tcp",
                                "fovea/postgres:abc"]
    assert lines[2].split()[:3] == ["grafana", "unavailable", "n/a"] and lines[2].endswith("registry mode only")
    assert lines[0].index("state") == lines[1].index("running") == lines[2].index("unavailable")
    assert all(line == line.rstrip() for line in lines)
    assert "\x1b[32myes\x1b[0m" in render_table(report, colour=True)


def test_engine_times_parse_to_posix_seconds() -> None:
    assert parse_engine_time("0001-01-01T00:00:00Z") is None
    assert parse_engine_time("2026-12-04T00:55:14.123456789Z") == 1796345714.123456789
    assert parse_engine_time("2026-12-04T00:55:14Z") == 1796345714.0
    # The arithmetic against the standard library, over leap days, century rules and month ends.
    from datetime import UTC, datetime, timedelta

    for moment in [datetime(1970, 1, 1, tzinfo=UTC), datetime(2000, 2, 29, 23, 59, 59, tzinfo=UTC),
                   datetime(2100, 3, 1, tzinfo=UTC), datetime(2024, 12, 31, 12, 0, 1, tzinfo=UTC),
                   *(datetime(1999, 12, 25, 6, 7, 8, tzinfo=UTC) + timedelta(days=37 * n) for n in range(400))]:
        assert parse_engine_time(moment.strftime("%Y-%m-%dT%H:%M:%SZ")) == moment.timestamp(), moment
