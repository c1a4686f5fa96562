"""GET /api/jobs?videoId=&status=&kind=&limit=: newest first, filters combined, bounded."""

from __future__ import annotations

import psycopg
from backend_harness import write_video
from fovea_backend.seed import AUTOMATED_PERSONA_ID
from fovea_backend.videos import video_id


def test_jobs_list_filters_and_orders_newest_first(isolated_backend) -> None:  # type: ignore[no-untyped-def]
    c = isolated_backend.client
    write_video(isolated_backend.root, "one.mp4", 1000, {"width": 64, "height": 64})
    write_video(isolated_backend.root, "two.mp4", 1000, {"width": 64, "height": 64})
    assert c.post("/api/videos/sync").status_code == 200
    one, two = video_id("one.mp4"), video_id("two.mp4")
    submitted = [
        c.post(f"/api/videos/{one}/detect").json()["jobId"],
        c.post(f"/api/videos/{one}/track").json()["jobId"],
        c.post(f"/api/videos/{two}/detect").json()["jobId"],
        c.post("/api/ontology/augment", json={"personaId": str(AUTOMATED_PERSONA_ID)}).json()["jobId"],
    ]
    with psycopg.connect(**isolated_backend.settings.db_kwargs()) as conn:
        # Distinct creation times (one statement's now() is shared) and one finished job, as job sync would leave it.
        for age, job_id in enumerate(reversed(submitted)):
            conn.execute("UPDATE jobs SET created_at = now() - make_interval(secs => %s) WHERE id = %s", (age, job_id))
        conn.execute("UPDATE jobs SET status = 'failed', error = 'x', finished_at = now() WHERE id = %s", (submitted[0],))

    def ids(**params: object) -> list[str]:
        response = c.get("/api/jobs", params=params)
        assert response.status_code == 200, response.text
        return [job["id"] for job in response.json()]

    assert ids() == list(reversed(submitted))
    assert ids(videoId=one) == [submitted[1], submitted[0]]
    assert ids(videoId=one, status="queued") == [submitted[1]]
    assert ids(status="failed") == [submitted[0]]
    assert ids(kind="detect") == [submitted[2], submitted[0]]
    assert ids(kind=["augment", "track"]) == [submitted[3], submitted[1]]
    assert ids(status=["queued", "running"], kind="detect") == [submitted[2]]
    assert ids(limit=2) == [submitted[3], submitted[2]]
    assert ids(videoId="0123456789abcdef") == []
    full = c.get("/api/jobs", params={"kind": "augment"}).json()[0]
    assert full == c.get(f"/api/jobs/{submitted[3]}").json()  # the same JobOut as the single-job route
    for bad in ({"limit": 0}, {"limit": 501}, {"status": "done"}, {"kind": "paint"}, {"videoId": "NOPE"}):
        response = c.get("/api/jobs", params=bad)
        assert response.status_code == 422, bad
        assert response.json()["detail"][0]["loc"][0] == "query"
