"""The backend↔client contract, checked on every response the backend tests receive.

Many routes render their JSON in SQL (`json_build_object` …) and return it as a raw `Response` for speed, so
FastAPI never validates it against the route's `response_model`, and the frontend's types and the OpenAPI
document could drift from what the routes really send. `ContractCheck` wraps the app the tests serve: each
successful JSON answer of a route that declares a response model is validated against that model, and a
mismatch is recorded with the route and pydantic's account of it. `tests/backend/conftest.py` fails the test
during which one was recorded (an autouse fixture), so every backend test is also a contract test of the
routes it calls.
"""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send


@dataclass(frozen=True)
class Violation:
    method: str
    route: str
    status: int
    problem: str

    def __str__(self) -> str:
        return f"{self.method} {self.route} answered {self.status} with a body its response_model refuses:\n{self.problem}"


class Violations:
    """Shared by every served app of the session; the autouse fixture drains it after each test."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Violation] = []

    def add(self, violation: Violation) -> None:
        with self._lock:
            self._items.append(violation)

    def drain(self) -> list[Violation]:
        with self._lock:
            items, self._items = self._items, []
        return items


RECORDED = Violations()


def unknown_keys(value: Any, data: Any, where: str = "") -> list[str]:
    """Keys of the JSON `data` that the validated `value` (what pydantic made of it) has no field for, with their
    paths. The JSON is walked alongside the models it became, so unions and nested lists resolve to the model
    pydantic chose; free-form values (dict[str, Any], JsonObject) are not models and are not walked into."""
    if isinstance(value, BaseModel) and isinstance(data, dict):
        model = type(value)
        fields = {info.alias or name: name for name, info in model.model_fields.items()}
        found = [] if model.model_config.get("extra") == "allow" else [
            f"{where}.{key}: not a field of {model.__name__}" for key in data if key not in fields]
        for key, item in data.items():
            if key in fields:
                found += unknown_keys(getattr(value, fields[key]), item, f"{where}.{key}")
        return found
    if isinstance(value, (list, tuple)) and isinstance(data, list):
        return [problem for index, (one, raw) in enumerate(zip(value, data, strict=True))
                for problem in unknown_keys(one, raw, f"{where}[{index}]")]
    if isinstance(value, dict) and isinstance(data, dict):
        return [problem for key, raw in data.items() if key in value for problem in unknown_keys(value[key], raw, f"{where}.{key}")]
    return []


def contract_problem(adapter: TypeAdapter[Any], body: bytes) -> str | None:
    """What is wrong with a JSON body as an answer of the model behind `adapter` (None: nothing)."""
    try:
        value = adapter.validate_json(body)
    except ValidationError as error:
        return str(error)
    extra = unknown_keys(value, json.loads(body))
    return "\n".join(extra) if extra else None


class ContractCheck:
    """ASGI middleware around the FastAPI app (outermost, so it sees exactly the bytes a client gets)."""

    def __init__(self, app: FastAPI, violations: Violations = RECORDED) -> None:
        self.app = app
        self.violations = violations
        self._adapters: dict[int, TypeAdapter[Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._route_for(scope) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        status = 0
        is_json = False
        encoding = b""
        body = bytearray()

        async def recording_send(message: Message) -> None:
            nonlocal status, is_json, encoding
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = dict(message.get("headers", []))
                is_json = headers.get(b"content-type", b"").split(b";")[0].strip() == b"application/json"
                encoding = headers.get(b"content-encoding", b"").strip().lower()
            elif message["type"] == "http.response.body" and is_json and 200 <= status < 300:
                body.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, recording_send)
        if is_json and 200 <= status < 300 and body:
            if encoding == b"gzip":  # the annotations route sends its cached gzip body to clients that take it
                body = bytearray(gzip.decompress(body))
            elif encoding not in (b"", b"identity"):
                self.violations.add(Violation(scope["method"], route.path, status, f"unknown encoding {encoding!r}"))
                return
            self._check(scope["method"], route, status, bytes(body))

    def _route_for(self, scope: Scope) -> APIRoute | None:
        """The route Starlette will run (its first full match, in order), if it declares a response model."""
        for candidate in self.app.router.routes:
            match, _ = candidate.matches(scope)
            if match == Match.FULL:
                if isinstance(candidate, APIRoute) and candidate.response_model is not None:
                    return candidate
                return None
        return None

    def _check(self, method: str, route: APIRoute, status: int, body: bytes) -> None:
        adapter = self._adapters.get(id(route))
        if adapter is None:
            adapter = self._adapters[id(route)] = TypeAdapter(route.response_model)
        problem = contract_problem(adapter, body)
        if problem is not None:
            self.violations.add(Violation(method, route.path, status, problem))
