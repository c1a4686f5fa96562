"""The login throttle: attempts per account and per client, counted in Redis before any password is hashed.

Each login costs a bcrypt hash (~0.2 s of a core): unthrottled, 200 wrong passwords in parallel made every
other request 25× slower. `limits` (a maintained library) keeps a moving window per key in Redis, with one
atomic Lua call per attempt, so the counts hold across workers and restarts and a parallel burst cannot
slip past a check-then-count race. Every attempt counts (a burst is refused before its hashes run); a
successful login clears its account's count, so people who type their password right are never locked out
by their own earlier logins. The client is the TCP peer, or the last X-Forwarded-For hop when the peer is a
trusted proxy (the stack's nginx): anything earlier in that header is the client's own claim.
"""

from __future__ import annotations

import hashlib
import math
import socket
import threading
import time
from dataclasses import dataclass

import redis
from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from fovea_backend.errors import ApiError
from fovea_backend.settings import ConfigError, Settings

RESOLVE_EVERY_S = 10.0  # a recreated frontend container gets a new address


class TrustedProxies:
    """The addresses of the trusted proxies' host names, resolved at most every RESOLVE_EVERY_S."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self._addresses: frozenset[str] = frozenset()
        self._resolved_at = -math.inf
        self._lock = threading.Lock()

    def addresses(self) -> frozenset[str]:
        with self._lock:
            if time.monotonic() - self._resolved_at > RESOLVE_EVERY_S:
                found: set[str] = set()
                for name in self.names:
                    try:
                        found.update(str(info[4][0]) for info in socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP))
                    except OSError:
                        continue  # not resolvable here (no proxy in front): nobody is trusted under that name
                self._addresses, self._resolved_at = frozenset(found), time.monotonic()
            return self._addresses

    def client(self, peer: str, forwarded_for: str | None) -> str:
        if forwarded_for and self.names and peer in self.addresses():
            return forwarded_for.rsplit(",", 1)[-1].strip() or peer
        return peer


@dataclass(frozen=True)
class LoginThrottle:
    limiter: MovingWindowRateLimiter
    per_account: RateLimitItem
    per_client: RateLimitItem
    proxies: TrustedProxies

    @classmethod
    def from_settings(cls, settings: Settings, client: redis.Redis) -> LoginThrottle:
        items: list[RateLimitItem] = []
        for variable, value in (("BACKEND_LOGIN_LIMIT_PER_ACCOUNT", settings.login_limit_per_account),
                                ("BACKEND_LOGIN_LIMIT_PER_CLIENT", settings.login_limit_per_client)):
            try:
                items.append(parse(value))
            except ValueError:
                raise ConfigError(f"{variable}: {value!r} is not a rate like '10 per 5 minutes'") from None
        # Keys per database: the accounts live there (and tests give each app its own database).
        storage = RedisStorage("redis://", connection_pool=client.connection_pool, key_prefix=f"fovea-login:{settings.db_name}")
        return cls(MovingWindowRateLimiter(storage), items[0], items[1], TrustedProxies(settings.trusted_proxies))

    def admit(self, username: str, peer: str, forwarded_for: str | None) -> None:
        """Count one attempt; raise 429 (with Retry-After) when the client or the account is over its limit."""
        client = self.proxies.client(peer, forwarded_for)
        account = _account_key(username)
        try:
            if not self.limiter.hit(self.per_client, "client", client):
                raise self._refusal(self.per_client, ("client", client), ("client",),
                                    f"too many login attempts from this client ({client}): at most {self.per_client}")
            if not self.limiter.hit(self.per_account, "account", account):
                raise self._refusal(self.per_account, ("account", account), ("body", "username"),
                                    f"too many login attempts for this account: at most {self.per_account}")
        except redis.RedisError:
            raise ApiError(503, "the login throttle cannot reach Redis; retry later") from None

    def succeeded(self, username: str) -> None:
        try:
            self.limiter.clear(self.per_account, "account", _account_key(username))
        except redis.RedisError:
            pass  # the count expires with its window; the login itself succeeded

    def _refusal(self, item: RateLimitItem, key: tuple[str, str], field: tuple[str, ...], message: str) -> ApiError:
        reset_at = self.limiter.get_window_stats(item, *key).reset_time
        retry_after = max(1, math.ceil(reset_at - time.time()))
        return ApiError(429, f"{message}; retry in {retry_after} s", field, headers={"Retry-After": str(retry_after)})


def _account_key(username: str) -> str:
    # Hashed: a username is at most 200 characters of anything, and keys should not echo it into Redis.
    return hashlib.sha256(username.encode()).hexdigest()[:32]
