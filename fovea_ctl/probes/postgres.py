"""`postgres` probes: from the host, a StartupMessage answered by "accepting connections" (status) or a real
login and SELECT 1 (up: what the backend will do next); inside the container, pg_isready."""

from __future__ import annotations

from fovea_ctl.docker.socket_client import postgres_accepting
from fovea_ctl.probes.check import Check, ProbeFailed, ProbeKind, host_port
from fovea_ctl.probes.exec_command import ExecCheck

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `fovea status` imports this module
if TYPE_CHECKING:
    from typing import Any

    from fovea_ctl.model import PostgresProbe, Service, Stack
    from fovea_ctl.probes.check import Target


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


def pg_isready(probe: PostgresProbe) -> list[str]:
    """The check inside the container, when the port is not published and as Kubernetes' default."""
    return ["pg_isready", "-q", "-U", probe.user, "-d", probe.database]


class PostgresKind(ProbeKind):
    name = "postgres"

    def check(self, probe: PostgresProbe, service: Service, stack: Stack) -> Check:
        port = host_port(service, stack, probe.port)
        if port is None:
            return ExecCheck(pg_isready(probe))
        return PostgresCheck(port, probe.user, probe.database, probe.password_secret)

    def k8s_action(self, probe: PostgresProbe) -> dict[str, Any]:
        from lightkube.models.core_v1 import ExecAction

        return {"exec": ExecAction(command=list(probe.healthcheck or pg_isready(probe)))}
