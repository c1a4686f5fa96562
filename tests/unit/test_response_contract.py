"""The contract check the backend tests are served through (tests/response_contract.py) catches a raw JSON
body that its route's response_model refuses, and passes one that fits — on a small app, no engine."""

from __future__ import annotations

from fastapi import FastAPI, Response
from pydantic import BaseModel
from starlette.testclient import TestClient

from tests.response_contract import ContractCheck, Violations


class Item(BaseModel):
    id: int
    name: str


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/broken", response_model=list[Item])
    def broken() -> Response:  # as the SQL-rendered routes do: FastAPI does not validate a raw Response
        return Response(b'[{"id": 1, "name": "a"}, {"id": "two"}]', media_type="application/json")

    @app.get("/items/{item_id}", response_model=Item)
    def one(item_id: int) -> Response:
        return Response(f'{{"id": {item_id}, "name": "n"}}'.encode(), media_type="application/json")

    @app.get("/items/missing/{item_id}", response_model=Item, responses={404: {}})
    def missing(item_id: int) -> Response:  # an error answer is not held to the success model
        return Response(b'{"detail": "no such item"}', status_code=404, media_type="application/json")

    return app


def test_a_body_the_model_refuses_is_recorded_with_its_route_and_field() -> None:
    violations = Violations()
    with TestClient(ContractCheck(_app(), violations)) as client:
        assert client.get("/items/broken").status_code == 200  # the client still gets exactly what was sent
    [violation] = violations.drain()
    assert (violation.method, violation.route, violation.status) == ("GET", "/items/broken", 200)
    assert "1.name" in violation.problem and "Field required" in violation.problem
    assert violations.drain() == []


def test_fitting_bodies_and_error_answers_record_nothing() -> None:
    violations = Violations()
    with TestClient(ContractCheck(_app(), violations)) as client:
        assert client.get("/items/7").json() == {"id": 7, "name": "n"}
        assert client.get("/items/missing/7").status_code == 404
    assert violations.drain() == []


def test_a_gzip_body_is_checked_as_the_client_reads_it() -> None:
    import gzip

    app = FastAPI()

    @app.get("/zipped", response_model=Item)
    def zipped() -> Response:
        return Response(gzip.compress(b'{"id": "x"}'), media_type="application/json", headers={"Content-Encoding": "gzip"})

    violations = Violations()
    with TestClient(ContractCheck(app, violations)) as client:
        client.get("/zipped")
    [violation] = violations.drain()
    assert "id" in violation.problem and "name" in violation.problem


class Box(BaseModel):
    items: list[Item]


def test_a_key_the_model_does_not_declare_is_a_violation_even_nested() -> None:
    app = FastAPI()

    @app.get("/box", response_model=Box)
    def box() -> Response:  # pydantic alone would drop "colour" silently; the OpenAPI document does not name it
        return Response(b'{"items": [{"id": 1, "name": "a"}, {"id": 2, "name": "b", "colour": "red"}]}',
                        media_type="application/json")

    violations = Violations()
    with TestClient(ContractCheck(app, violations)) as client:
        client.get("/box")
    [violation] = violations.drain()
    assert violation.problem == ".items[1].colour: not a field of Item"
