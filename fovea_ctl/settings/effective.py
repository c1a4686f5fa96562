"""Effective settings: FOVEA_* environment variables, then the project's `.env`, then defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fovea_ctl.settings import fingerprint


def find_root() -> Path:
    """The repository that holds `stack/`: FOVEA_ROOT, else the nearest ancestor of the cwd, else ours."""
    return Path(fingerprint.find_root())


# The CA bundles a host commonly trusts, in the order pip/requests/curl would look them up.
CA_BUNDLE_ENV_VARS = ("FOVEA_BUILD_CA_BUNDLE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FOVEA_", extra="ignore", validate_default=True)

    root: Path = Field(default_factory=find_root)
    project: str = Field(default="fovea", pattern=r"^[a-z0-9][a-z0-9_-]*$")
    port_base: int = Field(default=0, ge=0, le=60000)
    # all: every service's ports on 127.0.0.1; user-facing: only frontend, backend, Grafana, Prometheus
    publish: Literal["all", "user-facing"] = "all"
    image_source: Literal["build", "registry"] = "build"
    docker_host: str | None = None
    secrets_dir: Path | None = None
    gpu: bool = False
    build_ca_bundle: Path | None = None
    # A docker client with BuildKit built in; the newer CLI on PATH here lacks buildx (DESIGN.md).
    docker_cli: str | None = None
    base_image: str = "debian:trixie-slim"
    debian_mirror: str = "http://deb.debian.org/debian"
    otlp_endpoint: str | None = None
    probe_timeout_s: float = 2.0
    scale: str = ""  # instances of scalable services on this engine: "model-worker=3,frontend=2"
    # Anyone who reaches the app may make an account (role viewer) at its login page: off unless set.
    self_registration: bool = False
    # The optional `llm` service (llama.cpp's server with a small model) that writes the persona summaries' prose;
    # off unless set. An operator's own endpoint is named in configs/models.yaml instead.
    llm: bool = False

    @field_validator("root")
    @classmethod
    def _absolute_root(cls, root: Path) -> Path:
        return root.resolve()

    @property
    def effective_secrets_dir(self) -> Path:
        return (self.secrets_dir or self.root / ".fovea" / self.project / "secrets").resolve()

    @property
    def state_dir(self) -> Path:
        return self.root / ".fovea" / self.project

    def private_state_dir(self) -> Path:
        """The state directory, made (or checked) 0700 from `.fovea` down: see fovea_ctl.settings.private_files."""
        from fovea_ctl.settings.private_files import private_dir

        return Path(private_dir(self.state_dir, self.root))

    @property
    def network_name(self) -> str:
        return f"{self.project}-network"

    def volume_name(self, volume: str) -> str:
        return f"{self.project}_{volume}"

    def container_name(self, unit: str) -> str:
        return f"{self.project}-{unit}"

    @property
    def effective_ca_bundle(self) -> Path | None:
        if self.build_ca_bundle:
            return self.build_ca_bundle
        for var in CA_BUNDLE_ENV_VARS[1:]:
            value = os.environ.get(var)
            if value and Path(value).is_file():
                return Path(value)
        default = Path("/etc/ssl/certs/ca-certificates.crt")
        return default if default.is_file() else None

    def public_view(self) -> dict[str, object]:
        """Settings as `fovea config` prints them (holds no secret values: secrets live in files)."""
        data = self.model_dump(mode="json")
        data["secrets_dir"] = str(self.effective_secrets_dir)
        data["build_ca_bundle"] = str(self.effective_ca_bundle) if self.effective_ca_bundle else None
        return data


def load_settings(**overrides: Any) -> Settings:
    """Settings with the project's `.env` applied (environment variables still win); `overrides` are fields,
    validated by pydantic like the environment's values."""
    root = Path(str(overrides["root"])) if "root" in overrides else find_root()
    env_file = root / ".env"
    return Settings(_env_file=env_file if env_file.is_file() else None, **overrides)
