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
import threading
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
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
        try:
            adapter.validate_json(body)
        except ValidationError as error:
            self.violations.add(Violation(method, route.path, status, str(error)))
