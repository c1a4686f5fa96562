"""Benchmark: `fovea swarm deploy` vs `docker stack deploy` of the same slice, on a single-node Swarm.

Not a test: it times and writes bench/results/swarm_deploy.json; the README quotes that file.

    .venv/bin/python bench/swarm_deploy.py [--rounds 3] [--timeout 300]

The slice is the backend's (postgres, redis, prometheus, collector, migrate job, backend). Per round, in
alternating order, each on its own stack name and port base, images present, volumes empty:
- fovea: `SwarmDeployer.deploy()` — creates each service once its dependencies pass fovea's probes;
  done when it returns (every service ready, the migration completed);
- stack: `/usr/bin/docker stack deploy --resolve-image never` of `fovea render swarm`'s v3 file (every
  service at once, `depends_on` ignored, the migration a service restarting on failure); done when every
  service passes the same probes over its published port and the migration task completed, or never
  (`healthy: false`) within --timeout. Task failures on the way are counted.
The Swarm is made and left by tests/swarm_harness.py (refuses when the engine is already in Swarm mode).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fovea_ctl.reconcile.project import Project  # noqa: E402
from fovea_ctl.settings.effective import Settings  # noqa: E402
from tests.conftest import STACK_PORTS  # noqa: E402
from tests.swarm_harness import DOCKER, backend_slice, docker, single_node_swarm  # noqa: E402


class Quiet:
    def event(self, unit: str, state: str, detail: str = "", *, elapsed: float | None = None, quiet: bool = False) -> None:
        pass

    def close(self) -> None:
        pass


def make_project(kind: str, secrets_root: Path) -> Project:
    from fovea_ctl.ops.smoke import free_port_base

    name = f"bench-{kind}-{uuid.uuid4().hex[:6]}"
    settings = Settings(root=ROOT, project=name, port_base=free_port_base(STACK_PORTS, low=17000),
                        secrets_dir=secrets_root / name)
    return Project(settings, backend_slice(settings))


def remove_volumes(project: Project) -> None:
    """Its volumes by label (fovea's) and by name (stack deploy's carry only the rendered labels)."""
    names = {project.settings.volume_name(v.name) for v in project.stack.volumes}
    for _ in range(100):
        try:
            present = {v["Name"] for v in project.engine.api.volumes().get("Volumes") or []}
            for name in sorted(names & present | {v.name for v in project.engine.list_volumes(project.settings.project)}):
                project.engine.remove_volume(name)
            return
        except Exception:  # a task container still holds one: Swarm reaps them in its own time
            time.sleep(0.3)


def run_fovea(project: Project) -> dict[str, object]:
    from fovea_ctl.reconcile.swarm import SwarmDeployer, swarm_down

    started = time.perf_counter()
    result = SwarmDeployer(project, Quiet()).deploy()
    took = time.perf_counter() - started
    swarm_down(project, volumes=True, force=True)
    remove_volumes(project)
    return {"seconds": round(took, 3), "healthy": result.ok, "failures": result.failures}


def stack_ready(project: Project) -> bool:
    """Every service's own probe passes over its published port, and the migration task completed."""
    from fovea_ctl.probes import ProbeFailed, probe_context_for, probe_once

    stack = project.stack
    for name, unit in stack.units.items():
        if unit.job_of:
            tasks = docker("service", "ps", f"{project.settings.project}_{name}", "--format", "{{.CurrentState}}",
                           check=False).stdout
            if "Complete" not in tasks:
                return False
            continue
        if unit.probe is None:
            continue
        # No container id: the check runs over the published port, never falling back to an exec.
        context = probe_context_for(unit, stack, project.engine, "", password=project.secrets.value, timeout_s=2.0,
                                    secrets_dir=str(project.settings.effective_secrets_dir))
        try:
            probe_once(context)
        except ProbeFailed:
            return False
    return True


def failed_tasks(project: Project) -> dict[str, int]:
    """Tasks that failed on the way, per service (a migration run before its database was up, ...)."""
    listing = docker("stack", "ps", project.settings.project, "--format", "{{.Name}}|{{.CurrentState}}|{{.Error}}",
                     check=False).stdout.splitlines()
    counts: dict[str, int] = {}
    for line in listing:
        name, state, error = (line.split("|") + ["", ""])[:3]
        if state.startswith(("Failed", "Rejected")) or "non-zero exit" in error:
            service = name.split(".")[0].removeprefix(f"{project.settings.project}_")
            counts[service] = counts.get(service, 0) + 1
    return counts


def run_stack(project: Project, timeout_s: float) -> dict[str, object]:
    import yaml

    from fovea_ctl.render.resolved import resolve
    from fovea_ctl.render.swarm import render_swarm_stack

    images = project.resolver().resolve_stack(project.stack)
    document = render_swarm_stack(resolve(project.stack, project.settings, images, project.secrets))
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        yaml.safe_dump(document, handle, sort_keys=False)
    name = project.settings.project
    started = time.perf_counter()
    deployed = subprocess.run([DOCKER, "stack", "deploy", "--resolve-image", "never", "-c", handle.name, name],
                              capture_output=True, text=True, timeout=120)
    if deployed.returncode != 0:
        raise RuntimeError(f"docker stack deploy failed: {deployed.stdout}{deployed.stderr}")
    healthy = False
    while time.perf_counter() - started < timeout_s:
        if stack_ready(project):
            healthy = True
            break
        time.sleep(0.2)
    took = time.perf_counter() - started
    failures = failed_tasks(project)
    docker("stack", "rm", name, check=False)
    deadline = time.monotonic() + 120
    while docker("ps", "-aq", "--filter", f"label=com.docker.stack.namespace={name}").stdout.strip():
        if time.monotonic() > deadline:
            break
        time.sleep(0.3)
    for _ in range(60):  # the stack's overlay network goes a moment after its last task
        if not docker("network", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={name}").stdout.strip():
            break
        time.sleep(0.5)
    remove_volumes(project)
    os.unlink(handle.name)
    return {"seconds": round(took, 3) if healthy else None, "healthy": healthy, "failed_tasks": failures}


def summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "swarm_deploy.json"))
    args = parser.parse_args()

    loads: list[tuple[float, float, float]] = []
    stop = threading.Event()

    def sample_load() -> None:
        while not stop.wait(2.0):
            loads.append(os.getloadavg())

    sampler = threading.Thread(target=sample_load, daemon=True)
    sampler.start()
    rounds: list[dict[str, object]] = []
    secrets_root = Path(tempfile.mkdtemp(prefix="bench-swarm-secrets-"))
    with single_node_swarm():
        for index in range(args.rounds):
            order = ("fovea", "stack") if index % 2 == 0 else ("stack", "fovea")
            entry: dict[str, object] = {"order": list(order), "load_before": os.getloadavg()}
            for kind in order:
                project = make_project(kind, secrets_root)
                entry[kind] = run_fovea(project) if kind == "fovea" else run_stack(project, args.timeout)
                print(f"round {index + 1} {kind}: {entry[kind]}", file=sys.stderr)
            rounds.append(entry)
    stop.set()
    fovea_times = [r["fovea"]["seconds"] for r in rounds if r["fovea"]["healthy"]]  # type: ignore[index]
    stack_times = [r["stack"]["seconds"] for r in rounds if r["stack"]["healthy"]]  # type: ignore[index]
    result = {
        "what": "backend slice (postgres, redis, prometheus, otel-collector, migrate, backend) on a single-node Swarm: "
                "fovea swarm deploy (DAG order, gated on fovea's probes) vs docker stack deploy --resolve-image never "
                "of `fovea render swarm` (all at once, depends_on ignored), cold volumes, images present; "
                "time until every service passes fovea's probes and the migration completed",
        "note": "the host (2 cores) is shared with six other engineers running builds and tests: absolute times "
                "are inflated and noisy; compare the two columns of the same round",
        "rounds": rounds,
        "fovea_s": summary(fovea_times),  # type: ignore[arg-type]
        "stack_deploy_s": summary(stack_times),  # type: ignore[arg-type]
        "stack_deploy_healthy": f"{len(stack_times)}/{len(rounds)}",
        "fovea_healthy": f"{len(fovea_times)}/{len(rounds)}",
        "stack_deploy_failed_tasks": [r["stack"]["failed_tasks"] for r in rounds],  # type: ignore[index]
        "ratio_fovea_over_stack": (round(statistics.median(fovea_times) / statistics.median(stack_times), 3)
                                   if fovea_times and stack_times else None),
        "load_average_1m": summary([load[0] for load in loads]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "engine": docker("version", "--format", "{{.Server.Version}}").stdout.strip()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("fovea_s", "stack_deploy_s", "stack_deploy_healthy",
                                              "ratio_fovea_over_stack", "load_average_1m")}, indent=2))


if __name__ == "__main__":
    main()
