"""What data safety needs of a project: its context, the engine and the reconciler's calls.

fovea_ctl.reconcile.project.Project is the one implementation. A protocol, not an import of it: the reconciler
calls into this layer (an interrupted restore is finished on `writing`, rotate's check runs on `plan`, backup's
markers on `down`), so the data modules importing it back would make the two one import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fovea_ctl.core.run_progress import Reporter
    from fovea_ctl.core.secrets import SecretStore
    from fovea_ctl.docker.engine import Engine
    from fovea_ctl.images import ImageResolver
    from fovea_ctl.model import Stack
    from fovea_ctl.reconcile.apply import ApplyResult
    from fovea_ctl.reconcile.observe import ObservedState
    from fovea_ctl.reconcile.plan import Plan
    from fovea_ctl.settings.effective import Settings


class DataProject(Protocol):
    settings: Settings
    applied_secrets: set[str]

    @property
    def stack(self) -> Stack: ...

    @property
    def secrets(self) -> SecretStore: ...

    @property
    def engine(self) -> Engine: ...

    # What it yields (a swapped-in restore, for `up` to finish) is the reconciler's business: data only writes.
    def writing(self, on_wait: Callable[[], None] | None = None, note: Callable[[str], None] | None = None,
                restart_after_rollback: bool = True) -> AbstractContextManager[object]: ...

    def observe(self) -> ObservedState: ...

    def resolver(self) -> ImageResolver: ...

    def up(self, reporter: Reporter, targets: list[str] | None = None, remove_orphans: bool = False,
           timeout_s: float | None = None) -> tuple[Plan, ApplyResult]: ...
