"""The model-service HTTP API, against the real image: detection, tracking, summaries, suggestions,
path confinement and the health contract."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import httpx
import pytest


pytestmark = pytest.mark.engine

TEST_VIDEO = "bus_pan.mp4"  # made by make_test_video.sh (see conftest.video_root)

BOX_KEYS = {"x", "y", "width", "height"}


def pretty(data: object) -> str:
    return json.dumps(data, indent=1)[:2000]


AUTH: dict[str, str] = {}  # the service token's header, set for every test below


@pytest.fixture(autouse=True)
def _present_the_service_token(service_token: str) -> None:
    AUTH["Authorization"] = f"Bearer {service_token}"


def post(api: str, path: str, body: dict, timeout: float = 180) -> httpx.Response:
    return httpx.post(f"{api}{path}", json=body, timeout=timeout, headers=AUTH)


def assert_box_inside_frame(box: dict) -> None:
    assert set(box) == BOX_KEYS
    assert all(0.0 <= box[k] <= 1.0 for k in BOX_KEYS), box
    assert box["width"] > 0 and box["height"] > 0, box
    assert box["x"] + box["width"] <= 1.0 + 1e-6 and box["y"] + box["height"] <= 1.0 + 1e-6, box


def test_every_route_but_health_refuses_a_request_without_the_service_token(api: str) -> None:
    """Before: detect, track, summarize, augment and /docs answered anyone, whatever the Host."""
    body = {"video_id": "bus_pan"}
    for method, path in (("POST", "/api/detect"), ("POST", "/api/track"), ("POST", "/api/summarize"),
                         ("POST", "/api/augment"), ("GET", "/docs"), ("GET", "/openapi.json"), ("GET", "/health/queues")):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": AUTH["Authorization"] + "x"},
                        {"Host": "localhost"}):
            response = httpx.request(method, f"{api}{path}", json=body if method == "POST" else None, headers=headers,
                                     timeout=30)
            assert response.status_code == 401, (path, headers, response.status_code)
    assert httpx.get(f"{api}/health", timeout=10).status_code == 200
    assert httpx.get(f"{api}/openapi.json", headers=AUTH, timeout=10).status_code == 200


def test_health_reports_device_torch_and_the_models_the_background_preload_loaded(api: str) -> None:
    """The API answers before any model is loaded; models.yaml's preload loads the usual three a few seconds
    after start (a request that needs one sooner loads it itself)."""
    deadline = time.monotonic() + 180
    while True:
        response = httpx.get(f"{api}/health", timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        if len(body["models_loaded"]) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert body["status"] == "ok"
    assert body["device"] in ("cpu", "cuda")
    assert body["torch_version"].startswith("2.")
    assert set(body) >= {"cuda_device", "cuda_memory", "torch_cuda"}
    if body["device"] == "cpu":
        assert body["cuda_device"] is None and body["cuda_memory"] is None
    assert set(body["models_loaded"]) == {"detector", "tracker", "embedder"}


def test_without_a_gpu_the_image_runs_on_the_cpu_with_its_own_torch_build(api: str, model_variant: str) -> None:
    """No GPU exists on these machines: MODEL_DEVICE=auto (the image's default) falls back to the CPU. The GPU
    image (FOVEA_TEST_MODEL_VARIANT=gpu) still carries PyPI's CUDA torch; the CPU image Debian's CPU build."""
    body = httpx.get(f"{api}/health", timeout=10).json()
    assert body["device"] == "cpu"
    if model_variant == "gpu":
        assert body["torch_cuda"] and "+debian" not in body["torch_version"], body
    else:
        assert body["torch_cuda"] is None, body


@pytest.mark.parametrize("command", [[], ["python3", "-m", "model_service.worker"]], ids=["api", "worker"])
def test_model_device_cuda_without_a_gpu_refuses_to_start_with_one_clear_line(model_image: str,
                                                                             command: list[str]) -> None:
    result = subprocess.run([shutil.which("docker") or "docker", "run", "--rm", "--network", "none",
                             "-e", "MODEL_DEVICE=cuda", model_image, *command], capture_output=True, text=True, timeout=180)
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("model-service: MODEL_DEVICE=cuda but torch sees no CUDA device"), result.stderr[-2000:]
    assert "set MODEL_DEVICE=auto to fall back to the CPU" in last


def test_detection_on_the_test_video_finds_people_with_boxes_inside_the_frame(api: str) -> None:
    response = post(api, "/api/detect", {"video_path": TEST_VIDEO, "sample_every": 10, "confidence": 0.3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["width"], body["height"]) == (480, 640) and body["fps"] == pytest.approx(10.0)
    assert [f["frame"] for f in body["frames"]] == [0, 10, 20]
    assert body["frames"][1]["time_s"] == pytest.approx(1.0)
    for frame in body["frames"]:
        people = [d for d in frame["detections"] if d["label"] == "person"]
        assert len(people) >= 2, pretty(frame)  # bus.jpg shows four people; the zoom crops some of them away
        for detection in frame["detections"]:
            assert 0.3 <= detection["confidence"] <= 1.0
            assert_box_inside_frame(detection["box"])


def test_detection_takes_explicit_frames_a_video_id_and_a_class_filter(api: str) -> None:
    body = post(api, "/api/detect", {"video_id": "bus_pan", "frames": [3, 7], "classes": ["person"]}).json()
    assert [f["frame"] for f in body["frames"]] == [3, 7]
    assert {d["label"] for f in body["frames"] for d in f["detections"]} == {"person"}
    nothing = post(api, "/api/detect", {"video_id": "bus_pan", "frames": [3], "classes": ["giraffe"]}).json()
    assert nothing["frames"] == []


def test_tracking_keeps_an_id_across_frames_while_the_person_moves(api: str) -> None:
    body = post(api, "/api/track", {"video_path": TEST_VIDEO, "confidence": 0.3}).json()
    tracks = body["tracks"]
    assert tracks, pretty(body)
    ids = [t["track_id"] for t in tracks]
    assert len(ids) == len(set(ids))
    longest = max(tracks, key=lambda t: len(t["frames"]))
    # Followed through (nearly) the whole 30-frame clip under one id...
    assert len(longest["frames"]) >= 25, pretty(longest)
    assert longest["label"] == "person"
    frames = [f["frame"] for f in longest["frames"]]
    assert frames == sorted(frames)
    for f in longest["frames"]:
        assert_box_inside_frame({k: f[k] for k in BOX_KEYS})
    # ...while it really moved: the pan and zoom shift its box.
    first, last = longest["frames"][0], longest["frames"][-1]
    assert abs(first["x"] - last["x"]) + abs(first["width"] - last["width"]) > 0.05, pretty(longest)


def test_summarize_returns_a_structured_summary_text_key_frames_and_a_384_dim_embedding(api: str) -> None:
    body = post(api, "/api/summarize", {"video_path": TEST_VIDEO}).json()
    assert set(body) == {"summary", "text", "key_frames", "embedding"}
    assert len(body["embedding"]) == 384
    norm = sum(x * x for x in body["embedding"]) ** 0.5
    assert norm == pytest.approx(1.0, abs=1e-3)
    people = {o["label"]: o for o in body["summary"]["objects"]}["person"]
    assert people["count"] >= 2 and people["max_simultaneous"] >= 2
    assert 0.0 <= people["first_seen_s"] <= people["last_seen_s"] <= 3.0
    assert "people" in body["text"]
    assert body["key_frames"] and all(set(k) == {"frame", "time_s"} for k in body["key_frames"])
    # No endpoint in this service's models.yaml: the template wrote the text, and says so.
    built = body["summary"]["built_from"]
    assert built["text"] == "template" and "text_fallback" not in built and built["detector"] == body["summary"]["model"]


def test_augment_suggests_new_types_without_duplicating_the_ontology(api: str) -> None:
    ontology = {"entityTypes": [{"name": "Person", "description": "A human"}],
                "eventTypes": [{"name": "Walking", "description": "A person walks"}],
                "roleTypes": [], "relationTypes": []}
    persona = {"name": "Safety officer", "role": "monitors care homes", "informationNeed": "falls and who helps"}
    body = post(api, "/api/augment", {"persona": persona, "ontology": ontology,
                                      "params": {"detections": {"person": 4, "fallen-person": 1}}}).json()
    suggestions = body["suggestions"]
    assert suggestions
    names = [(s["category"], s["name"].lower()) for s in suggestions]
    assert len(names) == len(set(names))
    assert ("entityTypes", "person") not in names
    assert ("eventTypes", "fall") in names
    for s in suggestions:
        assert s["category"] in ("entityTypes", "eventTypes", "roleTypes", "relationTypes")
        assert 0.0 < s["confidence"] <= 1.0 and s["reason"] and s["description"]


@pytest.mark.parametrize(("video_path", "status"), [
    ("../etc/passwd", 400),
    ("sub/../../etc/passwd", 400),
    ("/etc/passwd", 403),
    ("escape.mp4", 403),      # a symlink inside the root that resolves outside it
    ("missing.mp4", 404),
])
def test_paths_outside_the_video_root_are_refused(api: str, video_path: str, status: int) -> None:
    response = post(api, "/api/detect", {"video_path": video_path, "frames": [0]})
    assert response.status_code == status, response.text


def test_video_ids_cannot_smuggle_paths(api: str) -> None:
    assert post(api, "/api/detect", {"video_id": "../etc/passwd"}).status_code == 400
    assert post(api, "/api/detect", {"video_id": "nope"}).status_code == 404
