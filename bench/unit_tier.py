#!/usr/bin/env python3
"""The unit tier's wall and CPU time (issue 23: the whole tier under 10 s on this 2-core machine).

    .venv/bin/python bench/unit_tier.py [--runs 3] [--checkout DIR ...] [--out bench/results/unit_tier.json]

Each run is `pytest -q -p no:cacheprovider tests/unit` (what .ci/run runs) in a checkout, with this venv's
interpreter. With several checkouts (e.g. a worktree of main, for the figure before a change) the runs
alternate, so that each checkout sees the same load. Recorded per run: wall seconds, the CPU seconds of pytest
and every process it waited for (user + system), the tests passed, and the load average before it; then the
median with min-max per checkout. PYTHONDONTWRITEBYTECODE is passed on as set (and recorded): set, each run
compiles fovea_ctl and rewrites the test modules again, as on a fresh clone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(checkout: Path) -> dict[str, float]:
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit"], cwd=checkout,
                          capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:]
    passed = re.search(r"(\d+) passed", summary)
    if done.returncode != 0 or passed is None:
        raise SystemExit(f"unit tier failed in {checkout}: {summary}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "passed": int(passed.group(1)), "load_1min": load}


def spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 2), "min": min(values), "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--checkout", type=Path, action="append", help="repeatable; default: this checkout")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/unit_tier.json")
    args = parser.parse_args()
    checkouts = [c.resolve() for c in args.checkout or [ROOT]]
    runs: dict[str, list[dict[str, float]]] = {str(c): [] for c in checkouts}
    for _ in range(args.runs):
        for checkout in checkouts:
            runs[str(checkout)].append(one_run(checkout))
            print(checkout, runs[str(checkout)][-1], flush=True)
    report = {
        "benchmark": "unit_tier",
        "command": "pytest -q -p no:cacheprovider tests/unit",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        # Set (as on this machine's sessions), every run compiles fovea_ctl and rewrites the test modules anew.
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
        "checkouts": {
            checkout: {"commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout, text=True,
                                                capture_output=True).stdout.strip(),
                       "wall_s": spread([r["wall_s"] for r in results]),
                       "cpu_s": spread([r["cpu_s"] for r in results]),
                       "load_1min": spread([r["load_1min"] for r in results]),
                       "runs": results}
            for checkout, results in runs.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({c: {k: v for k, v in r.items() if k != "runs"} for c, r in report["checkouts"].items()}, indent=2))


if __name__ == "__main__":
    main()
