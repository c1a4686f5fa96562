"""`redis-cli` inside the redis container, authenticated from the mounted secret file.

One convention for every exec into Redis (probes without a published port, the HEALTHCHECK, backup's
BGSAVE): the password goes from `/run/secrets/<name>` into REDISCLI_AUTH of that one shell, so it is never
in argv (visible in `ps` and `docker inspect` of an exec) nor in the container's environment.
"""

from __future__ import annotations

REDIS_PASSWORD_SECRET = "redis_password"


def _authenticated(script: str, secret: str | None) -> str:
    if secret is None:
        return script
    return f'REDISCLI_AUTH="$(cat /run/secrets/{secret})" {script}'


def redis_cli(*args: str, secret: str | None = REDIS_PASSWORD_SECRET) -> list[str]:
    """`redis-cli ARGS` as an exec command; ARGS travel as positional parameters, never re-parsed."""
    return ["sh", "-c", _authenticated('exec redis-cli "$@"', secret), "redis-cli", *args]


def redis_ping_check(secret: str | None = REDIS_PASSWORD_SECRET) -> list[str]:
    """Exits 0 only on PONG (redis-cli itself exits 0 on an error reply such as NOAUTH)."""
    return ["sh", "-c", _authenticated("redis-cli ping | grep -qx PONG", secret)]
