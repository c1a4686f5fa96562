"""The FOVEA stack: the single source of truth that `fovea up`, `plan`, `render` and `backup` read.

Read it like the seed's service table: one block per service with its image, ports, dependencies,
probe and volumes (each volume with its backup priority). Host ports are the seed's, shifted by
FOVEA_PORT_BASE; names come from FOVEA_PROJECT.
"""

from __future__ import annotations

import sys

from fovea_ctl.model import (
    ExecProbe,
    GpuRequest,
    Condition,
    InitJob,
    BackupStrategy,
    BuildRecipe,
    ConfigFile,
    ImageSpec,
    Mount,
    Placement,
    Port,
    PostgresProbe,
    Priority,
    HttpProbe,
    RedisProbe,
    ScalePolicy,
    Secret,
    Service,
    Stack,
    Volume,
)
from fovea_ctl.redis_cli import REDIS_PASSWORD_SECRET, redis_ping_check
from fovea_ctl.settings import Settings

DATABASE = "fovea"
# Node labels for multi-node engines (Swarm, Kubernetes): the node that holds the database's volume,
# and GPU nodes as NVIDIA's GPU feature discovery labels them. A single local engine ignores them.
DATA_NODE = Placement(node_labels={"io.fovea.data": "true"})
GPU_NODE = Placement(node_labels={"nvidia.com/gpu.present": "true"})
DATABASE_USER = "fovea"


def recipe(name: str, context: str | None = None) -> BuildRecipe:
    return BuildRecipe(name=f"fovea/{name}", context=context or f"stack/images/{name}")


VOLUMES = [
    Volume(name="postgres-data", priority=Priority.CRITICAL, backup=BackupStrategy.PG_DUMP,
           description="all application data"),
    Volume(name="video-data", priority=Priority.CRITICAL, backup=BackupStrategy.TAR, description="video files"),
    Volume(name="redis-data", priority=Priority.IMPORTANT, backup=BackupStrategy.REDIS_RDB,
           description="job queue state"),
    Volume(name="prometheus-data", priority=Priority.RECREATABLE, description="historical metrics"),
    Volume(name="model-cache", priority=Priority.RECREATABLE, description="model weights (seeded from the image)"),
    Volume(name="grafana-data", priority=Priority.RECREATABLE, description="Grafana's own state (dashboards are provisioned)"),
]

SECRETS = [
    Secret(name="postgres_password", description="password of the fovea database user"),
    Secret(name="admin_password", description="password of the backend's `admin` user"),
    Secret(name="session_secret", length=64, description="key of the backend's session tokens"),
    Secret(name=REDIS_PASSWORD_SECRET, description="password of Redis: the backend, the workers and fovea AUTH with it"),
]
REDIS_PASSWORD_FILE = f"/run/secrets/{REDIS_PASSWORD_SECRET}"


postgres = Service(
    name="postgres",
    description="PostgreSQL 17 + pgvector: personas, ontologies, annotations, summaries",
    image=ImageSpec(recipe=recipe("postgres"), registry="pgvector/pgvector:pg17"),
    env={"POSTGRES_USER": DATABASE_USER, "POSTGRES_DB": DATABASE,
         "POSTGRES_PASSWORD_FILE": "/run/secrets/postgres_password"},
    ports=[Port(container=5432)],
    mounts=[Mount(volume="postgres-data", target="/var/lib/postgresql/data")],
    secrets=["postgres_password"],
    probe=PostgresProbe(user=DATABASE_USER, database=DATABASE, password_secret="postgres_password",
                        healthcheck=["pg_isready", "-q", "-h", "127.0.0.1", "-U", DATABASE_USER]),
    placement=DATA_NODE,
)

redis = Service(
    name="redis",
    description="Redis 8 with AOF: the job queues; password required, protected mode on",
    image=ImageSpec(recipe=recipe("redis"), registry="redis:8"),
    # requirepass comes from the secret file via a config the entrypoint writes, never from argv.
    command=["redis-server", "--bind", "0.0.0.0", "--protected-mode", "yes", "--dir", "/data",
             "--appendonly", "yes", "--appendfsync", "everysec"],
    env={"REDIS_PASSWORD_FILE": REDIS_PASSWORD_FILE},
    ports=[Port(container=6379)],
    mounts=[Mount(volume="redis-data", target="/data")],
    secrets=[REDIS_PASSWORD_SECRET],
    probe=RedisProbe(password_secret=REDIS_PASSWORD_SECRET, healthcheck=redis_ping_check(REDIS_PASSWORD_SECRET)),
)


prometheus = Service(
    name="prometheus",
    description="Prometheus 2.53: metrics storage, remote-write receiver for the collector",
    image=ImageSpec(recipe=recipe("prometheus"), registry="prom/prometheus:v2.53.3"),
    command=["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus",
             "--storage.tsdb.retention.time=15d", "--storage.tsdb.retention.size=2GB", "--web.listen-address=:9090",
             "--web.enable-remote-write-receiver", "--web.enable-lifecycle"],
    ports=[Port(container=9090)],
    user_facing=True,
    mounts=[Mount(volume="prometheus-data", target="/prometheus")],
    configs=[ConfigFile(source="configs/prometheus.yml", target="/etc/prometheus/prometheus.yml")],
    probe=HttpProbe(port=9090, path="/-/ready",
                    healthcheck=["promtool", "check", "ready", "--url=http://127.0.0.1:9090"]),
)

# Offline: vmagent takes OTLP/HTTP metrics and remote-writes them into Prometheus (no traces, no gRPC).
# Registry: the official collector-contrib, whose prometheus exporter on 8889 Prometheus scrapes.
# Both deliver the same names (fovea_api_requests_total, ...); services send to http://otel-collector:4318.
otel_collector = Service(
    name="otel-collector",
    description="OTLP metrics receiver → Prometheus (vmagent offline, collector-contrib from a registry)",
    image=ImageSpec(recipe=recipe("otel-collector"), registry="otel/opentelemetry-collector-contrib:0.114.0"),
    ports=[Port(container=4318, name="otlp-http"), Port(container=4317, name="otlp-grpc")],
    depends_on={"prometheus": Condition.READY},
    probe=HttpProbe(port=4318, path="/health", budget_s=30),
)


def collector_variant(settings: Settings) -> Service:
    """Registry mode: collector-contrib reads configs/otel-collector.yaml and answers health on 13133."""
    if settings.image_source != "registry":
        return otel_collector
    return otel_collector.model_copy(update={
        "ports": [*otel_collector.ports, Port(container=8889, name="prometheus-exporter"),
                  Port(container=13133, name="health")],
        "configs": [ConfigFile(source="configs/otel-collector.yaml", target="/etc/otelcol-contrib/config.yaml")],
        "probe": HttpProbe(port=13133, path="/", budget_s=30),
    })


grafana = Service(
    name="grafana",
    description="Grafana 11: provisioned Prometheus datasource and FOVEA dashboards (registry mode only)",
    image=ImageSpec(registry="grafana/grafana-oss:11.3.0"),
    env={"GF_AUTH_ANONYMOUS_ENABLED": "true", "GF_AUTH_ANONYMOUS_ORG_ROLE": "Viewer",
         "GF_PATHS_PROVISIONING": "/etc/grafana/provisioning"},
    ports=[Port(container=3000, host=3002)],  # 3000 is the frontend's
    user_facing=True,
    mounts=[Mount(volume="grafana-data", target="/var/lib/grafana")],
    configs=[
        ConfigFile(source="configs/grafana/provisioning/datasources/prometheus.yaml",
                   target="/etc/grafana/provisioning/datasources/prometheus.yaml"),
        ConfigFile(source="configs/grafana/provisioning/dashboards/fovea.yaml",
                   target="/etc/grafana/provisioning/dashboards/fovea.yaml"),
        ConfigFile(source="configs/grafana/dashboards", target="/var/lib/grafana-dashboards"),
    ],
    depends_on={"prometheus": Condition.READY},
    probe=HttpProbe(port=3000, path="/api/health", budget_s=90),
)


def grafana_variant(settings: Settings) -> Service:
    if settings.image_source == "registry":
        return grafana
    return grafana.model_copy(update={
        "unavailable_reason": "no Grafana image offline (registry mode only: FOVEA_IMAGE_SOURCE=registry)"})


def prometheus_variant(settings: Settings) -> Service:
    """Offline the collector remote-writes; from a registry Prometheus scrapes the collector's :8889."""
    if settings.image_source != "registry":
        return prometheus
    return prometheus.model_copy(update={"configs": [
        ConfigFile(source="configs/prometheus-registry.yml", target="/etc/prometheus/prometheus.yml")]})


backend = Service(
    name="backend",
    description="the FOVEA API (FastAPI): personas, ontologies, videos, annotations, jobs",
    image=ImageSpec(recipe=recipe("backend", "services/backend")),
    env={"BACKEND_DB_HOST": "postgres", "BACKEND_DB_NAME": DATABASE, "BACKEND_DB_USER": DATABASE_USER,
         "BACKEND_DB_PASSWORD_FILE": "/run/secrets/postgres_password",
         "BACKEND_ADMIN_PASSWORD_FILE": "/run/secrets/admin_password",
         "BACKEND_SESSION_SECRET_FILE": "/run/secrets/session_secret",
         "BACKEND_REDIS_URL": "redis://redis:6379/0", "BACKEND_REDIS_PASSWORD_FILE": REDIS_PASSWORD_FILE,
         "BACKEND_VIDEO_ROOT": "/data/videos",
         "BACKEND_OTLP_ENDPOINT": "http://otel-collector:4318"},
    ports=[Port(container=3001)],
    user_facing=True,
    mounts=[Mount(volume="video-data", target="/data/videos")],
    secrets=["postgres_password", "admin_password", "session_secret", REDIS_PASSWORD_SECRET],
    depends_on={"postgres": Condition.READY, "redis": Condition.READY, "otel-collector": Condition.STARTED},
    init_jobs=[InitJob(name="migrate", command=["python3", "-m", "fovea_backend.migrate"],
                       inputs=["services/backend/migrations"])],
    probe=HttpProbe(port=3001, path="/health",
                    healthcheck=["python3", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:3001/health', timeout=2)"]),
)


# The probe asks /api/health through nginx: it proves nginx answers and its proxy reaches a healthy
# backend (nginx up with a broken proxy is not ready). The image has no curl: bash speaks HTTP/1.0
# (and no `$` in it: compose would interpolate one in the rendered file).
FRONTEND_HEALTHCHECK = ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/3000 && printf 'GET /api/health HTTP/1.0\\r\\n\\r\\n' >&3 "
                        "&& head -n1 <&3 | grep -q ' 200 '"]

frontend = Service(
    name="frontend",
    description="the FOVEA app in the browser: static files by nginx, /api proxied to the backend",
    image=ImageSpec(recipe=recipe("frontend", "services/frontend")),
    ports=[Port(container=3000)],
    # The Metrics page draws the same dashboard files Grafana provisions (one source for both).
    configs=[ConfigFile(source="configs/grafana/dashboards", target="/usr/share/fovea-dashboards")],
    depends_on={"backend": Condition.READY},
    probe=HttpProbe(port=3000, path="/api/health", budget_s=30, healthcheck=FRONTEND_HEALTHCHECK),
    user_facing=True,
    links={"app": "/", "metrics": "/metrics"},
)


# -- model-service: the HTTP API and the RQ queue worker in one process; CPU and GPU variants ----------

MODEL_SERVICE_CONTEXT = "services/model_service"
MODEL_ENV = {"MODEL_REDIS_URL": "redis://redis:6379/0", "MODEL_REDIS_PASSWORD_FILE": REDIS_PASSWORD_FILE,
             "MODEL_VIDEO_ROOT": "/data/videos",
             "MODEL_CACHE_DIR": "/models", "MODEL_CONFIG": "/etc/fovea/models.yaml",
             "MODEL_OTLP_ENDPOINT": "http://otel-collector:4318"}
MODEL_MOUNTS = [Mount(volume="model-cache", target="/models"),
                Mount(volume="video-data", target="/data/videos", read_only=True)]
MODEL_CONFIGS = [ConfigFile(source="configs/models.yaml", target="/etc/fovea/models.yaml")]


def model_image(variant: str) -> ImageSpec:
    # The wheelhouse is fetched by `prepare` from hash-pinned lock files, which the content hash covers;
    # hashing the 200 MB of wheels themselves on every `up` would only slow the no-op path.
    return ImageSpec(recipe=BuildRecipe(
        name="fovea/model-service" + ("-gpu" if variant == "gpu" else ""), context=MODEL_SERVICE_CONTEXT,
        dockerfile="Dockerfile.gpu" if variant == "gpu" else "Dockerfile",
        exclude=[".wheelhouse"], prepare=[sys.executable, "fetch_wheels.py"],  # fovea's own Python has pip
    ))


def model_services(variant: str, enabled: bool, dedicated_workers: bool = False) -> list[Service]:
    """One variant's model-service (the other variant's is disabled: exclusive roles). It is the HTTP API
    and the RQ worker of every queue in one process (MODEL_WORKER=1), so the models load once.

    Two healths: fovea's probe (`up`'s gate and `status`'s live "ready") is GET /health/queues: the API
    answers and its worker is registered in Redis, consuming the object-detection, object-tracking,
    video-summarization and ontology-augmentation queues; the container's HEALTHCHECK (the health column
    of `fovea status` and `docker ps`) is GET /health: the API is up with its models loaded.
    """
    suffix = "-gpu" if variant == "gpu" else ""
    common = dict(
        image=model_image(variant), env={**MODEL_ENV, "MODEL_DEVICE": "cuda" if variant == "gpu" else "cpu"},
        mounts=MODEL_MOUNTS, configs=MODEL_CONFIGS, secrets=[REDIS_PASSWORD_SECRET], variant=variant,
        gpu=GpuRequest() if variant == "gpu" else None, placement=GPU_NODE if variant == "gpu" else None,
    )
    api = Service(
        name=f"model-service{suffix}", role="model-service",
        description=f"AI inference API and queue worker ({variant}): detection, tracking, summaries, "
                    "ontology suggestions",
        ports=[Port(container=8000)],
        # It loads its models (~4 s alone, far longer on two busy cores) before it first connects to Redis,
        # and retries while Redis is away; its own probe proves the queue connection. Its metrics exporter
        # sends every few seconds and retries, so the collector need not run first either. Waiting for
        # Redis ready and the collector (itself after Prometheus) started it ~0.9 s into a cold `up`, on
        # the full stack's longest chain; now it starts with the first containers.
        depends_on={"redis": Condition.STARTED},
        probe=HttpProbe(port=8000, path="/health/queues", budget_s=180, healthcheck=[
            "python3", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/health', timeout=2)"]),
        enabled=enabled,
        **{**common, "env": {**common["env"], "MODEL_WORKER": "1"}},  # type: ignore[arg-type]
    )
    # Dedicated workers, only when asked for (`--scale model-worker=N`, FOVEA_SCALE): more consumers of the
    # same queues beside the API's own worker, each loading its models once.
    worker = Service(
        name=f"model-worker{suffix}", role="model-worker",
        description=f"extra RQ worker ({variant}) for the object-detection, object-tracking, "
                    "video-summarization and ontology-augmentation queues",
        command=["python3", "-m", "model_service.worker"],
        # Stateless: each worker takes jobs from the queue (at-least-once: a dead worker's job is requeued).
        scale=ScalePolicy(max_replicas=16),
        depends_on={"redis": Condition.READY, "otel-collector": Condition.STARTED},
        probe=ExecProbe(command=["python3", "-m", "model_service.worker", "--check"], budget_s=180,
                        healthcheck=["python3", "-m", "model_service.worker", "--check"]),
        enabled=enabled and dedicated_workers,
        **common,  # type: ignore[arg-type]
    )
    return [api, worker]


def workers_requested(settings: Settings) -> bool:
    from fovea_ctl.scale import parse_scale

    return any(name.startswith("model-worker") for name in parse_scale(settings.scale))


def build_stack(settings: Settings) -> Stack:
    return Stack(
        name=settings.project,
        port_base=settings.port_base,
        publish=settings.publish,
        services=[postgres, redis, prometheus_variant(settings), collector_variant(settings),
                  grafana_variant(settings), backend, frontend,
                  *model_services("cpu", enabled=not settings.gpu, dedicated_workers=workers_requested(settings)),
                  *model_services("gpu", enabled=settings.gpu, dedicated_workers=workers_requested(settings))],
        volumes=VOLUMES,
        secrets=SECRETS,
    )
