"""Export → import into a fresh database gives identical rows; a bad line writes nothing."""

from __future__ import annotations

import json

import httpx
import psycopg
from backend_harness import ServedApp, make_settings
from fovea_backend import migrate

TABLES = {
    # annotation_rev is a cache counter bumped by triggers, and probe_key/probe a cache of ffprobe's output, not
    # data; everything else must match exactly.
    "videos": "SELECT id, filename, path, size_bytes, duration, fps_num, fps_den, fps, frame_count, width, height, codec,"
              " metadata, created_at, updated_at FROM videos ORDER BY id",
    "personas": "SELECT * FROM personas ORDER BY id",
    "ontologies": "SELECT * FROM ontologies ORDER BY persona_id",
    "world_state": "SELECT * FROM world_state",
    "annotations": "SELECT * FROM annotations ORDER BY id",
    "video_summaries": "SELECT id, video_id, persona_id, summary, text, key_frames, embedding::text, job_id,"
                       " created_at, updated_at FROM video_summaries ORDER BY id",
}


def _rows(settings) -> dict[str, list[tuple[object, ...]]]:  # type: ignore[no-untyped-def]
    with psycopg.connect(**settings.db_kwargs()) as conn:
        return {table: conn.execute(sql).fetchall() for table, sql in TABLES.items()}


def test_export_then_import_into_a_fresh_database_gives_identical_rows(
    client: httpx.Client, settings, backend_deps, secret_files, fresh_database, admin_password: str, video_a: str  # type: ignore[no-untyped-def]
) -> None:
    # Make sure every exported kind has content, whatever ran before.
    pid = client.post("/api/personas", json={"name": "Exporter", "informationNeed": "ünïcödé ✓"}).json()["id"]
    client.put(f"/api/personas/{pid}/ontology", json={"eventTypes": [{"id": "e", "name": "Event", "weight": 0.1}]})
    client.put("/api/world", json={"times": [{"id": "t1", "start": 1.5}]})
    client.post("/api/annotations", json={"videoId": video_a, "personaId": pid, "type": "entity", "label": "bus",
                                          "frames": [{"frame": 3, "x": 0.5, "y": 1.25, "width": 3.125, "height": 9}]})
    with psycopg.connect(**settings.db_kwargs()) as conn:  # a summary with an embedding, without a worker
        conn.execute("INSERT INTO video_summaries (video_id, summary, text, embedding) VALUES (%s, '{\"a\": 1}', 't', %s::vector)",
                     (video_a, "[" + ",".join(str(i / 1000) for i in range(384)) + "]"))

    exported = client.get("/api/export", params={"format": "jsonl"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert lines[0]["type"] == "header"
    assert {"video", "persona", "ontology", "world", "annotation", "summary"} <= {line["type"] for line in lines}

    fresh = make_settings(backend_deps, secret_files, fresh_database())
    migrate.run(fresh)
    with ServedApp(fresh, run_job_sync=False) as other, other.client(admin_password) as c:
        imported = c.post("/api/import", content=exported.content, headers={"content-type": "application/x-ndjson"})
        assert imported.status_code == 200, imported.text
        assert imported.json()["imported"]["annotation"] == sum(1 for line in lines if line["type"] == "annotation")
        assert _rows(fresh) == _rows(settings)
        # Re-importing the same file is an idempotent upsert.
        assert c.post("/api/import", content=exported.content).status_code == 200
        assert _rows(fresh) == _rows(settings)
        again = c.get("/api/export").text.splitlines()[1:]
        assert again == exported.text.splitlines()[1:]


def test_import_is_all_or_nothing_and_names_the_bad_line(client: httpx.Client, settings) -> None:  # type: ignore[no-untyped-def]
    before = _rows(settings)
    good = json.dumps({"type": "persona", "data": {"id": "00000000-0000-4000-8000-00000000beef", "name": "Temp", "role": "",
                       "informationNeed": "", "hidden": False, "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z"}})
    orphan = json.dumps({"type": "annotation", "data": {"id": "00000000-0000-4000-8000-00000000cafe", "videoId": "0123456789abcdef",
                         "personaId": None, "type": "x", "label": "y", "frames": [{"frame": 0, "x": 0, "y": 0, "width": 1, "height": 1}],
                         "source": "manual", "confidence": None, "jobId": None,
                         "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z"}})
    response = client.post("/api/import", content=f"{good}\n{orphan}\n")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["body", "line 2"]
    assert _rows(settings) == before  # the valid persona on line 1 was not kept

    cases = {
        b"not json\n": ["body", "line 1"],
        b'{"type": "alien", "data": {}}\n': ["body", "line 1", "type"],
        (good[:-2] + ', "name": ""}}\n').encode(): ["body", "line 1", "data", "name"],
        b"": ["body"],
        b"\xff\xfe": ["body"],
    }
    for body, loc in cases.items():
        bad = client.post("/api/import", content=body)
        assert bad.status_code == 422, body
        assert bad.json()["detail"][0]["loc"] == loc, body
    assert _rows(settings) == before


def test_export_format_is_validated(client: httpx.Client) -> None:
    response = client.get("/api/export", params={"format": "csv"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "format"]
