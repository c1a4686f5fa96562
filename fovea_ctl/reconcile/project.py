"""A project: its context (settings, stack) with the engine, and the library calls behind `up`, `plan` and `down`.

Everything a command does is callable from here without Typer (tests, CI, other tools).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from fovea_ctl.core.context import ProjectContext
from fovea_ctl.core.lock import holds_project_lock, project_lock
from fovea_ctl.errors import FoveaError, LockUnsafe
from fovea_ctl.model import Priority, Stack

if TYPE_CHECKING:  # the modules behind these are imported lazily, for a fast CLI start
    from fovea_ctl.core.run_progress import Reporter
    from fovea_ctl.data.journal import RestoreJournal
    from fovea_ctl.docker.engine import Engine
    from fovea_ctl.images import ImageResolver
    from fovea_ctl.reconcile.apply import ApplyResult
    from fovea_ctl.reconcile.desired import DesiredUnit
    from fovea_ctl.reconcile.observe import ObservedState
    from fovea_ctl.reconcile.plan import Plan


@dataclass
class DownResult:
    removed_containers: list[str] = field(default_factory=list)
    removed_volumes: list[str] = field(default_factory=list)
    kept_volumes: dict[str, str] = field(default_factory=dict)  # name -> why
    covered_volumes: dict[str, str] = field(default_factory=dict)  # critical volume removed -> backup id holding it
    network_removed: bool = False



class Project(ProjectContext):
    @cached_property
    def stack(self) -> Stack:
        """The context's stack; one loaded from the stack file is also remembered for `fovea status` (its roster)."""
        from_file = self._stack is None
        fingerprint = None
        if from_file:
            from fovea_ctl.settings.fingerprint import fingerprint_key, settings_fingerprint

            try:
                key = fingerprint_key(str(self.settings.root), self.settings.project, create=True)
            except (OSError, LockUnsafe):  # a state folder fovea may not write: no memo, `status` loads the stack
                key = None
            if key is not None:
                fingerprint = settings_fingerprint(str(self.settings.root), key)  # before loading: see remember_roster
        stack = self.load_scaled_stack()
        if fingerprint is not None:
            from fovea_ctl.reconcile.roster import remember_roster

            remember_roster(self.settings, stack, fingerprint)  # so `status` needs no stack import next time
        return stack

    @cached_property
    def engine(self) -> Engine:
        from fovea_ctl.docker.engine import Engine

        engine = Engine(self.settings.docker_host)
        engine.write_guard = self._refuse_writes_outside_the_lock
        return engine

    @contextmanager
    def writing(self, on_wait: Callable[[], None] | None = None, note: Callable[[str], None] | None = None,
                restart_after_rollback: bool = True) -> Iterator[RestoreJournal | None]:
        """The one way into changing the project, for every command that writes: the project lock, then an
        interrupted restore is finished first — rolled back unless it had swapped its data in, and what it
        had stopped started again and waited for (`down` needs that not); a swapped one is yielded, for
        `up` to finish. The engine refuses writes outside it (`write_guard`), so a command that forgot it
        fails at its first write instead of racing another command or writing into data that the next
        command rolls back."""
        with project_lock(self.settings, on_wait=on_wait):
            yield self._recover_restore(note, restart_after_rollback)

    def _refuse_writes_outside_the_lock(self, what: str) -> None:
        if not holds_project_lock(self.settings):
            raise FoveaError(f"internal error: {what} attempted outside `Project.writing()` for project "
                             f"{self.settings.project!r}; every command that changes a project must go through it")

    def observe(self) -> ObservedState:
        from fovea_ctl.reconcile.observe import observe

        return observe(self.engine, self.settings.project, self.settings.network_name)

    def resolver(self) -> ImageResolver:
        from fovea_ctl.images import ImageResolver

        return ImageResolver(self.settings, self.engine)

    def desired(self, resolver: ImageResolver) -> dict[str, DesiredUnit]:
        from fovea_ctl.reconcile.desired import desired_units

        return desired_units(self.stack, self.settings, resolver.resolve_stack(self.stack), self.secrets)

    def plan(self, targets: list[str] | None = None, remove_orphans: bool = False) -> Plan:
        from fovea_ctl.reconcile.plan import make_plan

        self.check_targets(targets)
        from fovea_ctl.data.rotate import check_data_secrets

        desired = self.desired(self.resolver())
        observed = self.observe()
        check_data_secrets(self, desired, observed)
        return make_plan(self.stack, self.settings, desired, observed, targets, remove_orphans)

    def needs_base(self, resolver: ImageResolver, targets: list[str] | None = None) -> bool:
        """True when a recipe must be built and the base image it starts from is absent."""
        resolver.resolve_stack(self.stack)  # all at once, in parallel; the loop below reads the cache
        for name in self.stack.dependency_order(targets):
            unit = self.stack.units[name]
            image = resolver.resolve(unit)
            if image.recipe is not None and image.missing:
                from fovea_ctl.images import base_from

                base = base_from(self.settings.root / image.recipe.context / image.recipe.dockerfile)
                if base and resolver.base_id(base) is None:
                    return True
        return False

    def up(
        self,
        reporter: Reporter,
        targets: list[str] | None = None,
        remove_orphans: bool = False,
        timeout_s: float | None = None,
    ) -> tuple[Plan, ApplyResult]:
        from fovea_ctl.reconcile.apply import ApplyContext, Executor, ensure_host_ports_free
        from fovea_ctl.reconcile.desired import desired_unit
        from fovea_ctl.images import ResolvedImage, ensure_base
        from fovea_ctl.reconcile.plan import make_plan
        from fovea_ctl.core.telemetry import trace_up

        self.gpu_preflight(reporter)
        self.check_targets(targets)
        with trace_up(self.settings, reporter) as trace, self.writing(
                on_wait=lambda: reporter.event(self.settings.project, "waiting", "another fovea command holds this project"),
                note=lambda text: reporter.event("restore", "note", text)) as swapped:
            reporter = trace.reporter  # with FOVEA_OTLP_ENDPOINT set, events also become spans
            # One resolver for the whole run: resolving hashes every build context, which a no-op up
            # should pay once. Only a freshly made base (new id, new tags) needs a second one.
            resolver = self.resolver()
            if self.needs_base(resolver, targets):
                reporter.event(self.settings.base_image, "bootstrapping", "base image absent and no registry: debootstrap")
                ensure_base(self.settings, self.engine,
                            on_line=lambda line: reporter.event(self.settings.base_image, "bootstrapping", line[-90:], quiet=True))
                reporter.event(self.settings.base_image, "built", "")
                resolver = self.resolver()
            desired = self.desired(resolver)
            observed = self.observe()
            from fovea_ctl.data.rotate import check_data_secrets

            check_data_secrets(self, desired, observed)
            plan = make_plan(self.stack, self.settings, desired, observed, targets, remove_orphans)
            ensure_host_ports_free(plan, desired, observed)
            for warning in plan.warnings:
                reporter.event("warning", "note", warning)
            for skipped in self.stack.skipped:
                reporter.event(skipped.name, "skipped", skipped.unavailable_reason or "")

            def respec(name: str, image_id: str | None) -> DesiredUnit:
                unit = desired[name]
                built = ResolvedImage(unit.image.ref, unit.image.recipe, image_id)
                return desired_unit(unit.service, self.stack, self.settings, built, self.secrets)

            context = ApplyContext(
                stack=self.stack, settings=self.settings, engine=self.engine, secrets=self.secrets,
                desired=desired, observed=observed, reporter=reporter, respec=respec,
            )
            trace.images = {op.target for op in plan.operations if op.unit is None and op.kind.value.endswith("image")}
            result = Executor(plan, context).run(timeout_s)
            trace.ok = result.ok
            if swapped is not None and result.ok and not result.failures and not targets:
                from fovea_ctl.data.journal import drop_journal, finish

                finish(self, swapped)  # the restored services are ready: the previous copy can go
                drop_journal(self)
                reporter.event("restore", "note", f"restore from {swapped.backup_id} finished; previous copy dropped")
        return plan, result

    def gpu_preflight(self, reporter: Reporter) -> None:
        """With the GPU variant asked for, the engine must offer an NVIDIA runtime; else use the CPU one.

        Says plainly why: a GPU request on an engine without the NVIDIA runtime fails at container start
        with an error that names neither the cause nor the fix.
        """
        if not self.settings.gpu or not any(s.gpu for s in self.stack.units.values()):
            return
        info = self.engine.info()
        runtimes = sorted((info.get("Runtimes") or {}).keys())
        if "nvidia" in runtimes:
            return
        gpu_units = sorted(n for n, s in self.stack.units.items() if s.gpu)
        reporter.event(
            ", ".join(gpu_units), "fallback",
            f"GPU variant asked for, but `docker info` lists no NVIDIA runtime (runtimes: {', '.join(runtimes) or 'none'}); "
            "using the CPU variant. Install nvidia-container-toolkit and restart dockerd to use the GPU.",
        )
        self.settings = self.settings.model_copy(update={"gpu": False})
        self.__dict__.pop("stack", None)
        self.__dict__.pop("secrets", None)

    def rerun_job(self, job: str, reporter: Reporter) -> ApplyResult:
        """Run a one-shot job again now (`fovea migrate`), with its dependencies brought up first."""
        unit = self.stack.units.get(job)
        if unit is None or not unit.one_shot:
            from fovea_ctl.errors import UsageError

            raise UsageError(f"{job!r} is not a job of this stack")
        with self.writing():
            existing = self.observe().containers.get(job)
            if existing is not None:
                self.engine.remove_container(existing.id)
            return self.up(reporter, [job])[1]

    def down(self, volumes: bool = False, force: bool = False, timeout_s: int | None = None,
             reporter: Reporter | None = None) -> DownResult:
        """Stop in reverse dependency order, remove containers and the network; volumes only on request.

        A critical volume is removed only with --force as well: `down --volumes` must never be the
        way a user loses their database.
        """
        from fovea_ctl.docker.labels import LABEL_PRIORITY, LABEL_VOLUME

        result = DownResult()
        with self.writing(restart_after_rollback=False):  # everything stops anyway
            observed = self.observe()
            covered: dict[str, str] = {}
            why_not: dict[str, str] = {}
            if volumes and not force and self._stack_loads():
                # The writers stop first, so the markers compared describe data nobody changes any more;
                # postgres stays up until its own marker is read.
                from fovea_ctl.data.backup.write_markers import fresh_backups, marker_readers

                readers = marker_readers(self)
                self.stop_in_reverse_order(observed, timeout_s, reporter, keep=readers)
                coverage = fresh_backups(self, self.observe())
                covered, why_not = coverage.covered, coverage.why_not
                self.stop_in_reverse_order(self.observe(), timeout_s, reporter)
            else:
                self.stop_in_reverse_order(observed, timeout_s, reporter)
            result.removed_containers = sorted(c.name for c in [*observed.containers.values(), *observed.extra_containers])
            # A helper left by a killed backup or restore holds its volume: without this, `down -v` could not remove it.
            for helper in self.engine.list_helpers(self.settings.project):
                self.engine.remove_helper(helper.id)
                result.removed_containers.append(helper.name)
            if observed.network is not None:
                self.engine.remove_network(observed.network.id)
                result.network_removed = True
            if volumes:
                for name, volume in sorted(observed.volumes.items()):
                    priority = volume.labels.get(LABEL_PRIORITY, Priority.CRITICAL.value)
                    if priority == Priority.CRITICAL.value and not force and name not in covered:
                        result.kept_volumes[name] = (
                            f"{volume.labels.get(LABEL_VOLUME, name)} is critical and no verified backup holds its "
                            f"latest writes ({why_not.get(name, 'not checked')}); run `fovea backup critical --verify` "
                            "first, or pass --force to lose it"
                        )
                        continue
                    if name in covered:
                        result.covered_volumes[name] = covered[name]
                    self.engine.remove_volume(name)
                    result.removed_volumes.append(name)
        return result

    def _recover_restore(self, note: Callable[[str], None] | None = None,
                         restart: bool = True) -> RestoreJournal | None:
        """An interrupted restore is rolled back (and what it stopped runs again); one that swapped its data
        in is returned, for `up` to finish."""
        if not self._stack_loads():
            return None
        from fovea_ctl.data.journal import recover_interrupted_restore

        def start_again(journal: RestoreJournal) -> None:
            stopped = [name for name in journal.stopped if name in self.stack.units]
            if not restart or not stopped:
                return
            from fovea_ctl.core.run_progress import PlainReporter

            with open(os.devnull, "w") as quiet:
                _, result = self.up(PlainReporter(stream=quiet), stopped)
            say = note or (lambda text: sys.stderr.write(f"fovea: {text}\n"))
            say(f"started again what it had stopped: {', '.join(stopped)}"
                + (f" (failed: {'; '.join(f.describe() for f in result.failures)})" if result.failures else ""))

        return recover_interrupted_restore(self, note=note, on_rolled_back=start_again)

    def stop_in_reverse_order(self, observed: ObservedState, timeout_s: int | None, reporter: Reporter | None,
                              keep: set[str] | None = None, remove: bool = True) -> None:
        """Each container stops once everything that depends on it has stopped; the rest in parallel.
        Those named in `keep` stay. With `remove` off (`fovea stop`) the stopped containers are kept."""
        containers = {n: c for n, c in observed.containers.items() if n not in (keep or set())}
        extras = list(observed.extra_containers)
        known = self.stack.units if self._stack_loads() else {}
        stopped = {name: threading.Event() for name in containers}
        errors: list[BaseException] = []

        def dependents_of(name: str) -> list[str]:
            return [n for n, u in known.items() if name in u.depends_on and n in containers]

        def stop(name: str) -> None:
            try:
                for dependent in dependents_of(name):
                    stopped[dependent].wait()
                container = containers[name]
                grace = timeout_s if timeout_s is not None else (known[name].stop_timeout_s if name in known else 10)
                if container.running:
                    self.engine.stop_container(container.id, grace)
                if remove:
                    self.engine.remove_container(container.id)
                if reporter:
                    reporter.event(name, "removed" if remove else "stopped", "")
            except BaseException as exc:  # collected and re-raised by the caller's thread
                errors.append(exc)
            finally:
                stopped[name].set()

        threads = [threading.Thread(target=stop, args=(name,), daemon=True) for name in containers]
        for extra in extras:
            self.engine.remove_container(extra.id)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
