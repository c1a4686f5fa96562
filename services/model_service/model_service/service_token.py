"""The service token: the model-service answers only requests that carry it, except GET /health.

The token is the stack's model_service_token secret, read once at start from the file named by
MODEL_SERVICE_TOKEN_FILE (never from an env value); clients present it as `Authorization: Bearer <token>`
(fovea's readiness probe does). /health stays open so a container's HEALTHCHECK and a look from the host
can see the service is up; detect, track, summarize, augment, /health/queues and the OpenAPI pages do
not answer without the token, whatever the Host or Origin. Without a token configured the service
refuses them all: it never answers anyone by default.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN_FILE_ENV = "MODEL_SERVICE_TOKEN_FILE"
OPEN_PATHS = frozenset({"/health"})


def configured_token() -> bytes | None:
    """The token from MODEL_SERVICE_TOKEN_FILE; None when the variable is unset. A named file that is
    missing or empty stops the start (a typo must not leave the API refusing everyone unnoticed)."""
    path = os.environ.get(TOKEN_FILE_ENV)
    if not path:
        return None
    token = Path(path).read_text(encoding="utf-8").strip()
    if not token:
        raise RuntimeError(f"{TOKEN_FILE_ENV}: {path} is empty")
    return token.encode()


class ServiceTokenMiddleware:
    """Pure ASGI: a request without the token gets 401 before any route (or FastAPI's docs) runs."""

    def __init__(self, app: ASGIApp, token: bytes | None = None) -> None:
        self.app = app
        self.expected = b"Bearer " + token if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        presented = next((value for name, value in scope["headers"] if name == b"authorization"), b"")
        if self.expected is not None and hmac.compare_digest(presented, self.expected):
            await self.app(scope, receive, send)
            return
        why = "this request needs the service token (Authorization: Bearer <model_service_token>)" \
            if self.expected is not None else f"no service token is configured ({TOKEN_FILE_ENV}): only /health answers"
        await JSONResponse({"detail": why}, status_code=401, headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
