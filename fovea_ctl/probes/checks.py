"""Each probe kind's check on the wire: what `up` waits on and `fovea status` runs, host ports resolved, JSON-ready
for the status roster. A `Check` runs one attempt against a `Target` (the container and how to reach it) and
raises ProbeFailed until the service is ready. The declared probes (fovea_ctl.model) compile to these in
fovea_ctl.probes.kinds.

A TCP connect alone is a false positive here (docker-proxy accepts before anything listens inside), so each
check speaks the service's protocol (fovea_ctl.docker.socket_client): PostgreSQL logs in and runs SELECT 1,
Redis answers PING after AUTH, HTTP answers 2xx, a TCP server greets, an RQ worker is registered in Redis; a
port the stack does not publish is checked inside the container (ExecCheck).

Standard library only (no typing, no dataclasses), in one module: `fovea status` imports it on every call.
"""

from __future__ import annotations

import os

from fovea_ctl.docker.socket_client import (
    ProbeFailed,
    authorization,
    http_get,
    postgres_accepting,
    redis_ping,
    rq_worker_registered,
    tcp_banner,
)
from fovea_ctl.errors import EngineError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `fovea status` imports this module
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    ExecIn = Callable[[str, list[str]], tuple[int, bytes]]  # (container id, argv) -> (exit code, output)
    # A check as JSON: {"kind": ..., plus that kind's fields}; the roster keeps these.
    CheckJson = dict[str, Any]

__all__ = ["CHECKS", "Check", "ExecCheck", "HttpCheck", "PostgresCheck", "ProbeFailed", "RedisCheck", "RqWorkerCheck",
           "Target", "TcpBannerCheck", "Unprobeable", "check_from_json"]


class Target:
    """The container a check runs against: its id, a `docker exec` into it, where the host keeps the
    secrets a check presents, and — when the stack's secret store is at hand (`up`) — a reader of secret
    values, which is what lets a PostgreSQL check log in rather than only ask."""

    __slots__ = ("container_id", "exec_in", "secrets_dir", "timeout_s", "password")

    def __init__(self, container_id: str, exec_in: ExecIn, secrets_dir: str | None, timeout_s: float,
                 password: Callable[[str], str] | None = None) -> None:
        self.container_id = container_id
        self.exec_in = exec_in
        self.secrets_dir = secrets_dir
        self.timeout_s = timeout_s
        self.password = password


class Check:
    """One kind's probe on the wire. Subclasses name their `kind` (the JSON tag) and their `FIELDS` (the
    JSON keys, in order, a None value left out), and run one attempt."""

    kind = ""
    FIELDS: tuple[str, ...] = ()

    def run(self, target: Target, quick: bool = False) -> None:
        """One attempt; ProbeFailed says why the service is not ready. `quick` (status) skips what costs
        more than asking (a PostgreSQL login)."""
        raise NotImplementedError

    def to_json(self) -> CheckJson:
        document: CheckJson = {"kind": self.kind}
        for name in self.FIELDS:
            value = getattr(self, name)
            if value is not None:
                document[name] = value
        return document

    @classmethod
    def from_json(cls, document: CheckJson) -> Check:
        """The check `to_json` wrote; KeyError or TypeError when the document is not one."""
        return cls(**{name: document[name] for name in cls.FIELDS if name in document})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Check) and type(other) is type(self) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_json()!r})"


def secret_file(secrets_dir: str, name: str) -> str:
    """Where secret `name` lives on the host, as SecretStore.path finds it (nothing is created here)."""
    return os.environ.get(f"FOVEA_SECRET_{name.upper()}_FILE") or os.path.join(secrets_dir, name)


def read_secret_file(secrets_dir: str, name: str) -> str:
    with open(secret_file(secrets_dir, name), encoding="utf-8") as handle:
        return handle.read().strip()


class Unprobeable(Check):
    """A probe this stack leaves no way to run (a TCP banner on a port that is not published): never ready,
    and `detail` says why."""

    kind = "fail"
    FIELDS = ("detail",)

    def __init__(self, detail: str) -> None:
        self.detail = detail

    def run(self, target: Target, quick: bool = False) -> None:
        raise ProbeFailed(self.detail)


class ExecCheck(Check):
    kind = "exec"
    FIELDS = ("command",)

    def __init__(self, command: list[str]) -> None:
        self.command = list(command)

    def run(self, target: Target, quick: bool = False) -> None:
        try:
            code, output = target.exec_in(target.container_id, self.command)
        except EngineError as exc:  # e.g. "container is not running": the state check that follows says why
            raise ProbeFailed(f"`{' '.join(self.command)}`: {exc.message}") from None
        if code != 0:
            raise ProbeFailed(f"`{' '.join(self.command)}` exited {code}: "
                              f"{output.decode(errors='replace').strip()[-160:]}")


class PostgresCheck(Check):
    kind = "postgres"
    FIELDS = ("port", "user", "database", "password_secret")

    def __init__(self, port: int, user: str, database: str, password_secret: str | None = None) -> None:
        self.port = port
        self.user = user
        self.database = database
        self.password_secret = password_secret

    def run(self, target: Target, quick: bool = False) -> None:
        """`quick` (status) only asks whether PostgreSQL accepts connections: libpq's import and SCRAM alone
        take longer than the rest of the command."""
        if quick or target.password is None:
            postgres_accepting(self.port, self.user, self.database, target.timeout_s)
            return
        import psycopg

        password = target.password(self.password_secret) if self.password_secret else None
        try:
            with psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, dbname=self.database,
                                 password=password, connect_timeout=max(1, int(target.timeout_s))) as connection:
                connection.execute("SELECT 1").fetchone()
        except psycopg.Error as exc:
            message = str(exc).strip().splitlines()[-1] if str(exc).strip() else exc.__class__.__name__
            raise ProbeFailed(f"postgres: {message}") from None


def redis_password(password_secret: str | None, target: Target) -> str | None:
    """The password to AUTH with: the secret's value if that secret exists; None (no AUTH) while there is none."""
    if not target.secrets_dir or not password_secret:
        return None
    try:
        return read_secret_file(target.secrets_dir, password_secret) or None
    except FileNotFoundError:
        return None


class RedisCheck(Check):
    kind = "redis"
    FIELDS = ("port", "password_secret")

    def __init__(self, port: int, password_secret: str) -> None:
        self.port = port
        self.password_secret = password_secret

    def run(self, target: Target, quick: bool = False) -> None:
        redis_ping(self.port, redis_password(self.password_secret, target), target.timeout_s)


class HttpCheck(Check):
    kind = "http"
    FIELDS = ("port", "path", "auth")

    def __init__(self, port: int, path: str, auth: dict[str, str] | None = None) -> None:
        self.port = port
        self.path = path
        self.auth = auth  # {"scheme", "user", "secret"}: the credential, read from the secret's file on the host

    def authorization(self, target: Target) -> str | None:
        if not self.auth:
            return None
        try:
            secret = read_secret_file(target.secrets_dir or "", self.auth["secret"])
        except OSError as exc:
            raise ProbeFailed(f"http: secret {self.auth['secret']} unreadable: {exc.__class__.__name__}") from None
        return authorization(self.auth["scheme"], self.auth["user"], secret)

    def run(self, target: Target, quick: bool = False) -> None:
        http_get(self.port, self.path, target.timeout_s, self.authorization(target))


class TcpBannerCheck(Check):
    kind = "tcp-banner"
    FIELDS = ("port", "expect")

    def __init__(self, port: int, expect: str) -> None:
        self.port = port
        self.expect = expect

    def run(self, target: Target, quick: bool = False) -> None:
        tcp_banner(self.port, self.expect, target.timeout_s)


class RqWorkerCheck(Check):
    kind = "rq-worker"
    FIELDS = ("port", "worker", "password_secret")

    def __init__(self, port: int, worker: str, password_secret: str) -> None:
        self.port = port
        self.worker = worker  # the RQ name; {hostname} is the container's short id (Docker's default hostname)
        self.password_secret = password_secret

    def run(self, target: Target, quick: bool = False) -> None:
        worker = self.worker.replace("{hostname}", target.container_id[:12])
        rq_worker_registered(self.port, redis_password(self.password_secret, target), worker, target.timeout_s)


CHECKS: dict[str, type[Check]] = {check.kind: check for check in (
    PostgresCheck, RedisCheck, HttpCheck, TcpBannerCheck, ExecCheck, RqWorkerCheck, Unprobeable)}


def check_from_json(document: CheckJson) -> Check:
    """A check `Check.to_json` wrote; KeyError or TypeError when the document is not one (an unknown kind)."""
    return CHECKS[document["kind"]].from_json(document)
