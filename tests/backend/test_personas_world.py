"""Personas, ontologies and the shared world state: happy paths, 404s, 422s naming the field."""

from __future__ import annotations

import httpx
import pytest
from fovea_backend.seed import AUTOMATED_PERSONA_ID

MISSING = "00000000-0000-4000-8000-0000000000ff"


def test_seeded_automated_persona_has_a_small_ontology(client: httpx.Client) -> None:
    personas = client.get("/api/personas").json()
    automated = next(p for p in personas if p["id"] == str(AUTOMATED_PERSONA_ID))
    assert automated["name"] == "Automated"
    ontology = client.get(f"/api/personas/{AUTOMATED_PERSONA_ID}/ontology").json()
    assert {t["id"] for t in ontology["entityTypes"]} >= {"person", "vehicle"}
    assert ontology["eventTypes"] and ontology["roleTypes"] and ontology["relationTypes"]


def test_persona_crud_and_ontology(client: httpx.Client) -> None:
    created = client.post("/api/personas", json={"name": "Analyst", "role": "safety", "informationNeed": "falls"})
    assert created.status_code == 201
    persona = created.json()
    assert persona["informationNeed"] == "falls" and persona["hidden"] is False
    pid = persona["id"]
    assert client.get(f"/api/personas/{pid}").json() == persona
    assert client.get(f"/api/personas/{pid}/ontology").json()["entityTypes"] == []
    updated = client.put(f"/api/personas/{pid}", json={"name": "Analyst 2", "hidden": True}).json()
    assert updated["name"] == "Analyst 2" and updated["hidden"] is True and updated["role"] == ""
    ontology = {"entityTypes": [{"id": "dog", "name": "Dog"}], "eventTypes": [], "roleTypes": [], "relationTypes": []}
    put = client.put(f"/api/personas/{pid}/ontology", json=ontology)
    assert put.status_code == 200 and put.json()["entityTypes"] == [{"id": "dog", "name": "Dog"}]
    assert client.delete(f"/api/personas/{pid}").status_code == 204
    assert client.get(f"/api/personas/{pid}").status_code == 404
    assert client.get(f"/api/personas/{pid}/ontology").status_code == 404


def test_a_persona_without_an_ontology_row_has_the_empty_ontology(client: httpx.Client, settings) -> None:  # type: ignore[no-untyped-def]
    """An import may bring a persona without its ontology line: every page that lists personas reads theirs."""
    import psycopg

    pid = client.post("/api/personas", json={"name": "Imported"}).json()["id"]
    with psycopg.connect(**settings.db_kwargs()) as conn:
        conn.execute("DELETE FROM ontologies WHERE persona_id = %s", (pid,))
    response = client.get(f"/api/personas/{pid}/ontology")
    assert response.status_code == 200, response.text
    assert {k: response.json()[k] for k in ("personaId", "entityTypes", "eventTypes", "roleTypes", "relationTypes")} == {
        "personaId": pid, "entityTypes": [], "eventTypes": [], "roleTypes": [], "relationTypes": []}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", f"/api/personas/{MISSING}"), ("PUT", f"/api/personas/{MISSING}"), ("DELETE", f"/api/personas/{MISSING}"),
     ("GET", f"/api/personas/{MISSING}/ontology"), ("PUT", f"/api/personas/{MISSING}/ontology")],
)
def test_unknown_persona_is_404(client: httpx.Client, method: str, path: str) -> None:
    response = client.request(method, path, json={"name": "x"})
    assert response.status_code == 404
    assert "persona" in response.json()["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "name"), ({"name": ""}, "name"), ({"name": "x" * 201}, "name"), ({"name": "ok", "hidden": "maybe"}, "hidden"),
     ({"name": "ok", "informationNeed": 5}, "informationNeed")],
)
def test_invalid_persona_is_422_naming_the_field(client: httpx.Client, body: dict[str, object], field: str) -> None:
    response = client.post("/api/personas", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == field
    assert field in response.json()["message"]


def test_malformed_ids_and_json_are_4xx(client: httpx.Client) -> None:
    assert client.get("/api/personas/not-a-uuid").status_code == 422
    response = client.post("/api/personas", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_ontology_rejects_nul_and_non_finite_values_by_path(client: httpx.Client) -> None:
    pid = str(AUTOMATED_PERSONA_ID)
    response = client.put(f"/api/personas/{pid}/ontology", json={"eventTypes": [{"name": "a\u0000b"}]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "eventTypes", 0, "name"]
    nan = client.put(f"/api/personas/{pid}/ontology", content=b'{"roleTypes": [{"w": NaN}]}',
                     headers={"content-type": "application/json"})
    assert nan.status_code == 422 and nan.json()["detail"][0]["loc"] == ["body", "roleTypes", 0, "w"]
    assert client.put(f"/api/personas/{pid}/ontology", json={"entityTypes": "nope"}).json()["detail"][0]["loc"][-1] == "entityTypes"


def test_world_state_round_trips(client: httpx.Client) -> None:
    world = client.get("/api/world").json()
    assert set(world) == {"entities", "events", "times", "locations", "collections", "relations", "updatedAt"}
    body = {"entities": [{"id": "e1", "name": "bus"}], "locations": [{"id": "l1", "lat": 52.1, "lon": 4.3}]}
    put = client.put("/api/world", json=body).json()
    assert put["entities"] == body["entities"] and put["locations"] == body["locations"] and put["events"] == []
    assert client.get("/api/world").json() == put
    bad = client.put("/api/world", json={"relations": [1, 2]})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][:2] == ["body", "relations"]
