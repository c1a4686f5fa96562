#!/usr/bin/env python3
"""The annotation workspace under load, in headless Debian Chromium: a video with 1,000 tracks of 100
keyframes each (every track moving on every frame), against a running frontend (nginx of a `fovea up` stack,
or `vite preview` with its /api proxy):

    .venv/bin/python bench/frontend_workspace.py --base-url http://127.0.0.1:3000 --password "$(fovea secrets show admin_password)" \
        [--video-id ID] [--tracks 1000] [--keyframes 100] [--runs 5] [--play-seconds 3] [--out bench/results/frontend_workspace.json]

Measured per run (results are medians over the runs with min-max, plus the load average):
- navigation -> the first frame with its boxes drawn (the overlay's data-box-count > 0), ms;
- the overlay's render time per frame while playing (window.__foveaOverlayTimes: from a frame change to
  the boxes' attributes written), median and p95 over every frame of the run;
- the bulk save of 100 changed tracks (PUT /api/videos/{id}/annotations), ms.
The video's tracks are replaced by the synthetic ones first (one bulk save) and removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--autoplay-policy=no-user-gesture-required"]


def synthetic_tracks(count: int, keyframes: int, width: int, height: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    tracks = []
    for i in range(count):
        w, h = rng.uniform(20, 60), rng.uniform(30, 90)
        x0, y0 = rng.uniform(0, width - w - keyframes * 0.5), rng.uniform(0, height - h)
        frames = [{"frame": f, "x": round(x0 + f * 0.5, 3), "y": round(y0, 3), "width": round(w, 3), "height": round(h, 3)}
                  for f in range(keyframes)]
        tracks.append({"id": str(uuid.uuid4()), "type": "object", "label": f"object {i}", "frames": frames, "source": "manual"})
    return tracks


def spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2), "max": round(max(values), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", required=True)
    parser.add_argument("--video-id")
    parser.add_argument("--tracks", type=int, default=1000)
    parser.add_argument("--keyframes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--play-seconds", type=float, default=3.0)
    parser.add_argument("--chromium", default=os.environ.get("FOVEA_CHROMIUM", "/usr/bin/chromium"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "frontend_workspace.json")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    api = httpx.Client(base_url=args.base_url, timeout=300)
    api.post("/api/auth/login", json={"username": args.username, "password": args.password}).raise_for_status()
    video = next(v for v in api.get("/api/videos").json() if args.video_id in (None, v["id"]))
    vid = video["id"]

    def save(upsert: list[dict], delete: list[str]) -> float:
        revision = api.get(f"/api/annotations/{vid}").headers["ETag"]
        started = time.perf_counter()
        response = api.put(f"/api/videos/{vid}/annotations", json={"upsert": upsert, "delete": delete}, headers={"If-Match": revision})
        elapsed = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        return elapsed

    existing = [a["id"] for a in api.get(f"/api/annotations/{vid}").json()]
    tracks = synthetic_tracks(args.tracks, args.keyframes, video["width"] or 640, video["height"] or 480)
    save(tracks, existing)

    first_boxes, render_median, render_p95, frames_per_run, bulk = [], [], [], [], []
    try:
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
            for run in range(args.runs):
                context = browser.new_context(base_url=args.base_url, viewport={"width": 1440, "height": 900})
                page = context.new_page()
                page.set_default_timeout(300_000)
                page.request.post("/api/auth/login", data={"username": args.username, "password": args.password})
                page.add_init_script("window.__foveaOverlayTimes = []")
                started = time.perf_counter()
                page.goto(f"/videos/{vid}")
                # Selectors, not wait_for_function: the app's CSP forbids the eval that would need.
                page.wait_for_selector("[data-testid=overlay]:not([data-box-count='0'])[data-box-count]")
                first_boxes.append((time.perf_counter() - started) * 1000)
                page.wait_for_selector("[data-testid=video][data-ready=true]")
                page.evaluate("() => { window.__foveaOverlayTimes.length = 0; }")
                page.keyboard.press("Space")
                page.wait_for_timeout(args.play_seconds * 1000)
                page.keyboard.press("Space")
                times = sorted(page.evaluate("() => window.__foveaOverlayTimes.slice()"))
                frames_per_run.append(len(times))
                render_median.append(statistics.median(times))
                render_p95.append(times[min(len(times) - 1, int(len(times) * 0.95))])
                context.close()
                changed = [{**t, "frames": [{**f, "height": round(f["height"] * 0.99, 3)} for f in t["frames"]]} for t in tracks[:100]]
                bulk.append(save(changed, []))
                tracks[:100] = changed
                print(f"run {run + 1}: first boxes {first_boxes[-1]:.0f} ms, overlay median {render_median[-1]:.2f} ms"
                      f" p95 {render_p95[-1]:.2f} ms over {len(times)} frames, bulk save {bulk[-1]:.0f} ms", flush=True)
            browser.close()
    finally:
        save([], [t["id"] for t in tracks])

    report = {
        "benchmark": "frontend_workspace",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "loadavg_after": os.getloadavg()},
        "setup": {"base_url": args.base_url, "tracks": args.tracks, "keyframes_per_track": args.keyframes, "runs": args.runs,
                  "play_seconds": args.play_seconds,
                  "video": {k: video.get(k) for k in ("filename", "width", "height", "fpsNum", "fpsDen")}},
        "results": {
            "navigation_to_first_boxes_ms": spread(first_boxes),
            "overlay_render_ms_median": spread(render_median),
            "overlay_render_ms_p95": spread(render_p95),
            "frames_rendered_per_run": spread([float(n) for n in frames_per_run]),
            "bulk_save_100_tracks_ms": spread(bulk),
        },
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["results"], indent=2))


if __name__ == "__main__":
    main()
