"""The typed views of the engine's answers (fovea_ctl.docker.views), on answers recorded from a real engine
(tests/unit/fixtures/engine, made by record.py there): a running healthy service, an exited one with its last
health, a bare container that was never started and one that exited 3 (neither has labels or a HEALTHCHECK),
a project's volumes and network, a tagged and a dangling image."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fovea_ctl.docker.labels import LABEL_CONFIG_HASH, LABEL_HASH_PARTS, LABEL_PROJECT, LABEL_SERVICE
from fovea_ctl.docker.views import (
    ContainerView,
    container_details,
    container_from_listing,
    image_from_listing,
    network_from_listing,
    parse_engine_time,
    volumes_from_listing,
)

RECORDED = Path(__file__).resolve().parent / "fixtures" / "engine"
PROJECT = "dockerlane"  # the project the answers were recorded from


def recorded(name: str) -> Any:
    return json.loads((RECORDED / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def listed() -> dict[str, ContainerView]:
    return {view.name: view for view in map(container_from_listing, recorded("containers"))}


def test_a_running_service_reads_back_from_its_labels(listed: dict[str, ContainerView]) -> None:
    postgres = listed[f"{PROJECT}-postgres"]
    labels = postgres.labels
    assert (postgres.service, postgres.role, postgres.state, postgres.running) == ("postgres", "service", "running", True)
    assert postgres.config_hash == labels[LABEL_CONFIG_HASH] and len(postgres.config_hash) >= 12
    assert postgres.hash_parts == json.loads(labels[LABEL_HASH_PARTS]) and "image" in postgres.hash_parts
    assert postgres.ports == {5432: 55007}  # published on 127.0.0.1 only: one entry, the host port an int
    assert postgres.image.startswith("fovea/postgres:") and postgres.image_id.startswith("sha256:")
    assert postgres.status_text.startswith("Up ") and postgres.status_text.endswith("(healthy)")
    assert labels[LABEL_PROJECT] == PROJECT


def test_an_exited_service_keeps_its_identity_but_no_ports(listed: dict[str, ContainerView]) -> None:
    redis = listed[f"{PROJECT}-redis"]
    assert (redis.service, redis.state, redis.running, redis.ports) == ("redis", "exited", False, {})
    assert redis.status_text.startswith("Exited (1)")


def test_a_container_without_fovea_labels_has_empty_identity(listed: dict[str, ContainerView]) -> None:
    """Not fovea's (no labels at all): no service, the default role, no hash, and no port (8080 is only exposed)."""
    for name, state in ((f"{PROJECT}-rec-created", "created"), (f"{PROJECT}-rec-exited", "exited")):
        bare = listed[name]
        assert (bare.service, bare.role, bare.config_hash, bare.hash_parts, bare.labels) == ("", "service", "", {}, {})
        assert (bare.state, bare.ports) == (state, {})
    assert LABEL_SERVICE not in listed[f"{PROJECT}-rec-created"].labels


def test_inspect_of_a_running_healthy_container() -> None:
    raw = recorded("inspect-postgres")
    details = container_details(raw)
    assert (details.state, details.exit_code, details.health, details.restart_count) == ("running", 0, "healthy", 0)
    assert details.started_at == parse_engine_time(raw["State"]["StartedAt"]) and details.started_at is not None
    assert details.finished_at is None  # the engine's zero time: it never stopped
    assert (details.oom_killed, details.error) == (False, "")


def test_inspect_of_an_exited_service_keeps_its_exit_code_and_last_health() -> None:
    details = container_details(recorded("inspect-redis"))
    assert (details.state, details.exit_code, details.health) == ("exited", 1, "unhealthy")
    assert details.started_at is not None and details.finished_at is not None
    assert details.finished_at >= details.started_at


def test_inspect_without_healthcheck_or_start() -> None:
    never_started = container_details(recorded("inspect-rec-created"))
    assert (never_started.state, never_started.health, never_started.started_at, never_started.finished_at) == (
        "created", None, None, None)
    failed = container_details(recorded("inspect-rec-exited"))
    assert (failed.state, failed.exit_code, failed.health) == ("exited", 3, None)
    assert failed.started_at is not None and failed.finished_at is not None


def test_volumes_and_network_of_a_project() -> None:
    volumes = {v.name: v for v in volumes_from_listing(recorded("volumes"))}
    assert set(volumes) == {f"{PROJECT}_postgres-data", f"{PROJECT}_redis-data"}
    data = volumes[f"{PROJECT}_postgres-data"]
    assert data.labels[LABEL_PROJECT] == PROJECT and data.mountpoint.endswith("/_data") and data.created_at
    [network] = [network_from_listing(n) for n in recorded("networks")]
    assert (network.name, network.labels[LABEL_PROJECT], len(network.id)) == (f"{PROJECT}-network", PROJECT, 64)
    assert volumes_from_listing({"Volumes": None, "Warnings": None}) == []  # the engine's answer when there is none


def test_images_tags_sizes_and_missing_labels() -> None:
    tagged, dangling = map(image_from_listing, recorded("images")["shared_size"])
    assert (tagged.tags, tagged.labels) == (["debian:trixie-slim"], {})  # "Labels": null
    assert dangling.tags == [] and dangling.labels  # "<none>:<none>" is no tag
    # This engine answered SharedSize -1 (not computed): the whole size is the honest upper bound.
    assert (tagged.unique_size, dangling.unique_size) == (tagged.size, dangling.size)
    [unshared] = map(image_from_listing, recorded("images")["without_shared_size"])
    assert unshared == tagged
    # Where the engine computes it, the shared layers are not what removing the image frees.
    counted = image_from_listing({**recorded("images")["shared_size"][0], "SharedSize": 1000})
    assert counted.unique_size == tagged.size - 1000


def test_views_compare_by_value_and_leave_labels_out_of_their_repr(listed: dict[str, ContainerView]) -> None:
    again = {view.name: view for view in map(container_from_listing, recorded("containers"))}
    assert again == listed
    postgres = listed[f"{PROJECT}-postgres"]
    assert ContainerView(**{**postgres.__dict__, "state": "exited"}) != postgres
    assert postgres != postgres.__dict__
    shown = repr(postgres)
    assert shown.startswith("ContainerView(id=") and "state='running'" in shown and LABEL_PROJECT not in shown


def test_views_import_nothing_status_would_pay_for() -> None:
    """`fovea status` imports this module first: no dataclasses, datetime or typing (each costs more than it)."""
    code = ("import sys, fovea_ctl.docker.views; "
            "print(sorted(m for m in ('dataclasses', 'datetime', 'typing', 'inspect') if m in sys.modules))")
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert imported.strip() == "[]"
