"""Secrets as files: generated on first use, or supplied by the user, mounted read-only.

Values never go into env, argv, labels or output. The only way to print one is `fovea secrets show`.
A user supplies a secret as FOVEA_SECRET_<NAME>_FILE=/path (the file is mounted as it is) or
FOVEA_SECRET_<NAME>=value (written into the secrets directory, 0600).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets as random_source
import string
import time
from dataclasses import dataclass
from pathlib import Path

from fovea_ctl.errors import FoveaError, UsageError
from fovea_ctl.model import Secret, Stack
from fovea_ctl.settings.effective import Settings

ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class SecretInfo:
    name: str
    source: str  # generated | file:<path> | env
    path: Path
    age_s: float | None  # None: not created yet


class SecretStore:
    def __init__(self, settings: Settings, stack: Stack) -> None:
        self.settings = settings
        self.directory = settings.effective_secrets_dir
        self.declared = {s.name: s for s in stack.secrets}

    def _declared(self, name: str) -> Secret:
        if name not in self.declared:
            raise UsageError(f"unknown secret {name!r} (declared: {', '.join(self.declared) or 'none'})")
        return self.declared[name]

    def _user_file(self, name: str) -> Path | None:
        value = os.environ.get(f"FOVEA_SECRET_{name.upper()}_FILE")
        return Path(value).resolve() if value else None

    def path(self, name: str) -> Path:
        """The file to mount for `name`, created (0600 in a 0700 directory) if needed."""
        secret = self._declared(name)
        user_file = self._user_file(name)
        if user_file is not None:
            if not user_file.is_file() or user_file.stat().st_size == 0:
                raise FoveaError(f"secret {name}: FOVEA_SECRET_{name.upper()}_FILE names {user_file}, which is missing or empty")
            return user_file
        self._ensure_directory()
        target = self.directory / name
        supplied = os.environ.get(f"FOVEA_SECRET_{name.upper()}")
        if supplied is not None:
            if not supplied:
                raise FoveaError(f"secret {name}: FOVEA_SECRET_{name.upper()} is set but empty")
            if not target.exists() or target.read_text() != supplied:
                self._write(target, supplied)
            return target
        if not target.exists():
            self._write(target, "".join(random_source.choice(ALPHABET) for _ in range(secret.length)))
        return target

    def _ensure_directory(self) -> None:
        from fovea_ctl.settings.private_files import private_dir

        private_dir(self.directory, self.settings.root)

    @staticmethod
    def _write(target: Path, value: str) -> None:
        # Written under a temporary name with 0600 from the start, then renamed: never world-readable,
        # never half-written.
        from fovea_ctl.settings.private_files import write_private

        write_private(target, value.encode(), durable=True)

    def data_bound(self) -> set[str]:
        """Secrets a copy of which lives in the data: those that declare how they are applied (a rotation or a
        restore runs that hook); every other one is read by its services when they start."""
        return {name for name, secret in self.declared.items() if secret.applied_by is not None}

    def supplied_by_user(self, name: str) -> bool:
        """The value comes from FOVEA_SECRET_<NAME>[_FILE]: fovea never writes it."""
        return self._user_file(name) is not None or os.environ.get(f"FOVEA_SECRET_{name.upper()}") is not None

    def write(self, name: str, value: str) -> Path:
        """Set a fovea-kept secret's value (restore, rotate); the file, 0600 in the 0700 directory."""
        self._declared(name)
        if self.supplied_by_user(name):
            raise UsageError(f"secret {name} is supplied through FOVEA_SECRET_{name.upper()}[_FILE]; change it there")
        self._ensure_directory()
        target = self.directory / name
        self._write(target, value)
        return target

    def generate(self, name: str) -> str:
        return "".join(random_source.choice(ALPHABET) for _ in range(self._declared(name).length))

    def value(self, name: str) -> str:
        return self.path(name).read_text().strip()

    def fingerprint(self, name: str) -> str:
        """A keyed digest of the value for the config hash: changes with the value, reveals nothing.

        Keyed with a per-project salt kept beside the secrets, so even a weak user-chosen password
        cannot be brute-forced from the hash that engine labels carry.
        """
        from fovea_ctl.settings.fingerprint import fingerprint_key

        key = fingerprint_key(str(self.settings.root), self.settings.project, create=True)
        assert key is not None
        return hmac.new(key, self.path(name).read_bytes(), hashlib.sha256).hexdigest()[:16]

    def list(self) -> list[SecretInfo]:
        infos: list[SecretInfo] = []
        for name in self.declared:
            user_file = self._user_file(name)
            if user_file is not None:
                path, source = user_file, f"file:{user_file}"
            elif os.environ.get(f"FOVEA_SECRET_{name.upper()}") is not None:
                path, source = self.directory / name, "env"
            else:
                path, source = self.directory / name, "generated"
            age = time.time() - path.stat().st_mtime if path.exists() else None
            infos.append(SecretInfo(name, source, path, age))
        return infos
