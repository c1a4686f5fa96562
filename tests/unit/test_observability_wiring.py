"""Observability wiring without an engine: each image source's collector, Prometheus and Grafana settings agree,
and every dashboard uses the provisioned datasource. The live metrics path is in tests/test_observability.py."""

from __future__ import annotations

import json

import yaml

from fovea_ctl.core.context import load_stack
from fovea_ctl.settings.effective import Settings
from tests.conftest import ROOT

DASHBOARDS = sorted((ROOT / "configs" / "grafana" / "dashboards").glob("*.json"))


# -- wiring (no engine) ----------------------------------------------------------------------------
def test_offline_stack_skips_grafana_and_points_the_backend_at_vmagent() -> None:
    stack = load_stack(Settings(root=ROOT, project="wiring", image_source="build"))
    assert [s.name for s in stack.skipped] == ["grafana"]
    assert "registry mode only" in (stack.skipped[0].unavailable_reason or "")
    assert stack.units["backend"].env["BACKEND_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    collector = stack.units["otel-collector"]
    assert collector.image.recipe is not None and collector.probe.path == "/health"  # type: ignore[union-attr]
    assert "vmagent" in (ROOT / collector.image.recipe.context / "Dockerfile").read_text()


def test_registry_stack_wires_collector_contrib_grafana_and_the_scrape_job() -> None:
    stack = load_stack(Settings(root=ROOT, project="wiring", image_source="registry"))
    assert not stack.skipped and "grafana" in stack.units
    sources = {s.name: [c.source for c in s.configs] for s in stack.services}
    assert sources["otel-collector"] == ["configs/otel-collector.yaml"]
    assert sources["prometheus"] == ["configs/prometheus-registry.yml"]
    for source in sources["grafana"]:
        assert (ROOT / source).exists(), source
    collector = yaml.safe_load((ROOT / "configs" / "otel-collector.yaml").read_text())
    http = collector["receivers"]["otlp"]["protocols"]["http"]
    assert http["metrics_url_path"] == "/opentelemetry/v1/metrics"  # same backend setting as offline
    assert "namespace" not in collector["exporters"]["prometheus"]  # names already start with fovea_
    pipelines = collector["service"]["pipelines"]
    assert pipelines["metrics"]["processors"] == ["memory_limiter", "batch"]
    assert pipelines["traces"]["exporters"] == ["debug"]
    scrape = yaml.safe_load((ROOT / "configs" / "prometheus-registry.yml").read_text())
    targets = [t for job in scrape["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    assert "otel-collector:" + collector["exporters"]["prometheus"]["endpoint"].rsplit(":", 1)[1] in targets


def test_dashboards_use_the_provisioned_datasource() -> None:
    datasource = yaml.safe_load((ROOT / "configs/grafana/provisioning/datasources/prometheus.yaml").read_text())
    uid = datasource["datasources"][0]["uid"]
    assert {p.stem for p in DASHBOARDS} == {"stack-overview", "api", "queues", "model-service"}
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            assert panel["datasource"]["uid"] == uid, (path.name, panel["title"])
