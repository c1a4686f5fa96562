"""Export → import into a fresh database gives identical rows; a bad line writes nothing."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator

import httpx
import psycopg
from backend_harness import NDJSON, ServedApp, make_settings, table_digests
from fovea_backend import migrate
from fovea_backend.videos import video_id

TABLES = {
    # annotation_rev and the world's revision are counters bumped by triggers, and probe_key/probe a cache of ffprobe's
    # output, not data; everything else must match exactly.
    "videos": "SELECT id, filename, path, size_bytes, duration, fps_num, fps_den, fps, frame_count, width, height, codec,"
              " metadata, created_at, updated_at FROM videos ORDER BY id",
    # Authors (annotations.created_by/updated_by, personas.owner_id) are accounts of one installation: the import's
    # user writes them in another (tests/backend/test_authorship.py checks them).
    "personas": "SELECT to_jsonb(p) - 'owner_id' FROM personas p ORDER BY id",
    "ontologies": "SELECT * FROM ontologies ORDER BY persona_id",
    "world_state": "SELECT id, entities, events, times, locations, collections, relations, updated_at FROM world_state",
    "annotations": "SELECT to_jsonb(a) - 'created_by' - 'updated_by' FROM annotations a ORDER BY id",
    "annotation_events": "SELECT * FROM annotation_events ORDER BY id",
    "annotation_relations": "SELECT * FROM annotation_relations ORDER BY id",
    "video_summaries": "SELECT id, video_id, persona_id, summary, text, key_frames, embedding::text, job_id,"
                       " created_at, updated_at FROM video_summaries ORDER BY id",
    "video_transcripts": "SELECT * FROM video_transcripts ORDER BY video_id",
}


def _without_authors(lines: list[str]) -> list[dict[str, object]]:
    """Export records without their authors (usernames of the installation that wrote them; see TABLES)."""
    records = [json.loads(line) for line in lines]
    for record in records:
        for key in ("createdBy", "updatedBy", "owner"):
            record["data"].pop(key, None)
    return records


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
    client.put("/api/world", json={"times": [{"id": "t1", "start": 1.5}], "entities": [{"id": "e1", "name": "Bus 7"}]})
    bus = client.post("/api/annotations", json={
        "videoId": video_a, "personaId": pid, "type": "entity", "label": "bus", "entityId": "e1", "attributes": {"line": "7"},
        "locked": True, "frames": [{"frame": 3, "x": 0.5, "y": 1.25, "width": 3.125, "height": 9},
                                   {"frame": 9, "x": 1, "y": 1, "width": 3, "height": 9, "attributes": {"doors": "open"}}]}).json()
    revision = client.get(f"/api/videos/{video_a}").json()["annotationRevision"]
    saved = client.put(f"/api/videos/{video_a}/annotations", headers={"If-Match": f'"{revision}"'}, json={"changes": [
        {"op": "create", "kind": "event", "id": "00000000-0000-4000-8000-0000000000e1", "event": {
            "personaId": None, "type": "stop", "label": "stops", "startFrame": 3, "endFrame": 9,
            "roles": {"vehicle": [{"kind": "track", "id": bus["id"]}]}, "attributes": {"busy": True}}},
        {"op": "create", "kind": "relation", "id": "00000000-0000-4000-8000-0000000000f1", "relation": {
            "personaId": None, "type": "near", "source": {"kind": "track", "id": bus["id"]},
            "target": {"kind": "entity", "id": "e1"}}}]})
    assert saved.status_code == 200 and saved.json()["rejected"] == [], saved.text
    with psycopg.connect(**settings.db_kwargs()) as conn:  # a summary with an embedding, without a worker
        conn.execute("INSERT INTO video_summaries (video_id, summary, text, embedding) VALUES (%s, '{\"a\": 1}', 't', %s::vector)",
                     (video_a, "[" + ",".join(str(i / 1000) for i in range(384)) + "]"))
        # A transcript with word times, as the job sync writes it (fovea_backend.jobs._persist_transcript).
        conn.execute("INSERT INTO video_transcripts (video_id, model, language, status, duration_s, text, segments)"
                     " VALUES (%s, 'whisper-tiny-en', 'en', 'ok', 9.25, 'Police closed the bridge.', %s)",
                     (video_a, json.dumps([{"start": 6.29, "end": 7.8, "text": "Police closed the bridge.", "words": [
                         {"start": 6.29, "end": 6.71, "word": "Police", "probability": 0.83},
                         {"start": 6.71, "end": 7.25, "word": "closed", "probability": 0.94},
                         {"start": 7.25, "end": 7.47, "word": "the", "probability": 0.93},
                         {"start": 7.47, "end": 7.8, "word": "bridge.", "probability": 0.98}]}])))

    exported = client.get("/api/export", params={"format": "jsonl"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert lines[0]["type"] == "header"
    assert {"video", "persona", "ontology", "world", "annotation", "event", "relation", "summary", "transcript"} <= {
        line["type"] for line in lines}

    fresh = make_settings(backend_deps, secret_files, fresh_database())
    migrate.run(fresh)
    with ServedApp(fresh, run_job_sync=False) as other, other.client(admin_password) as c:
        imported = c.post("/api/import", content=exported.content, headers={"content-type": "application/x-ndjson"})
        assert imported.status_code == 200, imported.text
        assert imported.json()["imported"]["annotation"] == sum(1 for line in lines if line["type"] == "annotation")
        assert _rows(fresh) == _rows(settings)
        # Re-importing the same file is an idempotent upsert.
        assert c.post("/api/import", content=exported.content, headers=NDJSON).status_code == 200
        assert _rows(fresh) == _rows(settings)
        again = c.get("/api/export").text.splitlines()[1:]
        assert _without_authors(again) == _without_authors(exported.text.splitlines()[1:])


def test_import_is_all_or_nothing_and_names_the_bad_line(client: httpx.Client, settings) -> None:  # type: ignore[no-untyped-def]
    before = _rows(settings)
    good = json.dumps({"type": "persona", "data": {"id": "00000000-0000-4000-8000-00000000beef", "name": "Temp", "role": "",
                       "informationNeed": "", "hidden": False, "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z"}})
    orphan = json.dumps({"type": "annotation", "data": {"id": "00000000-0000-4000-8000-00000000cafe", "videoId": "0123456789abcdef",
                         "personaId": None, "type": "x", "label": "y", "frames": [{"frame": 0, "x": 0, "y": 0, "width": 1, "height": 1}],
                         "source": "manual", "confidence": None, "jobId": None,
                         "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z"}})
    response = client.post("/api/import", content=f"{good}\n{orphan}\n", headers=NDJSON)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["body", "line 2"]
    assert _rows(settings) == before  # the valid persona on line 1 was not kept

    cases = {
        b"not json\n": ["body", "line 1"],
        b'{"type": "alien", "data": {}}\n': ["body", "line 1", "type"],
        (good[:-2] + ', "name": ""}}\n').encode(): ["body", "line 1", "data", "name"],
        b"": ["body"],
        b"\xff\xfe": ["body", "line 1"],
    }
    for body, loc in cases.items():
        bad = client.post("/api/import", content=body, headers=NDJSON)
        assert bad.status_code == 422, body
        assert bad.json()["detail"][0]["loc"] == loc, body
    assert _rows(settings) == before


def test_export_format_is_validated(client: httpx.Client) -> None:
    response = client.get("/api/export", params={"format": "csv"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "format"]


def _video_line(filename: str, **changes: object) -> str:
    data = {"id": video_id(filename), "filename": filename, "path": filename, "sizeBytes": 10, "duration": None,
            "fpsNum": None, "fpsDen": None, "fps": None, "frameCount": None, "width": None, "height": None, "codec": None,
            "metadata": {}, "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z", **changes}
    return json.dumps({"type": "video", "data": data})


def test_an_imported_video_must_have_its_filenames_id_and_a_video_path_inside_the_directory(isolated_backend) -> None:  # type: ignore[no-untyped-def]
    """A row whose id is not md5(filename) held that name against the row the next sync makes for the file
    (UniqueViolation: every later sync a 500); a path naming a directory broke its stream mid-body."""
    c = isolated_backend.client
    before = table_digests(isolated_backend.settings)
    cases = {
        _video_line("later.mp4", id="00000000000000aa"): ["data", "id"],
        _video_line("dir.mp4", path="sub"): ["data", "path"],          # a directory, not a video file
        _video_line("up.mp4", path="../up.mp4"): ["data", "path"],
        _video_line("abs.mp4", path="/etc/passwd.mp4"): ["data", "path"],
        _video_line("dot.mp4", path="./dot.mp4"): ["data", "path"],
        _video_line("hidden.mp4", path=".fovea-thumbnails/x.mp4"): ["data", "path"],
    }
    for line, loc in cases.items():
        for body in (f"{_video_line('ok.mp4')}\n{line}\n",):
            refused = c.post("/api/import", content=body, headers=NDJSON)
            assert refused.status_code == 422, (line, refused.text)
            assert refused.json()["detail"][0]["loc"] == ["body", "line 2", *loc], refused.text
            preview = c.post("/api/import", params={"dryRun": "true"}, content=body, headers=NDJSON).json()
            assert [(e["line"], e["field"]) for e in preview["errors"]] == [(2, ".".join(loc))], preview
    assert table_digests(isolated_backend.settings) == before
    assert c.post("/api/import", content=_video_line("sub/ok.mp4") + "\n", headers=NDJSON).status_code == 200


def test_a_100000_deep_json_line_is_a_422_naming_the_line(isolated_backend) -> None:  # type: ignore[no-untyped-def]
    c = isolated_backend.client
    deep = '{"type": "world", "data": {"entities": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    for dry_run in ("false", "true"):
        response = c.post("/api/import", params={"dryRun": dry_run}, content=f"{_video_line('a.mp4')}\n{deep}\n", headers=NDJSON)
        assert response.status_code == (200 if dry_run == "true" else 422), response.text[:300]
        if dry_run == "true":
            assert [(e["line"], e["field"]) for e in response.json()["errors"]] == [(2, "line")]
        else:
            assert response.json()["detail"][0]["loc"] == ["body", "line 2"] and "nested" in response.json()["message"]
    # Deep, but within what Python's parser takes: the depth check names the path.
    nested = '{"type": "world", "data": {"entities": [' + "[" * 100 + "]" * 100 + "]}}"
    refused = c.post("/api/import", content=nested + "\n", headers=NDJSON)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"][:4] == ["body", "line 1", "data", "entities"]


def test_a_line_longer_than_16_mib_is_named_and_the_lines_after_it_still_count(isolated_backend) -> None:  # type: ignore[no-untyped-def]
    c = isolated_backend.client
    huge = json.dumps({"type": "world", "data": {"entities": [{"name": "x" * 1000}] * (17 * 1024)}})
    body = f"{_video_line('a.mp4')}\n{huge}\n{_video_line('b.mp4')}\n"
    preview = c.post("/api/import", params={"dryRun": "true"}, content=body, headers=NDJSON).json()
    assert preview["wouldImport"] == {"video": 2}, preview["wouldImport"]
    assert [(e["line"], e["field"]) for e in preview["errors"]] == [(2, "line")] and "16 MiB" in preview["errors"][0]["message"]


def test_an_import_streams_its_body_and_holds_a_fraction_of_it_in_memory(isolated_backend) -> None:  # type: ignore[no-untyped-def]
    """The backend used to hold the whole body (twice) and every parsed record: a 229 MiB dry run took it to
    1.28 GB. Python's allocations in this process (the in-process backend and its threads) are traced while
    a 16 MiB import streams in: the peak stays under a quarter of the body (it was over twice the body: the
    chunks, their join and every record). bench/import_memory.py measures the container's peak at 256 MiB."""
    c = isolated_backend.client
    line = _annotation_line(keyframes=500).encode() + b"\n"  # ~45 KB: a long track
    total = 16 * 1024 * 1024
    count = total // len(line)

    def body() -> Iterator[bytes]:
        yield (_video_line("long.mp4") + "\n").encode()
        for _ in range(count):
            yield line

    tracemalloc.start()
    try:
        response = c.post("/api/import", params={"dryRun": "true"}, content=body(), headers=NDJSON, timeout=600)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200, response.text[:300]
    assert response.json()["wouldImport"] == {"video": 1, "annotation": count} and response.json()["errorCount"] == 0
    assert response.json()["conflictCount"] == count - 1  # one id repeated: every line after the first replaces it
    assert len(response.json()["conflicts"]) == min(count - 1, 1000)
    assert peak < total / 4, f"traced peak {peak / 2**20:.1f} MiB for a {total / 2**20:.0f} MiB import"


def _annotation_line(keyframes: int) -> str:
    frames = [{"frame": n * 3, "x": 10.5, "y": 20.25, "width": 30.125, "height": 40.0, "keyframe": True} for n in range(keyframes)]
    return json.dumps({"type": "annotation", "data": {
        "id": "00000000-0000-4000-8000-0000000a11ce", "videoId": video_id("long.mp4"), "personaId": None, "type": "entity",
        "label": "long", "frames": frames, "source": "manual", "confidence": None, "jobId": None,
        "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z"}})
