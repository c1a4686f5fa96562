"""The login throttle: attempts per account and per client, in Redis, refused with 429 and Retry-After before
any password is hashed (fovea_backend/throttle.py). Each test runs on its own database, so its counts are its own."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from backend_harness import ServedApp
from fovea_backend.routes import auth as auth_routes

WRONG = {"username": "admin", "password": "not-the-password"}


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every password check the login route runs (the real bcrypt check, counted)."""
    checked: list[str] = []
    real = auth_routes.verify_password

    def counted(password: str, password_hash: str | None) -> bool:
        checked.append(password)
        return real(password, password_hash)

    monkeypatch.setattr(auth_routes, "verify_password", counted)
    yield checked


def _login(base_url: str, body: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{base_url}/api/auth/login", json=body, headers=headers, timeout=60)


def test_200_parallel_wrong_passwords_get_429_with_retry_after_and_cost_at_most_10_hashes(isolated_backend, hashes: list[str]) -> None:  # type: ignore[no-untyped-def]
    base_url = str(isolated_backend.client.base_url)
    hashes.clear()  # the fixture's own login
    with ThreadPoolExecutor(max_workers=32) as pool:
        responses = list(pool.map(lambda _: _login(base_url, WRONG), range(200)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {401: 10, 429: 190}, statuses  # 10 per 5 minutes per account: the default
    assert len(hashes) == 10  # a refused attempt never reached bcrypt
    for refused in (r for r in responses if r.status_code == 429):
        assert 1 <= int(refused.headers["Retry-After"]) <= 300, refused.headers
        body = refused.json()
        assert "too many login attempts" in body["message"] and "retry in" in body["message"], body
        assert body["detail"][0]["loc"] in (["body", "username"], ["client"]), body
    # The right password is refused too while the account is over its limit: a guesser cannot tell.
    assert _login(base_url, {**WRONG, "password": isolated_backend.settings.admin_password}).status_code == 429


def test_a_successful_login_clears_the_accounts_count(isolated_backend) -> None:  # type: ignore[no-untyped-def]
    base_url = str(isolated_backend.client.base_url)
    right = {**WRONG, "password": isolated_backend.settings.admin_password}
    assert [_login(base_url, WRONG).status_code for _ in range(9)] == [401] * 9
    assert _login(base_url, right).status_code == 200  # the 10th attempt, within the limit
    assert [_login(base_url, WRONG).status_code for _ in range(10)] == [401] * 10  # counted from zero again
    assert _login(base_url, WRONG).status_code == 429


def test_the_count_holds_across_workers_through_redis(isolated_backend) -> None:  # type: ignore[no-untyped-def]
    # A second backend process on the same database and Redis: a worker beside the first.
    with ServedApp(isolated_backend.settings, run_job_sync=False) as second:
        first_url = str(isolated_backend.client.base_url)
        assert [_login(first_url, WRONG).status_code for _ in range(5)] == [401] * 5
        assert [_login(second.url, WRONG).status_code for _ in range(5)] == [401] * 5
        assert _login(first_url, WRONG).status_code == 429
        assert _login(second.url, WRONG).status_code == 429


def test_the_client_is_the_hop_a_trusted_proxy_adds_never_what_the_client_claims(isolated_backend) -> None:  # type: ignore[no-untyped-def]
    settings = isolated_backend.settings.model_copy(update={"login_limit_per_client": "5 per minute",
                                                            "trusted_proxies": ("localhost",)})
    with ServedApp(settings, run_job_sync=False) as behind_nginx:
        # From a trusted proxy (here: localhost), the last X-Forwarded-For hop is the client; what comes
        # before it is the client's own claim and changes nothing.
        for claim in range(5):
            forwarded = {"X-Forwarded-For": f"198.51.100.{claim}, 203.0.113.7"}
            assert _login(behind_nginx.url, {**WRONG, "username": f"user{claim}"}, forwarded).status_code == 401
        refused = _login(behind_nginx.url, {**WRONG, "username": "fresh"}, {"X-Forwarded-For": "203.0.113.7"})
        assert refused.status_code == 429 and "203.0.113.7" in refused.json()["message"], refused.text
        assert refused.json()["detail"][0]["loc"] == ["client"] and int(refused.headers["Retry-After"]) >= 1
        assert _login(behind_nginx.url, WRONG, {"X-Forwarded-For": "203.0.113.8"}).status_code == 401  # another client
    untrusted = settings.model_copy(update={"trusted_proxies": ()})
    with ServedApp(untrusted, run_job_sync=False) as direct:
        # Not behind a trusted proxy: a forged header is ignored, the peer address counts.
        statuses = [_login(direct.url, {**WRONG, "username": f"other{n}"}, {"X-Forwarded-For": f"192.0.2.{n}"}).status_code
                    for n in range(6)]
        assert statuses == [401] * 5 + [429], statuses
