"""One error shape for every 4xx/5xx: `{"detail": [{"loc": [...], "msg": ...}], "message": "field: why"}`.

FastAPI's own validation errors already carry `loc`; domain errors (unknown persona, box outside the
frame) use the same shape so clients parse one format, and `message` gives people the short version.
Database errors that mean "bad input" (a value PostgreSQL cannot store) become 422 instead of 500.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("fovea_backend")


class ApiError(Exception):
    """An error a client caused or must know about; `field` names the offending input, if any."""

    def __init__(self, status: int, message: str, field: Sequence[str | int] = (), extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = tuple(field)
        self.extra = extra or {}  # more top-level keys of the body, e.g. the current revision of a 409
        self.headers = headers or {}  # e.g. Retry-After of a 429


def not_found(what: str, ident: object, field: Sequence[str | int] = ()) -> ApiError:
    return ApiError(404, f"{what} {ident} not found", field)


def invalid(field: Sequence[str | int], message: str) -> ApiError:
    return ApiError(422, message, field)


def _body(status: int, detail: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> JSONResponse:
    first = detail[0] if detail else {"loc": [], "msg": "error"}
    where = ".".join(str(part) for part in first.get("loc", []))
    message = f"{where}: {first['msg']}" if where else str(first["msg"])
    return JSONResponse({**(extra or {}), "detail": detail, "message": message}, status_code=status)


def error_response(status: int, field: Sequence[str | int], message: str) -> JSONResponse:
    """The one error shape, for code that answers before (or outside) FastAPI's handlers: middleware."""
    return _body(status, [{"loc": list(field), "msg": message}])


def _jsonable_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    # Pydantic puts the offending input (and sometimes the exception object) in each error; echoing
    # inputs could reflect passwords back, and exception objects are not JSON.
    return [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))} for e in errors]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        response = _body(exc.status, [{"loc": list(exc.field), "msg": exc.message}], exc.extra)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _body(422, _jsonable_errors(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = _body(exc.status_code, [{"loc": [], "msg": str(exc.detail)}])
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(psycopg.DataError)
    async def data_error(_: Request, exc: psycopg.DataError) -> JSONResponse:
        # e.g. a NUL character or an out-of-range number that got past validation: the client's input.
        return _body(422, [{"loc": ["body"], "msg": f"value cannot be stored: {exc.diag.message_primary or exc}"}])

    # Raised by the database's own guards (0063): writes to a video whose review is done (55000), or by an
    # annotator to a video assigned to others (42501). The trigger's message says which video and why.
    @app.exception_handler(psycopg.errors.ObjectNotInPrerequisiteState)
    async def accepted_work(_: Request, exc: psycopg.Error) -> JSONResponse:
        return _body(409, [{"loc": [], "msg": exc.diag.message_primary or str(exc)}])

    @app.exception_handler(psycopg.errors.InsufficientPrivilege)
    async def not_assigned(_: Request, exc: psycopg.Error) -> JSONResponse:
        return _body(403, [{"loc": [], "msg": exc.diag.message_primary or str(exc)}])

    @app.exception_handler(psycopg.OperationalError)
    async def db_down(_: Request, exc: psycopg.OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return _body(503, [{"loc": [], "msg": "database unavailable, retry later"}])

    @app.exception_handler(PoolTimeout)
    async def pool_timeout(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database pool exhausted or unreachable: %s", exc)
        return _body(503, [{"loc": [], "msg": "database unavailable, retry later"}])
