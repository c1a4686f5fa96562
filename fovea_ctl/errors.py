"""One exception hierarchy; each class carries the exit code the CLI returns for it.

The codes are part of the CLI contract (README, "Exit codes"): scripts and CI branch on them.
"""

from __future__ import annotations


class FoveaError(Exception):
    """Base of every error fovea reports to a user: a message that says what failed and what to do."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UsageError(FoveaError):
    exit_code = 2


class PortTaken(UsageError):
    """A host port the stack publishes is held by a process outside this project."""


class StackInvalid(FoveaError):
    """The stack definition (or settings) cannot be turned into a valid desired state."""

    exit_code = 2


class EngineUnreachable(FoveaError):
    exit_code = 3


class EngineError(FoveaError):
    """The engine answered, but refused an operation (port taken, name conflict, ...)."""

    exit_code = 3


class ImageBuildFailed(FoveaError):
    exit_code = 4


class ServiceFailed(FoveaError):
    """One or more services did not become ready (exited, probe budget spent, dependency failed)."""

    exit_code = 5


class ServiceNotRunning(FoveaError):
    """`exec`, `psql`, `redis-cli` or `shell` into a service whose container is stopped or absent."""

    exit_code = 6


class BackupDamaged(FoveaError):
    """A backup failed its checksums or its trial restore: verify and restore refuse it."""

    exit_code = 8


class LockTimeout(FoveaError):
    exit_code = 7


class LockUnsafe(FoveaError):
    """The lock's place could be someone else's (a symlink, a shared directory): fovea refuses it."""

    exit_code = 7


class Interrupted(FoveaError):
    exit_code = 130
