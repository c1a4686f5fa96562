"""Every label key fovea writes on, or reads back from, an engine object (and the Kubernetes labels it renders).

fovea keeps no state file: what it made is found again by these labels, so a key spelt twice is a plan that
no longer sees its own containers. Defined here once, standard library only (`fovea status` imports it on
its fast path); tests/unit/test_labels.py fails on a label key written anywhere else in fovea_ctl.
"""

from __future__ import annotations

from fovea_ctl import __version__

# -- fovea's own, on containers, volumes, networks and images --------------------------------------------
LABEL_PROJECT = "io.fovea.project"  # every object of a local project
LABEL_SERVICE = "io.fovea.service"
LABEL_ROLE = "io.fovea.role"  # service | job | helper
LABEL_VERSION = "io.fovea.version"  # the fovea that made it
LABEL_CONFIG_HASH = "io.fovea.config-hash"  # what the plan compares
LABEL_HASH_PARTS = "io.fovea.hash-parts"  # the parts of that hash, so a plan can name what changed
LABEL_VOLUME = "io.fovea.volume"  # the stack's name of a volume
LABEL_PRIORITY = "io.fovea.priority"  # the volume's backup priority class
LABEL_REPLICA_OF = "io.fovea.replica-of"  # on the extra instances of a scaled service
LABEL_HELPER_OF = "io.fovea.helper-of"  # throwaway helper containers; not LABEL_PROJECT, so plans never see them
LABEL_RECIPE = "io.fovea.recipe"  # on images built from a recipe
LABEL_CONTENT_HASH = "io.fovea.content-hash"  # the recipe's content hash, also the image's tag
# On every Swarm object fovea made (not LABEL_PROJECT: local `fovea up` must never mistake a task container
# for one of its own), and which kind of Swarm object a secret-or-config is.
LABEL_SWARM_STACK = "io.fovea.swarm-stack"
LABEL_SWARM_KIND = "io.fovea.kind"

# -- Docker Compose's and Swarm's, so `docker compose -p NAME ps` and `docker stack services NAME` see fovea's --
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
COMPOSE_VOLUME = "com.docker.compose.volume"
COMPOSE_NETWORK = "com.docker.compose.network"
COMPOSE_CONFIG_HASH = "com.docker.compose.config-hash"  # compose's `ps` lists only containers that carry one
COMPOSE_ONEOFF = "com.docker.compose.oneoff"
COMPOSE_CONTAINER_NUMBER = "com.docker.compose.container-number"
STACK_NAMESPACE = "com.docker.stack.namespace"

# -- rendered Kubernetes manifests (a label key there may hold one slash, no second dot-path) --------------
K8S_VERSION = "io.fovea/version"
K8S_VOLUME = "io.fovea/volume"
K8S_PRIORITY = "io.fovea/priority"


def project_labels(project: str) -> dict[str, str]:
    """Labels every engine object of a project carries (compose's too, so `docker compose -p` sees it)."""
    return {LABEL_PROJECT: project, LABEL_VERSION: __version__, COMPOSE_PROJECT: project}


def helper_labels(project: str) -> dict[str, str]:
    """Labels of every helper container (backup, verify, restore, models import): one scheme to find leftovers by."""
    return {LABEL_HELPER_OF: project, LABEL_ROLE: "helper", LABEL_VERSION: __version__}
