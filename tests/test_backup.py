"""Backups against the real stack: round trip, damaged backups refused, Ctrl-C, consistency, secrets, guarded down.

One project (postgres, redis, backend) serves the module; the destructive round trip runs last and
leaves the stack restored.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from fovea_ctl.data.backup import MANIFEST, VERIFIED, sha256_file
from fovea_ctl.reconcile.project import Project
from tests.conftest import FOVEA, ROOT, ProjectFactory, RecordingReporter, engine_available, run_fovea

VIDEOS = {"street.mp4": 1_500_000, "harbour.mp4": 700_000, "night.webm": 300_000}


# -- the real stack ---------------------------------------------------------------------------------
class Live:
    def __init__(self, project: Project, env: dict[str, str], backups: Path) -> None:
        self.project = project
        self.env = env
        self.backups = backups
        self.url = f"http://127.0.0.1:{project.settings.port_base + 3001}"

    def fovea(self, *args: str, timeout: float = 300, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return run_fovea(list(args), {**self.env, **extra_env}, timeout=timeout)

    @contextmanager
    def client(self) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            password = self.project.secrets.value("admin_password")
            response = client.post("/api/auth/login", json={"username": "admin", "password": password})
            assert response.status_code == 200, response.text
            yield client

    def export(self) -> list[dict[str, object]]:
        with self.client() as client:
            response = client.get("/api/export", params={"format": "jsonl"})
        assert response.status_code == 200, response.text
        lines = [json.loads(line) for line in response.text.splitlines()]
        return [line for line in lines if line.get("type") != "header"]  # the header carries the export time

    def backend(self) -> str:
        container = self.project.observe().container("backend")
        assert container is not None and container.running
        return container.id

    def video_digests(self) -> dict[str, str]:
        code, out = self.project.engine.exec(
            self.backend(), ["sh", "-c", "cd /data/videos && find . -maxdepth 1 -type f ! -name '.*' -exec sha256sum {} +"])
        assert code == 0, out
        return {name: digest for digest, name in (line.split() for line in out.decode().splitlines())}

    def put_videos(self, files: dict[str, bytes]) -> None:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size, info.uid, info.gid, info.mode = len(data), 10001, 10001, 0o644
                tar.addfile(info, io.BytesIO(data))
        with self.project.writing():
            self.project.engine.put_archive(self.backend(), "/data/videos", buffer.getvalue())

    def backup(self, backup_class: str = "critical", *args: str, **extra_env: str) -> dict[str, object]:
        result = self.fovea("backup", backup_class, "--json", *args, **extra_env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def listed(self) -> list[str]:
        result = self.fovea("backup", "list", "--json")
        assert result.returncode == 0, result.stderr
        return [b["id"] for b in json.loads(result.stdout)]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    yield from live_stack(tmp_path_factory, "backup")


def live_stack(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Live]:
    """A seeded backend stack with its own backup folder, torn down with its volumes afterwards."""
    if not engine_available():
        if os.environ.get("CI"):
            pytest.fail("no Docker engine answers")
        pytest.skip("no Docker engine on this machine")
    factory = ProjectFactory(tmp_path_factory.mktemp(f"{name}-projects"))
    project = factory()
    backups = tmp_path_factory.mktemp(f"{name}-backups")
    try:
        _, result = project.up(RecordingReporter(), ["backend"])
        assert not result.failures, [f.describe() for f in result.failures]
        live = Live(project, {**factory.env(project), "FOVEA_BACKUP_DIR": str(backups)}, backups)
        _seed(live)
        yield live
    finally:
        factory.cleanup()


def _seed(live: Live) -> None:
    files: dict[str, bytes] = {}
    for name, size in VIDEOS.items():
        files[name] = os.urandom(size)
        stem = name.rsplit(".", 1)[0]
        files[f"{stem}.info.json"] = json.dumps({"duration": 10.0, "fps": 25, "width": 640, "height": 360}).encode()
    live.put_videos(files)
    with live.client() as client:
        assert client.post("/api/videos/sync").status_code == 200
        video = client.get("/api/videos").json()[0]["id"]
        for n in range(3):
            persona = client.post("/api/personas", json={"name": f"Analyst {n}", "role": "analyst",
                                                         "informationNeed": f"need {n} ✓"}).json()["id"]
            client.put(f"/api/personas/{persona}/ontology",
                       json={"eventTypes": [{"id": f"e{n}", "name": "Event", "weight": 0.5}]})
            response = client.post("/api/annotations", json={
                "videoId": video, "personaId": persona, "type": "entity", "label": f"bus {n}",
                "frames": [{"frame": 3 + n, "x": 10.5, "y": 20, "width": 30, "height": 40}]})
            assert response.status_code in (200, 201), response.text
        _seed_annotation_model(client, video)


def _seed_annotation_model(client: httpx.Client, video: str) -> None:
    """The annotation model's tables: a world entity typed by a persona, a track linked to it with fixed and held
    attributes (locked), an event with the track in a role, a relation from the track to the entity."""
    persona = client.post("/api/personas", json={"name": "Witness"}).json()["id"]
    response = client.put(f"/api/personas/{persona}/ontology", json={
        "entityTypes": [{"id": "person", "name": "Person", "attributes": [
            {"name": "coat", "type": "text"}, {"name": "running", "type": "checkbox", "mutable": True}]}],
        "eventTypes": [{"id": "theft", "name": "Theft", "roles": [{"roleTypeId": "thief"}]}],
        "roleTypes": [{"id": "thief", "name": "Thief", "allowedFillerTypes": ["person"]}],
        "relationTypes": [{"id": "is", "name": "is", "sourceTypes": ["person"], "targetTypes": ["entity"]}]})
    assert response.status_code == 200, response.text
    response = client.post("/api/world/entities", json={"id": "entity-ann", "name": "Ann", "typeAssignments": [
        {"personaId": persona, "entityTypeId": "person"}]})
    assert response.status_code == 201, response.text
    track, event, relation = (str(uuid.uuid4()) for _ in range(3))
    revision = client.get(f"/api/videos/{video}").json()["annotationRevision"]
    response = client.put(f"/api/videos/{video}/annotations", headers={"If-Match": f'"{revision}"'}, json={"changes": [
        {"op": "create", "id": track, "track": {
            "personaId": persona, "type": "person", "label": "Ann", "entityId": "entity-ann", "attributes": {"coat": "red"},
            "locked": True, "frames": [{"frame": 0, "x": 1, "y": 2, "width": 30, "height": 60, "attributes": {"running": False}},
                                       {"frame": 40, "x": 90, "y": 2, "width": 30, "height": 60, "attributes": {"running": True}}]}},
        {"op": "create", "kind": "event", "id": event, "event": {
            "personaId": persona, "type": "theft", "label": "bag taken", "startFrame": 10, "endFrame": 30,
            "roles": {"thief": [{"kind": "track", "id": track}]}, "attributes": {}}},
        {"op": "create", "kind": "relation", "id": relation, "relation": {
            "personaId": persona, "type": "is", "source": {"kind": "track", "id": track},
            "target": {"kind": "entity", "id": "entity-ann"}}}]})
    assert response.status_code == 200 and response.json()["rejected"] == [], response.text


def test_no_secret_value_appears_in_any_artifact_or_the_manifest(live: Live, tmp_path: Path) -> None:
    import pyrage
    import zstandard

    identity = pyrage.x25519.Identity.generate()
    identity_file = tmp_path / "backup.key"
    identity_file.write_text(str(identity) + "\n")
    summary = live.backup("important", "--verify", FOVEA_BACKUP_AGE_RECIPIENT=str(identity.to_public()),
                          FOVEA_BACKUP_AGE_IDENTITY=str(identity_file))
    folder = Path(str(summary["path"]))
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["schema_version"] == 1 and manifest["backup_class"] == "important"
    assert manifest["postgres_version"].startswith("17") and manifest["engine_version"] and manifest["stack_hash"]
    items = {i["name"]: i for i in manifest["items"]}
    assert items["prometheus-data"]["skipped"] and items["redis-data"]["artifact"] == "redis-data.rdb.age"
    assert items["secrets"]["artifact"] == "secrets.tar.age"
    for item in manifest["items"]:
        if item["artifact"]:  # with a recipient every artifact is stored encrypted, its checksum over those bytes
            stored = (folder / item["artifact"]).read_bytes()
            assert item["artifact"].endswith(".age") and stored.startswith(b"age-encryption.org/v1\n")
            assert item["sha256"] == sha256_file(folder / item["artifact"]) and item["duration_s"] >= 0

    names = list(live.project.secrets.declared)  # every secret of the stack, the Redis password too
    assert {"postgres_password", "admin_password", "session_secret", "redis_password"} <= set(names)
    values = [live.project.secrets.value(name).encode() for name in names]
    # Every artifact as plain bytes: the dump as SQL, the tar decompressed, the rest as stored.
    plain = {"manifest.json": (folder / MANIFEST).read_bytes(), "verified.json": (folder / VERIFIED).read_bytes()}
    for path in folder.iterdir():
        data, name = path.read_bytes(), path.name
        if name.endswith(".age") and name != "secrets.tar.age":  # the secrets stay as stored: they are the point
            data, name = pyrage.decrypt(data, [identity]), name.removesuffix(".age")
        if name.endswith(".zst"):
            data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
        plain[name] = data
    code, sql = live.project.engine.exec_stream(  # the dump rendered as SQL by pg_restore
        live.project.observe().container("postgres").id, ["pg_restore", "-f", "-"],  # type: ignore[union-attr]
        user="postgres", stdin=iter([plain["postgres-data.pgdump"]])).drain()
    assert code == 0 and b"CREATE TABLE" in sql
    plain["postgres-data.sql"] = sql
    for name, data in plain.items():
        for value in values:
            assert value not in data, f"a secret value appears in plain text in {name}"
    # ...yet the secrets are in the backup, for the holder of the key.
    decrypted = pyrage.decrypt((folder / "secrets.tar.age").read_bytes(), [identity])
    with tarfile.open(fileobj=io.BytesIO(decrypted)) as tar:
        assert tar.extractfile("secrets/admin_password").read().strip() == values[names.index("admin_password")]  # type: ignore[union-attr]
    assert summary["verified"]["ok"] and "decrypted ok" in summary["verified"]["checks"]["secrets"]


def test_one_flipped_byte_makes_verify_and_restore_refuse_and_live_data_stays(live: Live) -> None:
    summary = live.backup("critical")
    folder = Path(str(summary["path"]))
    export_before, videos_before = live.export(), live.video_digests()
    backend_before = live.backend()
    artifact = folder / "video-data.tar.zst"
    with artifact.open("r+b") as handle:
        handle.seek(artifact.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0x01]))

    verify = live.fovea("backup", "verify", folder.name)
    restore = live.fovea("restore", folder.name)

    assert verify.returncode == 8 and "video-data: sha256" in verify.stderr
    assert restore.returncode == 8 and "nothing was touched" in restore.stderr
    assert live.backend() == backend_before  # never stopped
    assert live.export() == export_before and live.video_digests() == videos_before
    assert folder.name in live.listed()  # listed, but marked failed
    assert json.loads((folder / VERIFIED).read_text())["ok"] is False


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_mid_backup_leaves_nothing_in_list_and_no_helper(live: Live, signum: signal.Signals) -> None:
    code, out = live.project.engine.exec(live.backend(), ["sh", "-c", "head -c 600000000 /dev/urandom > /data/videos/.big"],
                                         user="0")
    assert code == 0, out
    listed_before = live.listed()
    try:
        process = subprocess.Popen([*FOVEA, "backup", "critical"], env=live.env, cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not any(live.backups.glob(".partial-*/video-data.tar.zst")):
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.02)
        time.sleep(0.3)
        process.send_signal(signum)  # Ctrl-C, or the SIGTERM a service manager sends: the same clean stop
        _, stderr = process.communicate(timeout=60)
    finally:
        live.project.engine.exec(live.backend(), ["rm", "-f", "/data/videos/.big"], user="0")

    assert process.returncode == 130, stderr
    assert live.listed() == listed_before
    assert not list(live.backups.glob(".partial-*"))
    helpers = live.project.engine.api.containers(all=True, filters={"label": f"io.fovea.helper-of={live.project.settings.project}"})
    assert helpers == []


def test_a_backup_taken_while_a_client_writes_restores_to_a_consistent_state(live: Live) -> None:
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        with live.client() as client:
            n = 0
            while not stop.is_set():
                response = client.post("/api/personas", json={"name": f"w{n:05d}", "informationNeed": "write"})
                assert response.status_code in (200, 201), response.text
                written.append(n)
                n += 1

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        while len(written) < 20:
            time.sleep(0.05)
        at_start = len(written)
        summary = live.backup("critical", "--verify")
        while len(written) < at_start + 40:  # keep writing after the backup too
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=30)

    restored = live.fovea("restore", str(summary["path"]), "--only", "postgres-data")
    assert restored.returncode == 0, restored.stderr
    with live.client() as client:
        names = sorted(p["name"] for p in client.get("/api/personas").json() if p["name"].startswith("w"))
    # A snapshot: every write up to some point, none after it, no gaps.
    assert names == [f"w{n:05d}" for n in range(len(names))]
    assert at_start <= len(names) < len(written)


TEAM_PASSWORD = "Team-pass-24680"


def _users(live: Live, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_fovea(["users", *args], live.env, stdin=stdin)


@contextmanager
def _login(live: Live, username: str, password: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        response = client.post("/api/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, (username, response.text)
        yield client


def _login_status(live: Live, username: str, password: str) -> int:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        return client.post("/api/auth/login", json={"username": username, "password": password}).status_code


def test_fovea_users_verbs_manage_accounts_through_the_backend(live: Live) -> None:
    """`fovea users` runs the backend's own account module in its container; passwords only ever on stdin. Leaves a
    team behind (an annotator's reviewed work) for the round trip below to bring back."""
    added = _users(live, "add", "ann", "--role", "annotator")
    assert added.returncode == 0, added.stderr
    one_time = json.loads(added.stdout)["oneTimePassword"]
    assert json.loads(added.stdout)["user"]["mustChangePassword"] is True
    with _login(live, "ann", one_time) as ann:
        assert ann.put("/api/auth/password", json={"currentPassword": one_time, "newPassword": TEAM_PASSWORD}).status_code == 200
    piped = _users(live, "add", "rita", "--role", "reviewer", "--password-stdin", stdin=TEAM_PASSWORD + "\n")
    assert piped.returncode == 0 and json.loads(piped.stdout)["oneTimePassword"] is None, piped.stderr
    assert TEAM_PASSWORD not in piped.stdout + piped.stderr
    assert _login_status(live, "rita", TEAM_PASSWORD) == 200

    for args, stdin, says in ((("add", "rita", "--role", "viewer"), None, "already exists"),
                              (("add", "weak", "--role", "viewer", "--password-stdin"), "short\n", "too short"),
                              (("add", "Bad Name", "--role", "viewer"), None, "username"),
                              (("add", "who", "--role", "owner"), None, "owner"),
                              (("disable", "nobody"), None, "not found"),
                              (("role", "ann", "king"), None, "king")):
        refused = _users(live, *args, stdin=stdin)
        assert refused.returncode == 2 and says in refused.stderr, (args, refused.stdout, refused.stderr)
    listed = {u["username"]: u for u in json.loads(_users(live, "list").stdout)}
    assert {name: u["role"] for name, u in listed.items()} == {"admin": "admin", "ann": "annotator", "rita": "reviewer"}

    assert _users(live, "disable", "ann").returncode == 0
    assert _login_status(live, "ann", TEAM_PASSWORD) == 403
    assert _users(live, "enable", "ann").returncode == 0
    assert json.loads(_users(live, "role", "ann", "viewer").stdout)["role"] == "viewer"
    assert json.loads(_users(live, "role", "ann", "annotator").stdout)["role"] == "annotator"
    reset = _users(live, "reset-password", "rita")
    assert reset.returncode == 0 and _login_status(live, "rita", TEAM_PASSWORD) == 401
    with _login(live, "rita", json.loads(reset.stdout)["oneTimePassword"]) as rita:
        assert rita.put("/api/auth/password", json={"currentPassword": json.loads(reset.stdout)["oneTimePassword"],
                                                    "newPassword": TEAM_PASSWORD}).status_code == 200

    # Work to keep: ann's track on an assigned video, submitted, in review with an open issue from rita.
    with live.client() as admin, _login(live, "ann", TEAM_PASSWORD) as ann, _login(live, "rita", TEAM_PASSWORD) as rita:
        video = admin.get("/api/videos").json()[-1]["id"]
        assignment = admin.post("/api/assignments", json={"videoId": video, "assignee": "ann"}).json()["id"]
        revision = ann.get(f"/api/videos/{video}").json()["annotationRevision"]
        track = str(uuid.uuid4())
        saved = ann.put(f"/api/videos/{video}/annotations", headers={"If-Match": f'"{revision}"'}, json={"changes": [
            {"op": "create", "id": track, "track": {"type": "entity", "label": "ann's", "source": "manual",
                                                    "frames": [{"frame": 5, "x": 1, "y": 1, "width": 9, "height": 9}]}}]})
        assert saved.status_code == 200, saved.text
        assert ann.put(f"/api/assignments/{assignment}/state", json={"state": "submitted"}).status_code == 200
        assert rita.put(f"/api/assignments/{assignment}/state", json={"state": "in_review"}).status_code == 200
        issue = rita.post(f"/api/assignments/{assignment}/issues", json={"frame": 5, "trackId": track, "message": "too small"})
        assert issue.status_code == 201, issue.text


def _team(live: Live) -> dict[str, object]:
    """What a restore must keep of the team: accounts, assignments and their review issues, tracks' history."""
    with live.client() as client:
        assignments = client.get("/api/assignments").json()
        return {
            "users": sorted((u["username"], u["role"], u["disabled"]) for u in json.loads(_users(live, "list").stdout)),
            "assignments": [(a["video"], a["assignee"], a["state"], a["reviewer"], a["openIssues"]) for a in assignments],
            "issues": [(i["frame"], i["trackId"], i["message"], i["author"]) for a in assignments
                       for i in client.get(f"/api/assignments/{a['id']}/issues").json()],
            "history": {line["data"]["id"]: [(h["version"], h["op"], h["actor"]) for h in
                                             client.get(f"/api/annotations/{line['data']['id']}/history").json()]
                        for line in live.export() if line["type"] == "annotation"},
        }


def test_round_trip_backup_destroy_restore_gives_identical_export_and_videos(live: Live) -> None:
    export_before, videos_before, team_before = live.export(), live.video_digests(), _team(live)
    assert len(videos_before) == 2 * len(VIDEOS)
    # The annotation model is in what must come back: entity links, attributes, locks, events, relations, the world.
    kinds = {line["type"] for line in export_before}
    assert {"event", "relation", "world"} <= kinds
    linked = [line["data"] for line in export_before if line["type"] == "annotation" and line["data"]["entityId"]]
    assert [(t["entityId"], t["attributes"], t["locked"], t["frames"][1]["attributes"]) for t in linked] == [
        ("entity-ann", {"coat": "red"}, True, {"running": True})]

    # Without a backup that holds the latest writes, `down --volumes` keeps the critical volumes.
    live.put_videos({"late.mp4": os.urandom(1000)})
    guarded = live.fovea("down", "--volumes")
    assert guarded.returncode == 0, guarded.stderr
    kept = {v.name for v in live.project.engine.list_volumes(live.project.settings.project)}
    assert {live.project.settings.volume_name("postgres-data"), live.project.settings.volume_name("video-data")} <= kept
    assert "no verified backup holds its latest writes" in guarded.stderr

    up = live.fovea("up", "backend")
    assert up.returncode == 0, up.stderr
    live.project.engine.exec(live.backend(), ["rm", "/data/videos/late.mp4"], user="0")
    videos_before = live.video_digests()
    summary = live.backup("critical", "--verify")
    assert summary["verified"]["ok"]
    # A local engine: the volume's tar came through a FIFO in the bind-mounted backup folder, which is gone.
    video = next(i for i in summary["manifest"]["items"] if i["name"] == "video-data")  # type: ignore[index]
    if live.project.engine.is_local_socket():
        assert video["details"]["transfer"].startswith("tar into a FIFO")
    assert not list(live.backups.glob("*/.fifo-*"))

    # With one, it removes them, naming the backup that holds them.
    down = live.fovea("down", "--volumes")
    assert down.returncode == 0, down.stderr
    assert live.project.engine.list_volumes(live.project.settings.project) == []
    assert f"verified backup {summary['manifest']['id']}" in down.stderr

    up = live.fovea("up", "backend")
    assert up.returncode == 0, up.stderr
    assert live.video_digests() == {}
    restored = live.fovea("restore", summary["manifest"]["id"], "--json")  # type: ignore[index]
    assert restored.returncode == 0, restored.stderr

    assert live.export() == export_before  # the tracks' authors included (createdBy, updatedBy)
    assert live.video_digests() == videos_before
    assert _team(live) == team_before  # accounts, assignments in review with their issues, every track's history
    # A local engine: the files came back through a FIFO the helper bind-mounted, which is gone again.
    if live.project.engine.is_local_socket():
        assert json.loads(restored.stdout)["transfers"]["video-data"].startswith("a FIFO")
    assert not list(live.project.settings.state_dir.glob(".fifo-*"))


def test_the_restore_fifo_names_a_failing_source_and_never_waits_on_a_reader_that_quit(live: Live,
                                                                                      tmp_path: Path) -> None:
    from fovea_ctl.data.backup import chunks_to_fifo, helper_with_fifo, image_for
    from fovea_ctl.errors import FoveaError

    def breaks_half_way() -> Iterator[bytes]:
        yield b"x" * 1000
        raise ValueError("the artifact changed under us")

    image = image_for(live.project, live.project.stack.units["backend"])
    with helper_with_fifo(live.project, image, {}, tmp_path) as (helper, fifo):
        assert fifo is not None  # a local engine shares the folder
        read_all = ["sh", "-c", 'test "$(wc -c < "$0")" = 3000000', fifo.inside]
        chunks_to_fifo(live.project, helper, read_all, fifo, iter([b"y" * 1_000_000] * 3))
        with pytest.raises(FoveaError, match="ValueError: the artifact changed under us"):
            chunks_to_fifo(live.project, helper, ["sh", "-c", 'cat "$0" >/dev/null', fifo.inside], fifo,
                           breaks_half_way())
        with pytest.raises(FoveaError, match="exited 3"):  # it never opened the FIFO: no writer waits forever
            chunks_to_fifo(live.project, helper, ["sh", "-c", "exit 3", fifo.inside], fifo,
                           iter([b"y" * 1_000_000] * 3))
    assert list(tmp_path.iterdir()) == []


def test_restore_streams_over_exec_when_the_engine_cannot_share_a_folder(live: Live,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The path a remote engine takes: the real engine, only told that it is not on this machine."""
    from fovea_ctl.data.backup import QuietProgress
    from fovea_ctl.docker.engine import Engine
    from fovea_ctl.data.restore import restore_backup

    summary = live.backup("critical")
    export_before, videos_before = live.export(), live.video_digests()
    live.put_videos({"after-the-backup.mp4": os.urandom(3000)})
    with live.client() as client:
        assert client.post("/api/personas", json={"name": "after the backup", "role": "analyst",
                                                  "informationNeed": "none"}).status_code in (200, 201)
    assert live.export() != export_before
    monkeypatch.setattr(Engine, "is_local_socket", lambda self: False)

    result = restore_backup(live.project, Path(str(summary["path"])), RecordingReporter(), QuietProgress())

    assert result.transfers == {"postgres-data": "pg_restore reading exec stdin", "video-data": "exec stdin"}
    assert live.video_digests() == videos_before
    assert live.export() == export_before
