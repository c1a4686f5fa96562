"""The project's context: its settings and its stack (loaded from `stack/fovea_stack.py`, scaled as the settings
ask), with the secrets it mounts. What every layer above takes; the use cases that act on it (`up`, `plan`,
`down`, the engine and the project lock's way in) are fovea_ctl.reconcile.project.Project.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from functools import cached_property
from typing import TYPE_CHECKING

from fovea_ctl.errors import StackInvalid
from fovea_ctl.model import Stack, StackError
from fovea_ctl.settings.effective import Settings, load_settings

if TYPE_CHECKING:  # imported lazily, for a fast CLI start
    from fovea_ctl.core.secrets import SecretStore


def load_stack(settings: Settings) -> Stack:
    """Import `stack/fovea_stack.py` from the project root and build the stack for these settings."""
    from pydantic import ValidationError

    path = settings.root / "stack" / "fovea_stack.py"
    if not path.is_file():
        raise StackInvalid(f"no stack definition at {path}", hint="set FOVEA_ROOT to the project's folder")
    # Loaded by path under a name unique to its root: two roots in one process never share a module.
    module_name = f"fovea_stack_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    try:
        module = sys.modules.get(module_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(module_name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        stack: Stack = module.build_stack(settings)
        return stack
    except StackError as exc:
        raise StackInvalid("invalid stack:\n  " + "\n  ".join(exc.problems)) from None
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "(model)"
            if isinstance(error.get("ctx", {}).get("error"), StackError):
                problems += error["ctx"]["error"].problems
                continue
            problems.append(f"{exc.title} field {where}: {error['msg']}")
        raise StackInvalid("invalid stack:\n  " + "\n  ".join(problems)) from None
    except (ImportError, SyntaxError) as exc:
        sys.modules.pop(module_name, None)
        raise StackInvalid(f"the stack definition {path} does not load: {exc}") from None



class ProjectContext:
    def __init__(self, settings: Settings | None = None, stack: Stack | None = None) -> None:
        self.settings = settings or load_settings()
        self._stack = stack
        self.applied_secrets: set[str] = set()  # data-bound secrets `secrets rotate` has applied to the data

    @cached_property
    def stack(self) -> Stack:
        return self.load_scaled_stack()

    def load_scaled_stack(self) -> Stack:
        """The stack given, else the project's stack file loaded; scaled as the settings ask."""
        stack = self._stack or load_stack(self.settings)
        if self.settings.scale:
            from fovea_ctl.core.scale import scaled_stack

            stack = scaled_stack(stack, self.settings.scale)
        return stack

    @cached_property
    def secrets(self) -> SecretStore:
        from fovea_ctl.core.secrets import SecretStore

        return SecretStore(self.settings, self.stack)

    def check_targets(self, targets: list[str] | None) -> None:
        """Unknown service names fail as a usage error, before any engine call."""
        if not targets:
            return
        unknown = [t for t in targets if t not in self.stack.units]
        if unknown:
            from fovea_ctl.errors import UsageError

            raise UsageError(f"unknown service {', '.join(unknown)} (known: {', '.join(self.stack.units)})")

    def _stack_loads(self) -> bool:
        """down must work even when the stack file is broken: order then falls back to parallel."""
        try:
            self.stack  # noqa: B018 - the getter loads and validates the stack file; only that is wanted here
        except StackInvalid:
            return False
        return True

