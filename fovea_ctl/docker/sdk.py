"""The docker SDK, imported lazily and once: a converged `up` or `plan`, and `fovea status`, never load it."""

from __future__ import annotations

import threading
from typing import Any

_SDK_IMPORT = threading.Lock()


def import_docker_sdk() -> Any:
    """The docker SDK, imported once under a lock. It is imported lazily (a converged `up` never needs it),
    often from worker threads; its submodules import each other, so two threads importing it at once can
    see a partially initialised `docker.types` (ImportError: cannot import name 'EndpointConfig')."""
    with _SDK_IMPORT:
        import docker

    return docker
