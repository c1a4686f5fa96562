"""Property-based fuzz of the OpenAPI spec (schemathesis), logged in: no input may produce a 5xx.

Runs against its own database, Redis db and video directory so generated deletes, prunes and imports
cannot disturb other tests; the file name sorts it last only to keep logs readable.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from backend_harness import ServedApp, make_settings, write_video
from fovea_backend import migrate
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

MAX_EXAMPLES = 15


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_: object, value: object) -> bytes:
    # POST /api/import takes JSON Lines as a string body; send generated strings as-is (UTF-8, any junk).
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else json.dumps(value).encode()


@pytest.fixture(scope="module")
def fuzz_app(backend_deps, secret_files, admin_conn, admin_password: str, tmp_path_factory) -> Iterator[tuple[ServedApp, str]]:  # type: ignore[no-untyped-def]
    db = f"fovea_fuzz_{uuid.uuid4().hex[:8]}"
    admin_conn.execute(f'CREATE DATABASE "{db}"')
    root: Path = tmp_path_factory.mktemp("fuzz-videos")
    write_video(root, "fuzz.mp4", 4096, {"width": 320, "height": 240, "fps": 10, "duration": 1})
    settings_ = make_settings(backend_deps, secret_files, db, video_root=root,
                              redis_url=backend_deps.redis_url.rsplit("/", 1)[0] + "/1")
    migrate.run(settings_)
    try:
        with ServedApp(settings_) as served, served.client(admin_password) as c:
            assert c.post("/api/videos/sync").status_code == 200
            yield served, c.cookies["fovea_session"]
    finally:
        admin_conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def test_no_generated_request_causes_a_server_error(fuzz_app: tuple[ServedApp, str]) -> None:
    # Driven through schemathesis' strategies with plain hypothesis: its pytest plugin does not run
    # under pytest 9. Valid and invalid inputs both, every operation, failures collected, not first-only.
    served, token = fuzz_app
    api = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = 0
    for result in api.get_all_operations():
        operation = result.ok()
        if operation.path == "/api/auth/logout":  # would end the fuzzing session itself
            continue
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck), phases=[Phase.generate])
            def call(case: schemathesis.Case) -> None:
                response = case.call(base_url=served.url, cookies={"fovea_session": token}, timeout=30)
                statuses[response.status_code // 100 * 100] += 1
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")

            try:
                call()
            except Unsatisfiable:
                pass  # nothing to make invalid (an operation without parameters or body)
    assert operations >= 25
    assert not failures, "\n".join(sorted(set(failures))[:20])
    # The fuzz reached the handlers, not only validation: many 2xx answers, and 4xx for the invalid inputs.
    assert statuses[200] > 50 and statuses[400] > 50, statuses
    # ... and its session survived every generated request (else the 2xx above were all before it died).
    me = httpx.get(f"{served.url}/api/auth/me", cookies={"fovea_session": token}, timeout=30)
    assert me.status_code == 200 and me.json()["username"] == "admin", me.text
